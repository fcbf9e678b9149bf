/**
 * IPv4 and Ethernet (MAC) addresses as plain numbers (see stack/DESIGN.md): an IPv4 address is its
 * unsigned 32-bit value, a MAC its 48-bit value. Both are allocation-free, comparable with `===`, and
 * usable as map keys. Parsing of text is for configuration and CLIs; it throws on bad input.
 *
 * @module
 */

/** 2^32: the weight of a MAC's top 16 bits. */
const TWO_32 = 0x1_0000_0000;

/** 0.0.0.0. */
export const IPV4_UNSPECIFIED = 0;
/** 255.255.255.255, the limited broadcast address. */
export const IPV4_BROADCAST = 0xffffffff;
/** ff:ff:ff:ff:ff:ff. */
export const MAC_BROADCAST = 0xffff_ffff_ffff;
/** 00:00:00:00:00:00 (the unknown target hardware address of an ARP request). */
export const MAC_UNSPECIFIED = 0;

/** Parses a strict dotted quad ("10.0.0.1"), or returns undefined. */
export function tryParseIpv4(text: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a virtual "." closes the last part
    if (c >= 0x30 && c <= 0x39) {
      // A leading zero is refused: inet_aton would read "010" as octal 8.
      if (digits === 1 && part === 0) return undefined;
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) return undefined;
    } else if (c === 0x2e) {
      if (digits === 0 || parts === 4) return undefined;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  return parts === 4 ? value >>> 0 : undefined;
}

/** Parses a strict dotted quad ("10.0.0.1"); throws on anything else. */
export function parseIpv4(text: string): number {
  const value = tryParseIpv4(text);
  if (value === undefined) {
    throw new TypeError(
      `Cannot parse IPv4 address ${
        JSON.stringify(text)
      }: expected four decimal numbers 0-255 joined by dots`,
    );
  }
  return value;
}

/** Formats an IPv4 address as a dotted quad. */
export function formatIpv4(address: number): string {
  const a = address >>> 0;
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** Parses "aa:bb:cc:dd:ee:ff" (hex digits in either case), or returns undefined. */
export function tryParseMac(text: string): number | undefined {
  if (text.length !== 17) return undefined;
  let value = 0;
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(text.charCodeAt(i * 3));
    const lo = hexDigit(text.charCodeAt(i * 3 + 1));
    if (hi < 0 || lo < 0) return undefined;
    if (i < 5 && text.charCodeAt(i * 3 + 2) !== 0x3a) return undefined;
    value = value * 256 + hi * 16 + lo;
  }
  return value;
}

/** Parses "aa:bb:cc:dd:ee:ff"; throws on anything else. */
export function parseMac(text: string): number {
  const value = tryParseMac(text);
  if (value === undefined) {
    throw new TypeError(
      `Cannot parse MAC address ${
        JSON.stringify(text)
      }: expected six two-digit hex numbers joined by colons`,
    );
  }
  return value;
}

/** Formats a MAC address as lowercase "aa:bb:cc:dd:ee:ff". */
export function formatMac(mac: number): string {
  const hi = Math.floor(mac / TWO_32);
  const lo = mac >>> 0;
  return [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join(":");
}

/** Reads a big-endian IPv4 address at `bytes[at..at+4)`. */
export function readIpv4(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** Writes an IPv4 address big-endian at `bytes[at..at+4)`. */
export function writeIpv4(bytes: Uint8Array, at: number, address: number): void {
  bytes[at] = address >>> 24;
  bytes[at + 1] = address >>> 16;
  bytes[at + 2] = address >>> 8;
  bytes[at + 3] = address;
}

/** Reads a MAC address at `bytes[at..at+6)`. */
export function readMac(bytes: Uint8Array, at: number): number {
  const hi = (bytes[at] << 8) | bytes[at + 1];
  const lo =
    ((bytes[at + 2] << 24) | (bytes[at + 3] << 16) | (bytes[at + 4] << 8) | bytes[at + 5]) >>>
    0;
  return hi * TWO_32 + lo;
}

/** Writes a MAC address at `bytes[at..at+6)`. */
export function writeMac(bytes: Uint8Array, at: number, mac: number): void {
  const hi = Math.floor(mac / TWO_32);
  const lo = mac >>> 0;
  bytes[at] = hi >>> 8;
  bytes[at + 1] = hi;
  bytes[at + 2] = lo >>> 24;
  bytes[at + 3] = lo >>> 16;
  bytes[at + 4] = lo >>> 8;
  bytes[at + 5] = lo;
}

/** ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(mac: number): boolean {
  return mac === MAC_BROADCAST;
}

/** The group bit (the least significant bit of the first octet) is set; broadcast is multicast too. */
export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / 0x100_0000_0000) & 1) === 1;
}

