/**
 * IPv6 addresses (RFC 4291) as immutable values over four unsigned 32-bit words, with text parsing and
 * RFC 5952 canonical formatting, in-place reads and comparisons against packet bytes (so the data path
 * need not allocate), classification, and the derived addresses NDP needs (solicited-node groups,
 * EUI-64 interface identifiers, multicast MACs). Parsing text is for configuration and CLIs.
 *
 * @module
 */

/** 2^32: the weight of a MAC's top 16 bits. */
const TWO_32 = 0x1_0000_0000;

/** An IPv6 address: four big-endian 32-bit words, `w0` first. */
export class Ipv6Address {
  /** Bits 0..31. */
  readonly w0: number;
  /** Bits 32..63. */
  readonly w1: number;
  /** Bits 64..95. */
  readonly w2: number;
  /** Bits 96..127. */
  readonly w3: number;
  #text: string | undefined;

  /** Creates an address from its four words (normalised to unsigned). */
  constructor(w0: number, w1: number, w2: number, w3: number) {
    this.w0 = w0 >>> 0;
    this.w1 = w1 >>> 0;
    this.w2 = w2 >>> 0;
    this.w3 = w3 >>> 0;
  }

  /** Parses RFC 4291 §2.2 text ("fe80::1", "::ffff:10.0.0.1"); throws on anything else. */
  static parse(text: string): Ipv6Address {
    const address = Ipv6Address.tryParse(text);
    if (address === undefined) {
      throw new TypeError(
        `Cannot parse IPv6 address ${JSON.stringify(text)}: expected RFC 4291 text such as fe80::1`,
      );
    }
    return address;
  }

  /** Parses RFC 4291 §2.2 text, or returns undefined. A zone ("%eth0") is refused. */
  static tryParse(text: string): Ipv6Address | undefined {
    const groups = parseGroups(text);
    if (groups === undefined) return undefined;
    return new Ipv6Address(
      (groups[0] << 16) | groups[1],
      (groups[2] << 16) | groups[3],
      (groups[4] << 16) | groups[5],
      (groups[6] << 16) | groups[7],
    );
  }

  /** Reads the 16 bytes at `bytes[at..at+16)`. */
  static read(bytes: Uint8Array, at: number): Ipv6Address {
    return new Ipv6Address(
      read32(bytes, at),
      read32(bytes, at + 4),
      read32(bytes, at + 8),
      read32(bytes, at + 12),
    );
  }

  /** The link-local address fe80::/64 with the modified EUI-64 identifier of `mac` (RFC 4291 App. A). */
  static linkLocalFromMac(mac: number): Ipv6Address {
    return LINK_LOCAL_PREFIX.withInterfaceId(eui64High(mac), eui64Low(mac));
  }

  /** This address's first 64 bits with the interface identifier `hi:lo` (two 32-bit words). */
  withInterfaceId(hi: number, lo: number): Ipv6Address {
    return new Ipv6Address(this.w0, this.w1, hi, lo);
  }

  /** This address's first 64 bits with the modified EUI-64 identifier of `mac` (SLAAC, RFC 4862). */
  withMacInterfaceId(mac: number): Ipv6Address {
    return this.withInterfaceId(eui64High(mac), eui64Low(mac));
  }

  /** Writes the 16 bytes at `bytes[at..at+16)`. */
  write(bytes: Uint8Array, at: number): void {
    write32(bytes, at, this.w0);
    write32(bytes, at + 4, this.w1);
    write32(bytes, at + 8, this.w2);
    write32(bytes, at + 12, this.w3);
  }

