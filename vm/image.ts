/**
 * `deno task image [--app apps/http_echo.ts] [--compress none|lz4|zstd] [--kernel-net]`: builds the bootable
 * pair (kernel, initramfs) in vm/.cache/. The initramfs holds deno (found with `Deno.execPath()`) and
 * the libraries `ldd` lists, the project's stack/ and apps/ under /app, and vm/init.ts as PID 1. Which
 * app runs, with which arguments, is chosen on the kernel command line (APP=, APP_ARGS=, see qemu.ts),
 * so one image serves every app under apps/. It is reproducible (sorted entries, fixed mtimes, see
 * cpio.ts) and incremental: a hash of every input is kept beside the image, and nothing is rebuilt while
 * it matches. `--kernel-net` builds the comparison image, which also carries the kernel's virtio-net
 * driver (see kernel_net.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CpioEntry, writeCpio } from "./cpio.ts";
import { emitCacheEntries, entryPoints } from "./deno_cache.ts";
import { parents, PROJECT_ROOT } from "./project.ts";

export { PROJECT_ROOT } from "./project.ts";
import { ensureKernel, kernelModules, kernelNetModules, pvhKernel } from "./kernel.ts";

/** Bumped when the image layout changes, so old images count as stale. */
const FORMAT_VERSION = 1;
const BIG_FILE = 1 << 20;

/** How the initramfs is compressed. */
export type Compression = "lz4" | "zstd" | "none";

/** The compression `buildImage` uses unless told otherwise (see `ImageOptions.compress`). */
export const DEFAULT_COMPRESSION: Compression = "lz4";

/** The file name ending of each compression. */
const SUFFIX: Record<Compression, string> = { lz4: ".lz4", zstd: ".zst", none: "" };

/** Options of `buildImage`. */
export interface ImageOptions {
  /** The app to run, relative to the project root or the current folder (default apps/http_echo.ts). */
  app?: string;
  /**
   * Initramfs compression, lz4 by default (the choice: half the bytes, the kernel's fastest
   * decompressor). `none` boots about 0.4 s faster under TCG, where the kernel's lz4 decompression
   * costs more CPU than QEMU's loading of twice the bytes from the host's page cache.
   */
  compress?: Compression;
  /** A kernel image to use instead of fetching Debian's cloud kernel. */
  kernel?: string;
  /** Cache folder (default vm/.cache). */
  cacheDir?: string;
  /** Rebuild even when the inputs did not change. */
  force?: boolean;
  /**
   * The comparison image: also carries the kernel's own virtio-net driver, which init loads when the
   * command line says KERNEL_NET=1 (see kernel_net.ts), so apps can serve on kernel sockets.
   */
  kernelNet?: boolean;
  /** Receives one line per step. */
  progress?: (line: string) => void;
}

/** What `buildImage` produced. */
export interface ImageResult {
  kernel: string;
  initramfs: string;
  /** The app path inside the project. */
  app: string;
  /** False when the cached image was up to date. */
  built: boolean;
  /** Uncompressed archive bytes. */
  cpioBytes: number;
  /** Compressed initramfs bytes. */
  imageBytes: number;
  /** Wall time of this call. */
  seconds: number;
}

/** The app run when none is chosen: the HTTP echo app (what users try first), else the driver-only echo. */
export function defaultApp(): string {
  try {
    Deno.statSync(`${PROJECT_ROOT}/apps/http_echo.ts`);
    return "apps/http_echo.ts";
  } catch {
    return "vm/guest_echo.ts";
  }
}

/**
 * Default arguments of an app: apps built on apps/lib/link.ts take --nic virtio and lease their address
 * by DHCP (QEMU's user network serves 10.0.2.15), or with `dhcp` false (a TAP with no DHCP server) take
 * `{address}` and `{gateway}`, which init replaces by the settings of `ip=`.
 */
export function defaultAppArgs(app: string, dhcp = true): string[] {
  if (app === "vm/guest_echo.ts") return ["--ip", "{address}"];
  if (dhcp) return ["--nic", "virtio", "--ip", "dhcp"];
  return ["--nic", "virtio", "--ip", "{address}", "--gateway", "{gateway}"];
}

