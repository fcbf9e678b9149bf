import assert from "node:assert/strict";
import { type CpioEntry, FIXED_MTIME, sortEntries, writeCpio } from "./cpio.ts";

function entries(dir: string): CpioEntry[] {
  return [
    { path: "bin/tool", kind: "file", mode: 0o755, source: `${dir}/tool` },
    { path: "dev/console", kind: "char", major: 5, minor: 1 },
    { path: "bin", kind: "dir" },
    { path: "dev", kind: "dir" },
    { path: "etc/motd", kind: "file", source: new TextEncoder().encode("hello\n") },
    { path: "etc", kind: "dir" },
    { path: "lib", kind: "symlink", target: "usr/lib" },
  ];
}

Deno.test("writeCpio output lists and extracts with GNU cpio, with modes, devices and links", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpio_test_" });
  try {
    await Deno.writeFile(`${dir}/tool`, new Uint8Array(5001).map((_, i) => i & 0xff));
    const archive = `${dir}/a.cpio`;
    const size = await writeCpio(archive, entries(dir));
    assert.equal(size, (await Deno.stat(archive)).size);
    assert.equal(size % 4, 0);
    const list = await new Deno.Command("cpio", { args: ["-tv", "-F", archive], stderr: "piped" })
      .output();
    const lines = new TextDecoder().decode(list.stdout).trim().split("\n");
    assert.deepEqual(lines.map((line) => line.split(" -> ")[0].split(/\s+/).pop()), [
      "bin",
      "bin/tool",
      "dev",
      "dev/console",
      "etc",
      "etc/motd",
      "lib",
    ]);
    assert.match(lines[1], /^-rwxr-xr-x .* 5001 /);
    assert.match(lines[3], /^crw------- .* 5,\s+1 /);
    assert.match(lines[6], /^lrwxrwxrwx .* lib -> usr\/lib$/);
    const out = `${dir}/out`;
    await Deno.mkdir(out);
    const extract = await new Deno.Command("cpio", {
      args: ["-idm", "--no-absolute-filenames", "-F", archive, "--nonmatching", "dev/console"],
      cwd: out,
      stderr: "piped",
    }).output();
    assert.equal(extract.code, 0, new TextDecoder().decode(extract.stderr));
    assert.deepEqual(await Deno.readFile(`${out}/bin/tool`), await Deno.readFile(`${dir}/tool`));
    assert.equal(await Deno.readTextFile(`${out}/etc/motd`), "hello\n");
    assert.equal((await Deno.stat(`${out}/etc/motd`)).mtime?.getTime(), FIXED_MTIME * 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeCpio is reproducible whatever the order of the entries", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpio_test_" });
  try {
    await Deno.writeFile(`${dir}/tool`, new Uint8Array([1, 2, 3]));
    await writeCpio(`${dir}/a.cpio`, entries(dir));
    await writeCpio(`${dir}/b.cpio`, entries(dir).reverse());
    assert.deepEqual(await Deno.readFile(`${dir}/a.cpio`), await Deno.readFile(`${dir}/b.cpio`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sortEntries rejects duplicate and absolute paths", () => {
  assert.throws(
    () => sortEntries([{ path: "a", kind: "dir" }, { path: "a", kind: "dir" }]),
    /twice/,
  );
  assert.throws(() => sortEntries([{ path: "/a", kind: "dir" }]), /must be relative/);
});
