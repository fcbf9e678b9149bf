/**
 * Fetches the guest kernel: Debian's cloud kernel (small, boots fast, virtio and uio as modules so no driver
 * ever binds the NIC) downloaded with `apt-get download` into the cache and unpacked with `dpkg -x`. Once a
 * vmlinuz is cached, nothing touches apt again.
 *
 * @module
 */

/** The meta package whose dependency names the versioned cloud kernel. */
export const KERNEL_META_PACKAGE = "linux-image-cloud-amd64";

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `${cmd} is not installed (needed to fetch the kernel; run on Debian or pass --kernel)`,
      );
    }
    throw error;
  }
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join("; ");
    throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** The kernel modules kept beside the kernel: uio_pci_generic for the optional interrupt mode. */
export const UIO_MODULES = ["uio.ko", "uio_pci_generic.ko"];

/**
 * The kernel's own virtio-net driver and what it needs, in load order (from each module's `depends=`),
 * for the comparison image (`--kernel-net`); paths inside the package's lib/modules/RELEASE/kernel/.
 */
export const KERNEL_NET_MODULES = [
  "drivers/virtio/virtio_ring.ko",
  "drivers/virtio/virtio.ko",
  "drivers/virtio/virtio_pci_modern_dev.ko",
  "drivers/virtio/virtio_pci_legacy_dev.ko",
  "drivers/virtio/virtio_pci.ko",
  "net/core/failover.ko",
  "drivers/net/net_failover.ko",
  "drivers/net/virtio_net.ko",
];

const ALL_MODULES = [...UIO_MODULES, ...KERNEL_NET_MODULES.map((path) => path.split("/").pop()!)];

function existing(paths: string[]): string[] {
  return paths.filter((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

/** The modules kept in `modules/` beside a kernel image (none for a kernel given by path alone). */
export function kernelModules(kernel: string): string[] {
  const folder = `${kernel.slice(0, kernel.lastIndexOf("/"))}/modules`;
  return existing(UIO_MODULES.map((name) => `${folder}/${name}`));
}

/** The virtio-net driver's modules beside a kernel image, in load order (empty when missing). */
export function kernelNetModules(kernel: string): string[] {
  const folder = `${kernel.slice(0, kernel.lastIndexOf("/"))}/modules`;
  const paths = existing(KERNEL_NET_MODULES.map((path) => `${folder}/${path.split("/").pop()}`));
  return paths.length === KERNEL_NET_MODULES.length ? paths : [];
}

/** The cached vmlinuz in `cacheDir` (with its uio and virtio-net modules), or undefined. */
export function cachedKernel(cacheDir: string): string | undefined {
  try {
    const names = [...Deno.readDirSync(cacheDir)].map((e) => e.name)
      .filter((name) => name.startsWith("vmlinuz-")).sort();
    if (names.length === 0) return undefined;
    const kernel = `${cacheDir}/${names[names.length - 1]}`;
    // A cache from before the comparison image lacks virtio_net: fetch the package again.
    const folder = `${cacheDir}/modules`;
    return existing(ALL_MODULES.map((name) => `${folder}/${name}`)).length === ALL_MODULES.length
      ? kernel
      : undefined;
  } catch {
    return undefined;
  }
}

/** Returns the path of a cached cloud kernel, downloading and unpacking it first when needed. */
export async function ensureKernel(
  cacheDir: string,
  progress: (line: string) => void,
): Promise<{ path: string; cached: boolean }> {
  const cached = cachedKernel(cacheDir);
  if (cached) return { path: cached, cached: true };
  await Deno.mkdir(cacheDir, { recursive: true });
  const depends = await run("apt-cache", ["depends", KERNEL_META_PACKAGE]);
  const versioned = depends.match(/Depends:\s+(linux-image-\S+-cloud-amd64)/)?.[1];
  if (!versioned) {
    throw new Error(
      `apt does not know ${KERNEL_META_PACKAGE}; run apt-get update (Debian 12 main has it)`,
    );
  }
  progress(`downloading ${versioned} with apt-get download`);
  await run("apt-get", ["download", versioned], cacheDir);
  const deb = [...Deno.readDirSync(cacheDir)].map((e) => e.name)
    .find((name) => name.startsWith(versioned) && name.endsWith(".deb"));
  if (!deb) throw new Error(`apt-get download ${versioned} left no .deb in ${cacheDir}`);
  const unpacked = `${cacheDir}/unpacked`;
  await Deno.remove(unpacked, { recursive: true }).catch(() => {});
  await run("dpkg", ["-x", `${cacheDir}/${deb}`, unpacked]);
  const vmlinuz = [...Deno.readDirSync(`${unpacked}/boot`)].map((e) => e.name)
    .find((name) => name.startsWith("vmlinuz-"));
  if (!vmlinuz) throw new Error(`${deb} holds no boot/vmlinuz-*`);
  await Deno.copyFile(`${unpacked}/boot/${vmlinuz}`, `${cacheDir}/${vmlinuz}`);
  const release = vmlinuz.slice("vmlinuz-".length);
  await Deno.mkdir(`${cacheDir}/modules`, { recursive: true });
  for (const path of [...UIO_MODULES.map((name) => `drivers/uio/${name}`), ...KERNEL_NET_MODULES]) {
    const name = path.split("/").pop()!;
    const source = `${unpacked}/lib/modules/${release}/kernel/${path}`;
    await Deno.copyFile(source, `${cacheDir}/modules/${name}`).catch(() => {
      throw new Error(`${deb} holds no ${source.slice(unpacked.length + 1)}`);
    });
  }
  await Deno.remove(unpacked, { recursive: true });
  await Deno.remove(`${cacheDir}/${deb}`);
  return { path: `${cacheDir}/${vmlinuz}`, cached: false };
}

/** The ELF note type of the 32-bit PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY, Xen's public elfnote.h). */
const PVH_ENTRY_NOTE = 18;

/** True when `elf` is a 64-bit ELF whose notes name a PVH entry point, which QEMU can boot directly. */
export function hasPvhEntry(elf: Uint8Array): boolean {
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    return false;
  }
  if (elf[4] !== 2 || elf[5] !== 1) return false; // ELFCLASS64, little-endian
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length || view.getUint32(ph, true) !== 4) continue; // PT_NOTE
    const start = Number(view.getBigUint64(ph + 8, true));
    const end = Math.min(elf.length, start + Number(view.getBigUint64(ph + 32, true)));
    for (let at = start; at + 12 <= end;) {
      const nameSize = view.getUint32(at, true);
      const descSize = view.getUint32(at + 4, true);
      const type = view.getUint32(at + 8, true);
      const name = new TextDecoder().decode(elf.subarray(at + 12, at + 12 + nameSize));
      if (name === "Xen\0" && type === PVH_ENTRY_NOTE) return true;
      at += 12 + ((nameSize + 3) & ~3) + ((descSize + 3) & ~3);
    }
  }
  return false;
}

