import assert from "node:assert/strict";
import { hasPvhEntry, pvhKernel } from "./kernel.ts";

/** A minimal 64-bit ELF with one PT_NOTE segment holding one note. */
function elfWithNote(name: string, type: number): Uint8Array<ArrayBuffer> {
  const nameBytes = new TextEncoder().encode(name);
  const noteSize = 12 + ((nameBytes.length + 3) & ~3) + 8;
  const elf = new Uint8Array(64 + 56 + noteSize);
  const view = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  view.setBigUint64(32, 64n, true); // e_phoff
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  view.setUint32(64, 4, true); // PT_NOTE
  view.setBigUint64(64 + 8, 120n, true); // p_offset
  view.setBigUint64(64 + 32, BigInt(noteSize), true); // p_filesz
  view.setUint32(120, nameBytes.length, true);
  view.setUint32(124, 8, true);
  view.setUint32(128, type, true);
  elf.set(nameBytes, 132);
  return elf;
}

Deno.test("hasPvhEntry finds Xen's PHYS32_ENTRY note and nothing else", () => {
  assert.equal(hasPvhEntry(elfWithNote("Xen\0", 18)), true);
  assert.equal(hasPvhEntry(elfWithNote("Xen\0", 5)), false);
  assert.equal(hasPvhEntry(elfWithNote("GNU\0", 18)), false);
  assert.equal(hasPvhEntry(new Uint8Array(100)), false);
  const elf32 = elfWithNote("Xen\0", 18);
  elf32[4] = 1;
  assert.equal(hasPvhEntry(elf32), false);
});

Deno.test("pvhKernel unpacks Debian's bzImage once and leaves other files alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vm_kernel_test_" });
  try {
    const notBzImage = `${dir}/vmlinuz-9.9-test-amd64`;
    await Deno.writeFile(notBzImage, new Uint8Array(4096));
    assert.equal(await pvhKernel(notBzImage), notBzImage);
    const other = `${dir}/my-kernel`;
    await Deno.writeFile(other, new Uint8Array(16));
    assert.equal(await pvhKernel(other), other);
    // The real kernel, when an earlier build fetched it.
    const cache = new URL("./.cache/kernel/", import.meta.url).pathname;
    const cached = [...Deno.readDirSync(cache)].map((e) => e.name)
      .find((name) => name.startsWith("vmlinuz-"));
    if (cached === undefined) return;
    await Deno.copyFile(`${cache}${cached}`, `${dir}/${cached}`);
    const elf = await pvhKernel(`${dir}/${cached}`);
    assert.equal(elf, `${dir}/vmlinux-${cached.slice("vmlinuz-".length)}`);
    assert.ok(hasPvhEntry(await Deno.readFile(elf)));
    const again = await Deno.stat(elf);
    assert.equal(await pvhKernel(`${dir}/${cached}`), elf);
    assert.equal(
      (await Deno.stat(elf)).mtime?.getTime(),
      again.mtime?.getTime(),
      "not unpacked again",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
