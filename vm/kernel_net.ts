/**
 * The comparison guest's network (`KERNEL_NET=1`, images built with `--kernel-net`): loads the kernel's own
 * virtio-net driver from the image with finit_module and configures eth0 with ioctls, so that the same
 * apps can serve on kernel sockets (`--nic kernel`) through the same virtual card. The cloud kernel has no
 * IP autoconfiguration (CONFIG_IP_PNP is off, and `ip=` only ever served built-in drivers), so init does
 * what `ip addr add` and `ip link set up` would.
 *
 * Runs inside the guest's init only.
 *
 * @module
 */

const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "buffer", "i64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
});

const SYS_FINIT_MODULE = 313n;
const O_RDONLY_CLOEXEC = 0o2000000;
const EEXIST = 17;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SIOCADDRT = 0x890bn;
const SIOCGIFFLAGS = 0x8913n;
const SIOCSIFFLAGS = 0x8914n;
const SIOCSIFADDR = 0x8916n;
const SIOCSIFNETMASK = 0x891cn;
const IFF_UP = 0x1;
const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;
/** struct ifreq: 16 bytes of name, then a 24-byte union (a sockaddr, or the flags). */
const IFREQ_BYTES = 40;
/** struct rtentry on x86-64 (include/uapi/linux/route.h). */
const RTENTRY_BYTES = 120;
const RT_GATEWAY = 24;
const RT_GENMASK = 40;
const RT_FLAGS = 56;
const RT_DST = 8;

function cString(text: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length + 1);
  out.set(new TextEncoder().encode(text));
  return out;
}

function errno(): number {
  const where = libc.symbols.__errno_location();
  return where === null ? 0 : new Deno.UnsafePointerView(where).getInt32();
}

function loadModule(path: string): void {
  const fd = libc.symbols.open(cString(path), O_RDONLY_CLOEXEC, 0);
  if (fd < 0) throw new Error(`Cannot open ${path} (errno ${errno()})`);
  const rc = libc.symbols.syscall(SYS_FINIT_MODULE, BigInt(fd), cString(""), 0n);
  const code = errno();
  libc.symbols.close(fd);
  if (rc !== 0n && code !== EEXIST) throw new Error(`Cannot load ${path} (errno ${code})`);
}

function parseIpv4(text: string): number {
  const parts = text.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`Bad IPv4 address '${text}'`);
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** Writes a sockaddr_in (family in host order, address in network order) at `at`. */
function writeSockaddr(bytes: Uint8Array, at: number, address: number): void {
  bytes[at] = AF_INET;
  bytes[at + 1] = 0;
  bytes[at + 4] = address >>> 24;
  bytes[at + 5] = (address >>> 16) & 0xff;
  bytes[at + 6] = (address >>> 8) & 0xff;
  bytes[at + 7] = address & 0xff;
}

function ifreq(name: string): Uint8Array<ArrayBuffer> {
  const request = new Uint8Array(IFREQ_BYTES);
  request.set(new TextEncoder().encode(name).subarray(0, 15));
  return request;
}

function ioctl(fd: number, request: bigint, data: Uint8Array<ArrayBuffer>, what: string): void {
  if (libc.symbols.ioctl(fd, request, data) !== 0) {
    throw new Error(`Cannot ${what} (errno ${errno()})`);
  }
}

function setUp(fd: number, name: string): void {
  const request = ifreq(name);
  ioctl(fd, SIOCGIFFLAGS, request, `read the flags of ${name}`);
  request[16] |= IFF_UP;
  ioctl(fd, SIOCSIFFLAGS, request, `bring ${name} up`);
}

/** The first interface besides lo, waiting up to `timeoutMs` for the driver to register it. */
function findInterface(timeoutMs: number): string {
  const deadline = performance.now() + timeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const names = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).filter((n) =>
      n !== "lo"
    ).sort();
    if (names.length > 0) return names[0];
    if (performance.now() > deadline) throw new Error("virtio_net registered no interface");
    Atomics.wait(pause, 0, 0, 20);
  }
}

/**
 * Loads virtio_net and what it needs (the image keeps them in `moduleDir` as 01-virtio_ring.ko,
 * 02-virtio.ko..., numbered in load order since there is no modprobe), gives its interface `cidr` (10.0.2.15/24) and a default
 * route through `gateway` (when given), and brings lo and it up. Returns a line for the boot log.
 */
export function bringUpKernelNet(
  cidr: string,
  gateway: string,
  moduleDir = "/lib/modules/net",
): string {
  const modules = [...Deno.readDirSync(moduleDir)].map((e) => e.name).filter((n) =>
    n.endsWith(".ko")
  )
    .sort();
  if (modules.length === 0) throw new Error(`No kernel modules in ${moduleDir}`);
  for (const name of modules) loadModule(`${moduleDir}/${name}`);
  const name = findInterface(5000);
  const [addressText, prefixText] = cidr.split("/");
  const address = parseIpv4(addressText);
  const prefix = Number(prefixText ?? 24);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const fd = libc.symbols.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new Error(`Cannot open a socket for ioctls (errno ${errno()})`);
  try {
    setUp(fd, "lo");
    const request = ifreq(name);
    writeSockaddr(request, 16, address);
    ioctl(fd, SIOCSIFADDR, request, `set the address of ${name}`);
    const maskRequest = ifreq(name);
    writeSockaddr(maskRequest, 16, mask);
    ioctl(fd, SIOCSIFNETMASK, maskRequest, `set the netmask of ${name}`);
    setUp(fd, name);
    if (gateway !== "") {
      // Only the on-link route is needed for forwarded connections (they come from the gateway
      // itself); the default route makes the guest's kernel sockets behave like a normal host's.
      const route = new Uint8Array(RTENTRY_BYTES);
      writeSockaddr(route, RT_DST, 0);
      writeSockaddr(route, RT_GATEWAY, parseIpv4(gateway));
      writeSockaddr(route, RT_GENMASK, 0);
      route[RT_FLAGS] = RTF_UP | RTF_GATEWAY;
      ioctl(fd, SIOCADDRT, route, `add the default route via ${gateway}`);
    }
  } finally {
    libc.symbols.close(fd);
  }
  return `kernel virtio_net: ${name} ${cidr}${gateway ? ` via ${gateway}` : ""} is up`;
}