/** The tool that decompresses a bzImage payload, by its magic bytes (the kernel's own choices). */
const PAYLOAD_TOOLS: [number[], string, string[]][] = [
  [[0x02, 0x21, 0x4c, 0x18], "lz4", ["-d", "-c"]],
  [[0x28, 0xb5, 0x2f, 0xfd], "zstd", ["-d", "-c"]],
  [[0x1f, 0x8b], "gzip", ["-d", "-c"]],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz", ["-d", "-c"]],
];

/**
 * The kernel as QEMU boots it fastest: the ELF inside a bzImage, when it has a PVH entry point (Debian's
 * kernels do), entered directly in 32-bit protected mode, with no real-mode setup and no decompression
 * of the 50 MB image in the guest (~0.2-0.4 s of CPU under TCG). Unpacked once beside the bzImage as
 * vmlinux-RELEASE; `bzImage` itself when it is not a bzImage, holds no such ELF, or the payload's
 * decompressor is not installed.
 */
export async function pvhKernel(bzImage: string): Promise<string> {
  const slash = bzImage.lastIndexOf("/");
  const name = bzImage.slice(slash + 1);
  if (!name.startsWith("vmlinuz-")) return bzImage;
  const target = `${bzImage.slice(0, slash + 1)}vmlinux-${name.slice("vmlinuz-".length)}`;
  const source = await Deno.stat(bzImage);
  const existing = await Deno.stat(target).catch(() => undefined);
  if (existing && (existing.mtime?.getTime() ?? 0) >= (source.mtime?.getTime() ?? 0)) return target;
  const image = await Deno.readFile(bzImage);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  // The boot protocol's header (Documentation/arch/x86/boot.rst): "HdrS" at 0x202, the setup's size
  // in sectors at 0x1f1, and the payload's offset (from the protected-mode code) and length.
  if (image.length < 0x250 || view.getUint32(0x202, true) !== 0x53726448) return bzImage;
  const setupSectors = image[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + view.getUint32(0x248, true);
  const payload = image.subarray(start, start + view.getUint32(0x24c, true));
  const tool = PAYLOAD_TOOLS.find(([magic]) => magic.every((byte, i) => payload[i] === byte));
  if (!tool) return bzImage;
  let elf: Uint8Array;
  try {
    const child = new Deno.Command(tool[1], {
      args: tool[2],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    // Read while writing, or both ends wait on full pipes.
    const output = child.output();
    const writer = child.stdin.getWriter();
    // The payload ends with the image's length, which some decompressors call trailing garbage: the
    // ELF's own check below decides.
    await writer.write(payload).catch(() => {});
    await writer.close().catch(() => {});
    elf = (await output).stdout;
  } catch {
    return bzImage; // the decompressor is not installed
  }
  if (!hasPvhEntry(elf)) return bzImage;
  const temporary = `${target}.${Deno.pid}.tmp`;
  await Deno.writeFile(temporary, elf);
  await Deno.rename(temporary, target);
  return target;
}