/** Neither multicast nor broadcast. */
export function isUnicastMac(mac: number): boolean {
  return !isMulticastMac(mac);
}

/** The locally administered bit (second-least significant bit of the first octet) is set. */
export function isLocalMac(mac: number): boolean {
  return (Math.floor(mac / 0x100_0000_0000) & 2) === 2;
}

/** 0.0.0.0. */
export function isUnspecifiedIpv4(address: number): boolean {
  return address >>> 0 === 0;
}

/** 255.255.255.255 (the limited broadcast; a subnet's directed broadcast is `Ipv4Cidr.broadcast`). */
export function isBroadcastIpv4(address: number): boolean {
  return address >>> 0 === IPV4_BROADCAST;
}

/** 224.0.0.0/4 (RFC 5771). */
export function isMulticastIpv4(address: number): boolean {
  return address >>> 28 === 0xe;
}

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3). */
export function isLoopbackIpv4(address: number): boolean {
  return address >>> 24 === 127;
}

/** 169.254.0.0/16 (RFC 3927). */
export function isLinkLocalIpv4(address: number): boolean {
  return address >>> 16 === 0xa9fe;
}

/** A usable unicast destination: not unspecified, broadcast, multicast or class E (240/4). */
export function isUnicastIpv4(address: number): boolean {
  return address >>> 0 !== 0 && address >>> 28 < 0xe;
}

/**
 * The Ethernet multicast MAC of an IPv4 group (RFC 1112 §6.4): 01:00:5e followed by the group's low 23
 * bits.
 */
export function multicastMacForIpv4(group: number): number {
  return 0x01_00_5e_00_00_00 + (group & 0x7f_ffff);
}

/** An interface address with its prefix, such as 10.0.0.1/24. */
export class Ipv4Cidr {
  /** The address as written (a host address for an interface, or a network). */
  readonly address: number;
  /** The number of leading network bits, 0..32. */
  readonly prefixLength: number;

  /** Creates a CIDR; throws when `prefixLength` is not an integer in 0..32. */
  constructor(address: number, prefixLength: number) {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
      throw new RangeError(
        `Cannot create IPv4 CIDR: prefix length ${prefixLength} is not in 0..32`,
      );
    }
    if (!Number.isInteger(address) || address < 0 || address > IPV4_BROADCAST) {
      throw new RangeError(`Cannot create IPv4 CIDR: address ${address} is not a 32-bit value`);
    }
    this.address = address >>> 0;
    this.prefixLength = prefixLength;
  }

  /** Parses "10.0.0.1/24"; throws with the reason on bad input. */
  static parse(text: string): Ipv4Cidr {
    const result = parseCidr(text);
    if (typeof result === "string") {
      throw new TypeError(`Cannot parse IPv4 CIDR ${JSON.stringify(text)}: ${result}`);
    }
    return result;
  }

  /** Parses "10.0.0.1/24", or returns undefined. */
  static tryParse(text: string): Ipv4Cidr | undefined {
    const result = parseCidr(text);
    return typeof result === "string" ? undefined : result;
  }

  /** The netmask, such as 255.255.255.0 for /24. */
  get netmask(): number {
    // A shift by 32 is a shift by 0 in JavaScript, so /0 needs its own case.
    return this.prefixLength === 0 ? 0 : (0xffffffff << (32 - this.prefixLength)) >>> 0;
  }

  /** The network address (host bits cleared). */
  get network(): number {
    return (this.address & this.netmask) >>> 0;
  }

  /**
   * The directed broadcast address (host bits set), or undefined for /31 (RFC 3021 point-to-point) and
   * /32, which have none.
   */
  get broadcast(): number | undefined {
    if (this.prefixLength >= 31) return undefined;
    return (this.address | ~this.netmask) >>> 0;
  }

  /** True when `address` is inside this network. */
  contains(address: number): boolean {
    return ((address ^ this.address) & this.netmask) === 0;
  }

  /** "10.0.0.1/24". */
  toString(): string {
    return `${formatIpv4(this.address)}/${this.prefixLength}`;
  }
}

/** A CIDR, or the reason `text` is not one. */
function parseCidr(text: string): Ipv4Cidr | string {
  const slash = text.indexOf("/");
  if (slash < 0) return "missing the /prefix length";
  const address = tryParseIpv4(text.slice(0, slash));
  if (address === undefined) return `${JSON.stringify(text.slice(0, slash))} is not a dotted quad`;
  const prefix = text.slice(slash + 1);
  if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(prefix)) {
    return `prefix length ${JSON.stringify(prefix)} is not a number in 0..32`;
  }
  return new Ipv4Cidr(address, Number(prefix));
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