/** Resolves `app` to a path inside the project, with clear errors. */
export function resolveApp(app: string): string {
  const candidates = app.startsWith("/")
    ? [app]
    : [`${Deno.cwd()}/${app}`, `${PROJECT_ROOT}/${app}`];
  for (const candidate of candidates) {
    let real: string;
    try {
      real = Deno.realPathSync(candidate);
    } catch {
      continue;
    }
    if (!Deno.statSync(real).isFile) throw new Error(`App ${app} is not a file`);
    const root = Deno.realPathSync(PROJECT_ROOT);
    if (!real.startsWith(root + "/")) {
      throw new Error(
        `App ${app} is outside the project (${root}); the image carries only its files`,
      );
    }
    return real.slice(root.length + 1);
  }
  throw new Error(`App file not found: ${app}`);
}

async function command(cmd: string, args: string[], what: string): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${cmd} is not installed (needed for ${what}); apt-get install ${cmd}`);
    }
    throw error;
  }
  if (!output.success) {
    throw new Error(`${cmd} failed (${what}): ${new TextDecoder().decode(output.stderr).trim()}`);
  }
  return new TextDecoder().decode(output.stdout);
}

/** The shared libraries deno needs, from `ldd`, as absolute paths. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const text = await command("ldd", [binary], "finding deno's libraries");
  const paths = new Set<string>();
  for (const line of text.split("\n")) {
    const match = line.match(/=>\s+(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (match) paths.add(match[1]);
  }
  if (paths.size === 0) throw new Error(`ldd listed no libraries for ${binary}`);
  return [...paths].sort();
}

/** Project files the guest needs: sources of stack/ and apps/, the init, and the app, without tests. */
function projectFiles(app: string): string[] {
  const files = new Set<string>(GUEST_VM_FILES);
  if (app !== "") files.add(app);
  const walk = (relative: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${PROJECT_ROOT}/${relative}`)];
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory && !entry.name.startsWith(".")) walk(path);
      else if (
        entry.isFile && /\.(ts|js|mjs|json)$/.test(entry.name) && !/_test\.ts$/.test(entry.name)
      ) {
        files.add(path);
      }
    }
  };
  walk("stack");
  walk("apps");
  return [...files].sort();
}

/** The files of vm/ every image holds: init, what it imports, and the guest-only apps. */
export const GUEST_VM_FILES = [
  "vm/init.ts",
  "vm/guest_profile.ts",
  "vm/kernel_net.ts",
  "vm/guest_echo.ts",
  "vm/deno_serve_echo.ts",
];

/** True when the standard image (stack/, apps/, vm/) already holds `app`. */
export function inStandardImage(app: string): boolean {
  return /^(stack|apps)\//.test(app) || GUEST_VM_FILES.includes(app);
}

/**
 * The archive's entries; `app` (project-relative) is added when the standard set lacks it, and kernel
 * `modules` (uio, for the optional interrupt mode) go to /lib/modules, and `netModules` (the kernel's
 * virtio-net driver, for the comparison image) to /lib/modules/net, numbered in load order.
 */
