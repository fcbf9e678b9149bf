/**
 * The libc calls every NIC driver needs (TAP, AF_PACKET, and the virtio driver's sysfs, pagemap, BAR
 * and DMA mappings and uio interrupts), each bound with `Deno.dlopen` when first called, plus errno
 * handling and typed errors. Calls are synchronous (~5 ns each); only `pollAsync` is `nonblocking`,
 * for the idle wait, because a nonblocking call costs ~9 µs and reads errno on another thread.
 *
 * @module
 */

// read/write/sendto return ssize_t, declared i32 here: frame-sized counts and -1 survive the
// truncation, and a 64-bit result would come back as a bigint allocated on every call.
const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "pointer", "usize"], result: "i32" },
  /** read(2) into a buffer (the uio interrupt count). */
  readBuffer: { name: "read", parameters: ["i32", "buffer", "usize"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  write: { parameters: ["i32", "pointer", "usize"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  sendto: {
    parameters: ["i32", "pointer", "usize", "i32", "pointer", "u32"],
    result: "i32",
  },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  mlock: { parameters: ["pointer", "usize"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The opened libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let symbols: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

type SymbolName = keyof typeof SYMBOLS;

/** Opens libc with the one symbol `name`. */
function openSymbol<N extends SymbolName>(name: N): Libc[N] {
  const definition = { [name]: SYMBOLS[name] } as Pick<typeof SYMBOLS, N>;
  try {
    return Deno.dlopen("libc.so.6", definition).symbols[name] as unknown as Libc[N];
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new NicError("Cannot load libc.so.6: run with --allow-ffi", "EPERM", 1);
    }
    throw e;
  }
}

/**
 * Opens libc on first use (needs `--allow-ffi`) and returns its symbols. Each symbol is bound on its
 * first call, by a `Deno.dlopen` of its own: binding one costs ~4 ms under QEMU's TCG, and the virtio
 * driver in the VM image uses a third of them, so binding all at once cost its boot ~0.1 s. The stub
 * replaces itself in the same field, so the object keeps its shape and later calls go straight to libc.
 */
export function libc(): Libc {
  if (symbols === undefined) {
    const table: Record<string, unknown> = {};
    for (const name of Object.keys(SYMBOLS) as SymbolName[]) {
      table[name] = (...args: unknown[]) => {
        const bound = openSymbol(name) as (...args: unknown[]) => unknown;
        table[name] = bound;
        return bound(...args);
      };
    }
    symbols = table as unknown as Libc;
    // errno lives in thread-local storage; every synchronous call runs on this (the main) thread.
    errnoView = new Deno.UnsafePointerView(symbols.__errno_location()!);
  }
  return symbols;
}

/** The errno of the last failed synchronous libc call on this thread. */
export function errno(): number {
  libc();
  return errnoView!.getInt32(0);
}

/** Errno values the drivers act on (Linux x86-64). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMSGSIZE: 90,
  ENOBUFS: 105,
  ENETDOWN: 100,
} as const;

const NAMES = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));

/** The symbolic name of an errno value, such as `EPERM`, or `errno N`. */
export function errnoName(code: number): string {
  return NAMES.get(code) ?? `errno ${code}`;
}

/** The C library's description of an errno value, lower-cased ("permission denied"). */
export function describeErrno(code: number): string {
  const p = libc().strerror(code);
  const text = p === null ? `errno ${code}` : Deno.UnsafePointerView.getCString(p);
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** An error from a host NIC, carrying the errno that caused it. */
export class NicError extends Error {
  /** The errno name, such as `EPERM`. */
  readonly code: string;
  /** The errno value, or 0 when the error did not come from a system call. */
  readonly errno: number;

  /** Creates an error with a sentence-case message. */
  constructor(message: string, code: string, errnoValue: number) {
    super(message);
    this.name = "NicError";
    this.code = code;
    this.errno = errnoValue;
  }
}

/**
 * Builds the error for a failed call: "`what`: `reason`", with a hint naming the `capability` the call
 * needs for permission problems. Call it right after the failing call, before any other libc call can
 * change errno.
 */
export function lastError(what: string, code = errno(), capability = "CAP_NET_ADMIN"): NicError {
  let reason = describeErrno(code);
  if (code === Errno.EPERM || code === Errno.EACCES) {
    reason = `permission denied (run as root or grant ${capability})`;
  }
  return new NicError(`${what}: ${reason}`, errnoName(code), code);
}

/** A NUL-terminated copy of `text`, for `buffer` parameters that take a C string. */
export function cString(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** `MAP_FAILED` as `mmap` returns it. */
export const MAP_FAILED = 0xffffffffffffffffn;

/** True when mmap(2) returned MAP_FAILED or NULL. */
export function mmapFailed(pointer: Deno.PointerValue): boolean {
  return pointer === null || Deno.UnsafePointer.value(pointer) === MAP_FAILED;
}

/** Describes the current errno as "description (errno N)". */
export function errnoText(code = errno()): string {
  return `${describeErrno(code)} (errno ${code})`;
}

/** Opens a file with open(2) and close-on-exec, throwing a described error on failure. */
export function openFile(path: string, flags: number): number {
  const fd = libc().open(cString(path), flags | Linux.O_CLOEXEC, 0);
  if (fd < 0) throw new Error(`Cannot open ${path}: ${errnoText()}`);
  return fd;
}

/** Constants of the Linux x86-64 ABI the drivers use. */
export const Linux = {
  O_RDONLY: 0,
  O_RDWR: 2,
  /** Synchronous writes (sysfs resource files want it for MMIO). */
  O_SYNC: 0o4010000,
  O_NONBLOCK: 0x800,
  O_CLOEXEC: 0x80000,
  AF_INET: 2,
  AF_PACKET: 17,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0x800,
  SOCK_CLOEXEC: 0x80000,
  PROT_READ: 1,
  PROT_WRITE: 2,
  MAP_SHARED: 1,
  MAP_PRIVATE: 2,
  MAP_ANONYMOUS: 0x20,
  MAP_FIXED: 0x10,
  MAP_LOCKED: 0x2000,
  MAP_POPULATE: 0x8000,
  /** Huge pages of the default size, 2 MiB on x86-64. */
  MAP_HUGETLB: 0x40000,
  POLLIN: 1,
  POLLOUT: 4,
  POLLERR: 8,
  POLLHUP: 16,
  POLLNVAL: 32,
  MSG_DONTWAIT: 0x40,
  EFD_NONBLOCK: 0x800,
  EFD_CLOEXEC: 0x80000,
  SOL_SOCKET: 1,
  SO_RCVBUF: 8,
  SOL_PACKET: 263,
  ETH_P_ALL: 0x0003,
} as const;