  /** The 16 bytes in a new array. */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(16);
    this.write(bytes, 0);
    return bytes;
  }

  /** True when both are the same address. */
  equals(other: Ipv6Address): boolean {
    return this.w0 === other.w0 && this.w1 === other.w1 && this.w2 === other.w2 &&
      this.w3 === other.w3;
  }

  /** True when `bytes[at..at+16)` holds this address (no allocation). */
  equalsAt(bytes: Uint8Array, at: number): boolean {
    return read32(bytes, at + 12) === this.w3 && read32(bytes, at + 8) === this.w2 &&
      read32(bytes, at + 4) === this.w1 && read32(bytes, at) === this.w0;
  }

  /** The canonical text, usable as a map key (cached after the first call). */
  get key(): string {
    return this.#text ??= formatWords(this.w0, this.w1, this.w2, this.w3);
  }

  /** RFC 5952 text: lowercase, leading zeros dropped, the longest run of two or more zero groups as "::". */
  toString(): string {
    return this.key;
  }

  /** True when the first `prefixLength` bits equal those of `prefix` (no allocation: a send-path test). */
  hasPrefix(prefix: Ipv6Address, prefixLength: number): boolean {
    return prefixWord(this.w0, prefix.w0, prefixLength) &&
      prefixWord(this.w1, prefix.w1, prefixLength - 32) &&
      prefixWord(this.w2, prefix.w2, prefixLength - 64) &&
      prefixWord(this.w3, prefix.w3, prefixLength - 96);
  }

  /** How many leading bits this address shares with `other` (RFC 6724 §2.2 CommonPrefixLen). */
  commonPrefixLength(other: Ipv6Address): number {
    let x = this.w0 ^ other.w0;
    if (x !== 0) return Math.clz32(x);
    x = this.w1 ^ other.w1;
    if (x !== 0) return 32 + Math.clz32(x);
    x = this.w2 ^ other.w2;
    if (x !== 0) return 64 + Math.clz32(x);
    return 96 + Math.clz32(this.w3 ^ other.w3);
  }

  /** The address with every bit after the first `prefixLength` cleared. */
  masked(prefixLength: number): Ipv6Address {
    const words = [this.w0, this.w1, this.w2, this.w3];
    for (let i = 0; i < 4; i++) {
      const bits = Math.min(32, Math.max(0, prefixLength - i * 32));
      const mask = bits === 32 ? 0xffffffff : bits === 0 ? 0 : ~(0xffffffff >>> bits);
      words[i] = words[i] & mask;
    }
    return new Ipv6Address(words[0], words[1], words[2], words[3]);
  }

  /** :: (RFC 4291 §2.5.2). */
  get isUnspecified(): boolean {
    return (this.w0 | this.w1 | this.w2 | this.w3) === 0;
  }

  /** ::1 (RFC 4291 §2.5.3). */
  get isLoopback(): boolean {
    return (this.w0 | this.w1 | this.w2) === 0 && this.w3 === 1;
  }

  /** ff00::/8 (RFC 4291 §2.7). */
  get isMulticast(): boolean {
    return this.w0 >>> 24 === 0xff;
  }

  /** fe80::/10 (RFC 4291 §2.5.6). */
  get isLinkLocal(): boolean {
    return this.w0 >>> 22 === 0x3fa;
  }

  /** fc00::/7, unique local (RFC 4193). */
  get isUniqueLocal(): boolean {
    return this.w0 >>> 25 === 0x7e;
  }

  /** ::ffff:0:0/96, an IPv4-mapped address (RFC 4291 §2.5.5.2). */
  get isIpv4Mapped(): boolean {
    return this.w0 === 0 && this.w1 === 0 && this.w2 === 0xffff;
  }

  /** A solicited-node group ff02::1:ff00:0/104 (RFC 4291 §2.7.1). */
  get isSolicitedNode(): boolean {
    return this.w0 === 0xff020000 && this.w1 === 0 && this.w2 === 1 && this.w3 >>> 24 === 0xff;
  }

  /** A unicast address usable as a destination: not multicast, unspecified or loopback. */
  get isUnicast(): boolean {
    return !this.isMulticast && !this.isUnspecified && !this.isLoopback;
  }

  /** A multicast address's scope (RFC 4291 §2.7: 1 interface, 2 link, 5 site, 0xe global), else -1. */
  get multicastScope(): number {
    return this.isMulticast ? (this.w0 >>> 16) & 0xf : -1;
  }

  /** The solicited-node group of this address: ff02::1:ff00:0 plus its low 24 bits (RFC 4291 §2.7.1). */
  get solicitedNode(): Ipv6Address {
    return new Ipv6Address(0xff020000, 0, 1, 0xff000000 | (this.w3 & 0xffffff));
  }

  /** The Ethernet MAC of this multicast address: 33:33 and its low 32 bits (RFC 2464 §7). */
  get multicastMac(): number {
    return 0x3333 * TWO_32 + this.w3;
  }
}

