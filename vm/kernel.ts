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

/** The modules kept in `modules/` beside a kernel image (none for a kernel given by path alone). */
export function kernelModules(kernel: string): string[] {
  const folder = `${kernel.slice(0, kernel.lastIndexOf("/"))}/modules`;
  return UIO_MODULES.map((name) => `${folder}/${name}`).filter((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

/** The cached vmlinuz in `cacheDir` (with its uio modules), or undefined. */
export function cachedKernel(cacheDir: string): string | undefined {
  try {
    const names = [...Deno.readDirSync(cacheDir)].map((e) => e.name)
      .filter((name) => name.startsWith("vmlinuz-")).sort();
    if (names.length === 0) return undefined;
    const kernel = `${cacheDir}/${names[names.length - 1]}`;
    return kernelModules(kernel).length === UIO_MODULES.length ? kernel : undefined;
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
  for (const name of UIO_MODULES) {
    const source = `${unpacked}/lib/modules/${release}/kernel/drivers/uio/${name}`;
    await Deno.copyFile(source, `${cacheDir}/modules/${name}`).catch(() => {
      throw new Error(`${deb} holds no ${source.slice(unpacked.length + 1)}`);
    });
  }
  await Deno.remove(unpacked, { recursive: true });
  await Deno.remove(`${cacheDir}/${deb}`);
  return { path: `${cacheDir}/${vmlinuz}`, cached: false };
}
