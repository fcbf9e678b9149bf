/**
 * The few libc calls the virtio driver needs (open, pread/pwrite on sysfs files, mmap of BARs and DMA
 * memory, mlock), bound lazily over Deno FFI so that importing the driver costs nothing until a device is
 * opened. Synchronous calls only: errno is read right after each one (see FACTS: after a nonblocking
 * call it belongs to another thread).
 *
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // Waits on another thread, so the event loop keeps running while the device is idle.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  mlock: { parameters: ["pointer", "usize"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The bound libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** Opens libc once and returns its symbols. */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** open(2) flags and mmap(2) constants for x86-64 Linux. */
export const O_RDONLY = 0;
/** open(2) read-write. */
export const O_RDWR = 2;
/** open(2) close-on-exec. */
export const O_CLOEXEC = 0o2000000;
/** open(2) synchronous writes (sysfs resource files want it for MMIO). */
export const O_SYNC = 0o4010000;
/** mmap(2) protection: read and write. */
export const PROT_RW = 3;
/** mmap(2) flags. */
export const MAP_SHARED = 1;
/** mmap(2) private mapping. */
export const MAP_PRIVATE = 2;
/** mmap(2) anonymous mapping. */
export const MAP_ANONYMOUS = 0x20;
/** mmap(2) locked mapping. */
export const MAP_LOCKED = 0x2000;
/** mmap(2) populate the pages now. */
export const MAP_POPULATE = 0x8000;
/** mmap(2) huge pages (the default size, 2 MiB on x86-64). */
export const MAP_HUGETLB = 0x40000;

/** The current errno (valid right after a failed synchronous call). */
export function errno(): number {
  const where = libc().__errno_location();
  return where === null ? 0 : new Deno.UnsafePointerView(where).getInt32();
}

/** Describes the current errno as "strerror (errno N)". */
export function errnoText(): string {
  const code = errno();
  const text = libc().strerror(code);
  const message = text === null ? "unknown error" : Deno.UnsafePointerView.getCString(text);
  return `${message} (errno ${code})`;
}

/** A NUL-terminated copy of a path for FFI. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const encoded = new TextEncoder().encode(text);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}

/** True when mmap(2) returned MAP_FAILED or NULL. */
export function mmapFailed(pointer: Deno.PointerValue): boolean {
  return pointer === null || Deno.UnsafePointer.value(pointer) === 0xffffffffffffffffn;
}

/** Opens a file with open(2), throwing a described error on failure. */
export function openFile(path: string, flags: number): number {
  const fd = libc().open(cString(path), flags | O_CLOEXEC, 0);
  if (fd < 0) throw new Error(`Cannot open ${path}: ${errnoText()}`);
  return fd;
}
