/**
 * Questions about a Linux network interface asked with `ioctl` on a throwaway socket: its MTU, index and
 * MAC. ioctl avoids reading /sys, which Deno only allows under --allow-all.
 *
 * @module
 */

import { cString, Errno, lastError, libc, Linux, NicError } from "./libc.ts";

const SIOCGIFMTU = 0x8921n;
const SIOCGIFHWADDR = 0x8927n;
/** Size of `struct ifreq` on x86-64. */
export const IFREQ_SIZE = 40;
/** Longest interface name (IFNAMSIZ less the NUL). */
export const IFNAME_MAX = 15;

/** Fills a `struct ifreq` with `name`; throws when the name cannot be an interface name. */
export function ifreq(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length > IFNAME_MAX || name.includes("/") || /\s/.test(name)) {
    throw new NicError(
      `Cannot use interface name '${name}': it must be 1 to ${IFNAME_MAX} bytes without '/' or spaces`,
      "EINVAL",
      Errno.EINVAL,
    );
  }
  const req = new Uint8Array(IFREQ_SIZE);
  req.set(bytes);
  return req;
}

function askInterface(name: string, request: bigint, what: string): Uint8Array {
  const c = libc();
  const req = ifreq(name);
  const fd = c.socket(Linux.AF_INET, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, 0);
  if (fd < 0) throw lastError(`Cannot open a socket to read the ${what} of ${name}`);
  try {
    if (c.ioctl(fd, request, req) < 0) {
      const err = lastError(`Cannot read the ${what} of ${name}`);
      if (err.errno === Errno.ENODEV) {
        throw new NicError(`Cannot read the ${what} of ${name}: no such interface`, "ENODEV", 19);
      }
      throw err;
    }
  } finally {
    c.close(fd);
  }
  return req;
}

/** The interface's MTU (SIOCGIFMTU). */
export function interfaceMtu(name: string): number {
  const req = askInterface(name, SIOCGIFMTU, "MTU");
  return new DataView(req.buffer).getInt32(16, true);
}

/** The interface's hardware address as a 48-bit number (SIOCGIFHWADDR). */
export function interfaceMac(name: string): number {
  const req = askInterface(name, SIOCGIFHWADDR, "MAC");
  // struct sockaddr at offset 16: sa_family (2 bytes), then the address.
  let mac = 0;
  for (let i = 0; i < 6; i++) mac = mac * 256 + req[18 + i];
  return mac;
}

/** The interface's index, or undefined when no interface has that name. */
export function interfaceIndex(name: string): number | undefined {
  ifreq(name);
  const index = libc().if_nametoindex(cString(name));
  return index === 0 ? undefined : index;
}

/**
 * A stable, locally administered unicast MAC derived from `seed` (FNV-1a), so that a NIC keeps its
 * address across restarts without reading a clock or random source.
 */
export function localMac(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
  // 0x02 in the first octet: locally administered, unicast (IEEE 802 clause 8.2.2).
  return 0x02 * 2 ** 40 + 0x5a * 2 ** 32 + h;
}