/** True when `a` and `b` agree in their first `bits` bits (all when 32 or more, none when 0 or fewer). */
function prefixWord(a: number, b: number, bits: number): boolean {
  if (bits <= 0) return true;
  const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits);
  return ((a ^ b) & mask) === 0;
}

/** Writes the address held in words to bytes without an object (the data path's copy). */
export function copyIpv6(from: Uint8Array, fromAt: number, to: Uint8Array, toAt: number): void {
  for (let i = 0; i < 16; i++) to[toAt + i] = from[fromAt + i];
}

/** The multicast MAC of the IPv6 group at `bytes[at..at+16)` (RFC 2464 §7), without allocating. */
export function multicastMacAt(bytes: Uint8Array, at: number): number {
  return 0x3333 * TWO_32 + read32(bytes, at + 12);
}

/** True when `bytes[at]` starts a multicast address (ff00::/8). */
export function isMulticastAt(bytes: Uint8Array, at: number): boolean {
  return bytes[at] === 0xff;
}

/** True when `bytes[at..at+16)` is :: . */
export function isUnspecifiedAt(bytes: Uint8Array, at: number): boolean {
  return (read32(bytes, at) | read32(bytes, at + 4) | read32(bytes, at + 8) |
    read32(bytes, at + 12)) === 0;
}

/** ::. */
export const IPV6_UNSPECIFIED = new Ipv6Address(0, 0, 0, 0);
/** ::1. */
export const IPV6_LOOPBACK = new Ipv6Address(0, 0, 0, 1);
/** ff02::1, all nodes on the link. */
export const IPV6_ALL_NODES = new Ipv6Address(0xff020000, 0, 0, 1);
/** ff02::2, all routers on the link. */
export const IPV6_ALL_ROUTERS = new Ipv6Address(0xff020000, 0, 0, 2);
/** ff02::16, where MLDv2 reports go (RFC 3810 §5.2.14). */
export const IPV6_ALL_MLDV2_ROUTERS = new Ipv6Address(0xff020000, 0, 0, 0x16);
/** fe80::, the link-local prefix (/64 for addresses). */
const LINK_LOCAL_PREFIX = new Ipv6Address(0xfe800000, 0, 0, 0);

/** An address with its prefix length, such as 2001:db8::1/64. */
export class Ipv6Cidr {
  /** The address as written. */
  readonly address: Ipv6Address;
  /** Leading network bits, 0..128. */
  readonly prefixLength: number;

