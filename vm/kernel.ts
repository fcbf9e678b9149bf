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