export async function imageEntries(
  app = "",
  modules: string[] = [],
  netModules: string[] = [],
): Promise<CpioEntry[]> {
  const deno = Deno.execPath();
  const libraries = await sharedLibraries(deno);
  const dirs = new Set<string>(["bin", "dev", "proc", "sys", "tmp", "run", "var/deno", "app"]);
  const entries: CpioEntry[] = [
    { path: "dev/console", kind: "char", major: 5, minor: 1 },
    { path: "dev/null", kind: "char", mode: 0o666, major: 1, minor: 3 },
    { path: "bin/deno", kind: "file", mode: 0o755, source: deno },
  ];
  for (const library of libraries) {
    const path = library.slice(1);
    entries.push({ path, kind: "file", mode: 0o755, source: Deno.realPathSync(library) });
    parents(path, dirs);
  }
  for (const module of modules) {
    const path = `lib/modules/${module.split("/").pop()}`;
    entries.push({ path, kind: "file", source: module });
    parents(path, dirs);
  }
  netModules.forEach((module, i) => {
    const path = `lib/modules/net/${String(i + 1).padStart(2, "0")}-${module.split("/").pop()}`;
    entries.push({ path, kind: "file", source: module });
    parents(path, dirs);
  });
  for (const file of projectFiles(app)) {
    const path = `app/${file}`;
    entries.push({ path, kind: "file", source: `${PROJECT_ROOT}/${file}` });
    parents(path, dirs);
  }
  for (const dir of [...dirs]) parents(`${dir}/x`, dirs);
  for (const dir of dirs) entries.push({ path: dir, kind: "dir" });
  return entries;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A hash of everything the image is made of: small files by content, big ones (deno, libc) by path, size
 * and mtime, plus the kernel, the compression and this builder's own sources.
 */
export async function inputsHash(
  entries: CpioEntry[],
  extra: Record<string, unknown>,
): Promise<string> {
  const parts: unknown[] = [FORMAT_VERSION, extra];
  for (const builder of ["vm/image.ts", "vm/cpio.ts", "vm/deno_cache.ts", "vm/bundle.ts"]) {
    parts.push(await sha256(await Deno.readFile(`${PROJECT_ROOT}/${builder}`)));
  }
  for (const entry of [...entries].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (entry.kind !== "file") {
      parts.push(entry);
    } else if (typeof entry.source !== "string") {
      parts.push([entry.path, entry.mode, await sha256(entry.source as Uint8Array<ArrayBuffer>)]);
    } else {
      const info = await Deno.stat(entry.source);
      parts.push(
        info.size > BIG_FILE
          ? [entry.path, entry.mode, entry.source, info.size, info.mtime?.getTime()]
          : [entry.path, entry.mode, await sha256(await Deno.readFile(entry.source))],
      );
    }
  }
  return await sha256(new TextEncoder().encode(JSON.stringify(parts)));
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Builds (or reuses) the kernel and initramfs for an app. */
export async function buildImage(opts: ImageOptions = {}): Promise<ImageResult> {
  const started = performance.now();
  const progress = opts.progress ?? (() => {});
  const compress = opts.compress ?? DEFAULT_COMPRESSION;
  if (!(compress in SUFFIX)) {
    throw new Error(`Unknown compression '${compress}': expected lz4, zstd or none`);
  }
  const app = resolveApp(opts.app ?? defaultApp());
  const cacheDir = opts.cacheDir ?? `${PROJECT_ROOT}/vm/.cache`;

  let kernel: string;
  if (opts.kernel) {
    try {
      Deno.statSync(opts.kernel);
    } catch {
      throw new Error(`Kernel file not found: ${opts.kernel}`);
    }
    kernel = opts.kernel;
    progress(`[1/3] kernel: ${kernel} (given)`);
  } else {
    const fetched = await ensureKernel(
      `${cacheDir}/kernel`,
      (line) => progress(`[1/3] kernel: ${line}`),
    );
    // Booted as the ELF inside, with its PVH entry, when it has one (see kernel.ts).
    kernel = await pvhKernel(fetched.path);
    progress(
      `[1/3] kernel: ${fetched.cached ? "cached" : "fetched"} ${
        fetched.path.split("/").pop()
      }, booted as ${kernel.split("/").pop()}`,
    );
  }

  const netModules = opts.kernelNet ? kernelNetModules(kernel) : [];
  if (opts.kernelNet && netModules.length === 0) {
    throw new Error(
      `No virtio-net modules beside ${kernel} (expected in its modules/ folder); --kernel-net needs them`,
    );
  }
  const entries = await imageEntries(
    inStandardImage(app) ? "" : app,
    kernelModules(kernel),
    netModules,
  );
  const kernelInfo = await Deno.stat(kernel);
  const hash = await inputsHash(entries, {
    compress,
    kernel: [kernel, kernelInfo.size, kernelInfo.mtime?.getTime()],
  });
  const stem =
    (inStandardImage(app)
      ? "initramfs"
      : `initramfs-${app.replace(/\.ts$/, "").replaceAll("/", "_")}`) +
    (opts.kernelNet ? "-kernel-net" : "");
  const imagesDir = `${cacheDir}/images`;
  await Deno.mkdir(imagesDir, { recursive: true });
  const initramfs = `${imagesDir}/${stem}.cpio${SUFFIX[compress]}`;
  const stampPath = `${initramfs}.inputs`;
  const stamp = await Deno.readTextFile(stampPath).catch(() => "");
  const existing = await Deno.stat(initramfs).catch(() => undefined);
  if (!opts.force && existing && stamp.split("\n")[0] === hash) {
    const cpioBytes = Number(stamp.split("\n")[1] ?? 0);
    progress(`[2/3] initramfs: up to date (${entries.length} entries, ${megabytes(cpioBytes)})`);
    progress(`[3/3] ${compress}: up to date, ${megabytes(existing.size)}`);
    return {
      kernel,
      initramfs,
      app,
      built: false,
      cpioBytes,
      imageBytes: existing.size,
      seconds: (performance.now() - started) / 1000,
    };
  }

  // Unique temporary names: builds of other compressions (or processes) may run at the same time.
  const unique = `${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
  const cpio = `${imagesDir}/${stem}.${unique}.raw.tmp`;
  const emitDir = await Deno.makeTempDir({ prefix: "vm_emit_" });
  let cpioBytes: number;
  let emitted: CpioEntry[];
  try {
    emitted = await emitCacheEntries(entryPoints(entries), emitDir, progress);
    cpioBytes = await writeCpio(cpio, [...entries, ...emitted]);
  } finally {
    await Deno.remove(emitDir, { recursive: true });
  }
  progress(
    `[2/3] initramfs: ${entries.length} entries + ${emitted.length} from deno cache, ${
      megabytes(cpioBytes)
    }`,
  );
  const compressed = `${initramfs}.${unique}.tmp`;
  const compressStart = performance.now();
  try {
    if (compress === "none") {
      await Deno.rename(cpio, compressed);
    } else if (compress === "lz4") {
      // The kernel's initramfs unpacker reads only the legacy lz4 format (-l).
      await command("lz4", ["-l", "-9", "-f", "-q", cpio, compressed], "compressing the initramfs");
    } else {
      await command(
        "zstd",
        ["-19", "-T0", "-f", "-q", cpio, "-o", compressed],
        "compressing the initramfs",
      );
    }
  } finally {
    await Deno.remove(cpio).catch(() => {});
  }
  await Deno.rename(compressed, initramfs);
  await Deno.writeTextFile(stampPath, `${hash}\n${cpioBytes}\n`);
  const imageBytes = (await Deno.stat(initramfs)).size;
  const compressSeconds = (performance.now() - compressStart) / 1000;
  progress(`[3/3] ${compress}: ${megabytes(imageBytes)} in ${compressSeconds.toFixed(1)} s`);
  return {
    kernel,
    initramfs,
    app,
    built: true,
    cpioBytes,
    imageBytes,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Parses `deno task image` options. */
export function parseImageArgs(args: string[]): ImageOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      app: { type: "string" },
      compress: { type: "string" },
      kernel: { type: "string" },
      force: { type: "boolean" },
      "kernel-net": { type: "boolean" },
    },
  });
  const compress = values.compress ?? DEFAULT_COMPRESSION;
  if (!(compress in SUFFIX)) {
    throw new Error(`--compress must be lz4, zstd or none, not '${compress}'`);
  }
  return {
    app: values.app,
    compress: compress as Compression,
    kernel: values.kernel,
    force: values.force,
    kernelNet: values["kernel-net"],
  };
}

if (import.meta.main) {
  try {
    const result = await buildImage({
      ...parseImageArgs(Deno.args),
      progress: (line) => console.log(`image ${line}`),
    });
    console.log(`image: kernel ${result.kernel}`);
    console.log(
      `image: initramfs ${result.initramfs} (${result.built ? "built" : "unchanged"}, ${
        result.seconds.toFixed(1)
      } s)`,
    );
  } catch (error) {
    console.error(`image: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