  /** Creates a CIDR; throws when `prefixLength` is not an integer in 0..128. */
  constructor(address: Ipv6Address, prefixLength: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 128) {
      throw new RangeError(
        `Cannot create IPv6 CIDR: prefix length ${prefixLength} is not in 0..128`,
      );
    }
    this.address = address;
    this.prefixLength = prefixLength;
  }

  /** Parses "2001:db8::1/64"; throws with the reason on bad input. */
  static parse(text: string): Ipv6Cidr {
    const slash = text.indexOf("/");
    const address = slash < 0 ? undefined : Ipv6Address.tryParse(text.slice(0, slash));
    const prefix = slash < 0 ? "" : text.slice(slash + 1);
    if (address === undefined || !/^(?:[0-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$/.test(prefix)) {
      throw new TypeError(
        `Cannot parse IPv6 CIDR ${JSON.stringify(text)}: expected an address, "/" and 0..128`,
      );
    }
    return new Ipv6Cidr(address, Number(prefix));
  }

  /** The network address (host bits cleared). */
  get network(): Ipv6Address {
    return this.address.masked(this.prefixLength);
  }

  /** True when `address` is inside this network. */
  contains(address: Ipv6Address): boolean {
    return address.hasPrefix(this.address, this.prefixLength);
  }

  /** "2001:db8::1/64". */
  toString(): string {
    return `${this.address}/${this.prefixLength}`;
  }
}

/** "[2001:db8::1]:80" for IPv6 (RFC 5952 §6), "10.0.0.1:80" for a dotted quad. */
export function formatHostPort(host: string | Ipv6Address, port: number): string {
  const text = String(host);
  return text.includes(":") ? `[${text}]:${port}` : `${text}:${port}`;
}

/** Splits "[::1]:80" or "10.0.0.1:80" into host text and port; undefined when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  let host: string;
  let rest: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return undefined;
    host = text.slice(1, close);
    rest = text.slice(close + 2);
    if (Ipv6Address.tryParse(host) === undefined) return undefined;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0 || text.indexOf(":") !== colon) return undefined;
    host = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(rest) || Number(rest) > 65535) return undefined;
  return { host, port: Number(rest) };
}

/** The upper 32 bits of the modified EUI-64 identifier: the MAC's first three bytes (U/L bit flipped), ff. */
function eui64High(mac: number): number {
  const hi = Math.floor(mac / TWO_32); // first two bytes
  const lo = mac >>> 0;
  return ((((hi >>> 8) ^ 0x02) << 24) | ((hi & 0xff) << 16) | ((lo >>> 24) << 8) | 0xff) >>> 0;
}

/** The lower 32 bits of the modified EUI-64 identifier: fe and the MAC's last three bytes. */
function eui64Low(mac: number): number {
  return (0xfe000000 | ((mac >>> 0) & 0xffffff)) >>> 0;
}

function parseGroups(text: string): number[] | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const double = text.indexOf("::");
  if (double >= 0 && text.indexOf("::", double + 1) >= 0) return undefined;
  let head: string[] = [];
  let tail: string[] = [];
  if (double >= 0) {
    const left = text.slice(0, double);
    const right = text.slice(double + 2);
    head = left === "" ? [] : left.split(":");
    tail = right === "" ? [] : right.split(":");
  } else {
    head = text.split(":");
  }
  const groups: number[] = [];
  const parsePart = (parts: string[], out: number[], last: boolean): boolean => {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (last && i === parts.length - 1 && part.includes(".")) {
        const v4 = parseDotted(part);
        if (v4 === undefined) return false;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return false;
      out.push(parseInt(part, 16));
    }
    return true;
  };
  const headGroups: number[] = [];
  const tailGroups: number[] = [];
  if (!parsePart(head, headGroups, double < 0)) return undefined;
  if (!parsePart(tail, tailGroups, true)) return undefined;
  const count = headGroups.length + tailGroups.length;
  if (double < 0) {
    if (count !== 8) return undefined;
  } else if (count > 7) {
    return undefined;
  }
  groups.push(...headGroups);
  for (let i = count; i < 8; i++) groups.push(0);
  groups.push(...tailGroups);
  return groups;
}

function parseDotted(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function formatWords(w0: number, w1: number, w2: number, w3: number): string {
  const g = [
    w0 >>> 16,
    w0 & 0xffff,
    w1 >>> 16,
    w1 & 0xffff,
    w2 >>> 16,
    w2 & 0xffff,
    w3 >>> 16,
    w3 & 0xffff,
  ];
  // RFC 5952 §4.2: compress the longest run of zero groups (the first on a tie), never a single one.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  // RFC 5952 §5: an IPv4-mapped address ends in a dotted quad.
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) {
    return `::ffff:${w3 >>> 24}.${(w3 >>> 16) & 0xff}.${(w3 >>> 8) & 0xff}.${w3 & 0xff}`;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(":");
  const left = g.slice(0, bestStart).map((x) => x.toString(16)).join(":");
  const right = g.slice(bestStart + bestLength).map((x) => x.toString(16)).join(":");
  return `${left}::${right}`;
}

function read32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function write32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = value >>> 16;
  bytes[at + 2] = value >>> 8;
  bytes[at + 3] = value;
}
