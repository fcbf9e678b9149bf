/**
 * IPv4 datagrams (RFC 791): the `Ipv4Packet` view and the `Ipv4Repr`. Options are skipped, not
 * interpreted; the payload is bounded by the total length field, not by the buffer, because Ethernet
 * pads short frames.
 *
 * @module
 */

import { readIpv4, writeIpv4 } from "./address.ts";
import { internetChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { WireView } from "./view.ts";

const VER_IHL = 0;
const DSCP_ECN = 1;
const TOTAL_LENGTH = 2;
const IDENT = 4;
const FLAGS_FRAG = 6;
const TTL = 8;
const PROTOCOL = 9;
const CHECKSUM = 10;
const SRC = 12;
const DST = 16;

/** Don't Fragment, in the flags/fragment-offset word. */
const DF = 0x4000;
/** More Fragments. */
const MF = 0x2000;

/** The length of an IPv4 header without options. */
export const IPV4_HEADER_LENGTH = 20;
/** The longest IPv4 header: IHL 15. */
export const IPV4_MAX_HEADER_LENGTH = 60;
/** The largest total length (the field is 16 bits). */
export const IPV4_MAX_TOTAL_LENGTH = 0xffff;
/** The TTL Linux uses by default. */
export const IPV4_DEFAULT_TTL = 64;

/** IP protocol numbers (IANA "Assigned Internet Protocol Numbers"). */
export const IpProtocol = {
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
  Icmpv6: 58,
} as const;

/** A view over an IPv4 datagram in `bytes[offset .. offset + length)`; `length` may include padding. */
export class Ipv4Packet extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates version, header length and total length against the region (not the checksum). */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse IPv4 header");
    if (region !== undefined) return region;
    if (this.length < IPV4_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse IPv4 header: ${this.length} bytes is below the 20-byte header`,
      );
    }
    if (this.version !== 4) {
      return new WireError(
        "malformed",
        `Cannot parse IPv4 header: version ${this.version} is not 4`,
      );
    }
    const headerLength = this.headerLength;
    if (headerLength < IPV4_HEADER_LENGTH) {
      return new WireError(
        "malformed",
        `Cannot parse IPv4 header: header length ${headerLength} is below 20`,
      );
    }
    const totalLength = this.totalLength;
    if (totalLength < headerLength) {
      return new WireError(
        "malformed",
        `Cannot parse IPv4 header: total length ${totalLength} is below the ${headerLength}-byte header`,
      );
    }
    if (totalLength > this.length) {
      return new WireError(
        "truncated",
        `Cannot parse IPv4 header: total length ${totalLength} is beyond the ${this.length} bytes received`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): Ipv4Packet | WireError {
    const view = new Ipv4Packet(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The version (4). */
  get version(): number {
    return this.bytes[this.offset + VER_IHL] >>> 4;
  }
  set version(value: number) {
    const at = this.offset + VER_IHL;
    this.bytes[at] = ((value & 0xf) << 4) | (this.bytes[at] & 0xf);
  }

  /** The header length in bytes (IHL × 4), options included. */
  get headerLength(): number {
    return (this.bytes[this.offset + VER_IHL] & 0xf) * 4;
  }
  set headerLength(value: number) {
    const at = this.offset + VER_IHL;
    this.bytes[at] = (this.bytes[at] & 0xf0) | ((value >>> 2) & 0xf);
  }

  /** The differentiated services code point (6 bits, RFC 2474). */
  get dscp(): number {
    return this.bytes[this.offset + DSCP_ECN] >>> 2;
  }
  set dscp(value: number) {
    const at = this.offset + DSCP_ECN;
    this.bytes[at] = ((value & 0x3f) << 2) | (this.bytes[at] & 3);
  }

  /** The ECN field (2 bits, RFC 3168). */
  get ecn(): number {
    return this.bytes[this.offset + DSCP_ECN] & 3;
  }
  set ecn(value: number) {
    const at = this.offset + DSCP_ECN;
    this.bytes[at] = (this.bytes[at] & 0xfc) | (value & 3);
  }

  /** The total length of the datagram, header included. */
  get totalLength(): number {
    return read16(this.bytes, this.offset + TOTAL_LENGTH);
  }
  set totalLength(value: number) {
    write16(this.bytes, this.offset + TOTAL_LENGTH, value);
  }

  /** The identification, shared by the fragments of one datagram. */
  get ident(): number {
    return read16(this.bytes, this.offset + IDENT);
  }
  set ident(value: number) {
    write16(this.bytes, this.offset + IDENT, value);
  }

  /** The Don't Fragment flag. */
  get dontFragment(): boolean {
    return (read16(this.bytes, this.offset + FLAGS_FRAG) & DF) !== 0;
  }
  set dontFragment(value: boolean) {
    this.#setFlag(DF, value);
  }

  /** The More Fragments flag. */
  get moreFragments(): boolean {
    return (read16(this.bytes, this.offset + FLAGS_FRAG) & MF) !== 0;
  }
  set moreFragments(value: boolean) {
    this.#setFlag(MF, value);
  }

  /** The reserved (evil) bit, which senders must leave clear (RFC 791 §3.1). */
  get reservedFlag(): boolean {
    return (this.bytes[this.offset + FLAGS_FRAG] & 0x80) !== 0;
  }

  /** The fragment offset in bytes (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return (read16(this.bytes, this.offset + FLAGS_FRAG) & 0x1fff) * 8;
  }
  set fragmentOffset(bytes: number) {
    const at = this.offset + FLAGS_FRAG;
    write16(this.bytes, at, (read16(this.bytes, at) & 0xe000) | ((bytes >>> 3) & 0x1fff));
  }

  /** True for any fragment of a fragmented datagram (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (read16(this.bytes, this.offset + FLAGS_FRAG) & (MF | 0x1fff)) !== 0;
  }

  /** The time to live. */
  get ttl(): number {
    return this.bytes[this.offset + TTL];
  }
  set ttl(value: number) {
    this.bytes[this.offset + TTL] = value;
  }

  /** The payload's protocol, such as `IpProtocol.Tcp`. */
  get protocol(): number {
    return this.bytes[this.offset + PROTOCOL];
  }
  set protocol(value: number) {
    this.bytes[this.offset + PROTOCOL] = value;
  }

  /** The header checksum field. */
  get checksum(): number {
    return read16(this.bytes, this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    write16(this.bytes, this.offset + CHECKSUM, value);
  }

  /** The source address. */
  get src(): number {
    return readIpv4(this.bytes, this.offset + SRC);
  }
  set src(address: number) {
    writeIpv4(this.bytes, this.offset + SRC, address);
  }

  /** The destination address. */
  get dst(): number {
    return readIpv4(this.bytes, this.offset + DST);
  }
  set dst(address: number) {
    writeIpv4(this.bytes, this.offset + DST, address);
  }

  /** Absolute offset of the options in `bytes`. */
  get optionsOffset(): number {
    return this.offset + IPV4_HEADER_LENGTH;
  }

  /** The length of the options in bytes. */
  get optionsLength(): number {
    return this.headerLength - IPV4_HEADER_LENGTH;
  }

  /** Absolute offset of the payload in `bytes`. */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** The payload length, from the total length field (padding after it is not payload). */
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }

  /** True when the header checksum is valid. */
  verifyChecksum(): boolean {
    return internetChecksum(this.bytes, this.offset, this.headerLength) === 0;
  }

  /** Computes and writes the header checksum. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, this.offset, this.headerLength);
  }

  #setFlag(mask: number, value: boolean): void {
    const at = this.offset + FLAGS_FRAG;
    const word = read16(this.bytes, at);
    write16(this.bytes, at, value ? word | mask : word & ~mask);
  }
}

/** The decoded header of an IPv4 datagram. Options are not kept; `emit` writes none. */
export class Ipv4Repr {
  /** The source address. */
  src = 0;
  /** The destination address. */
  dst = 0;
  /** The payload's protocol, such as `IpProtocol.Udp`. */
  protocol = 0;
  /** The payload length in bytes. */
  payloadLength = 0;
  /** The time to live. */
  ttl = IPV4_DEFAULT_TTL;
  /** The differentiated services code point. */
  dscp = 0;
  /** The ECN field. */
  ecn = 0;
  /** The identification. */
  ident = 0;
  /** The Don't Fragment flag. */
  dontFragment = false;
  /** The More Fragments flag. */
  moreFragments = false;
  /** The fragment offset in bytes, a multiple of 8. */
  fragmentOffset = 0;
  /** Set by `parse`: absolute offset of the payload in the parsed view's `bytes`. */
  payloadOffset = 0;

  /**
   * Decodes a datagram header, verifying its checksum unless `verifyChecksum` is false. A fragment is
   * returned as is; reassembly is the IPv4 layer's job.
   */
  static parse(view: Ipv4Packet, into?: Ipv4Repr, verifyChecksum = true): Ipv4Repr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    if (verifyChecksum && !view.verifyChecksum()) {
      return new WireError("checksum", "Cannot parse IPv4 header: bad header checksum");
    }
    const repr = into ?? new Ipv4Repr();
    repr.src = view.src;
    repr.dst = view.dst;
    repr.protocol = view.protocol;
    repr.payloadLength = view.payloadLength;
    repr.ttl = view.ttl;
    repr.dscp = view.dscp;
    repr.ecn = view.ecn;
    repr.ident = view.ident;
    repr.dontFragment = view.dontFragment;
    repr.moreFragments = view.moreFragments;
    repr.fragmentOffset = view.fragmentOffset;
    repr.payloadOffset = view.payloadOffset;
    return repr;
  }

  /** The header length `emit` writes: 20 (no options). */
  get headerLength(): number {
    return IPV4_HEADER_LENGTH;
  }

  /** The datagram length for a payload of `payloadLength` bytes (default: this repr's). */
  bufferLength(payloadLength: number = this.payloadLength): number {
    return IPV4_HEADER_LENGTH + payloadLength;
  }

  /**
   * Writes the header (total length from `payloadLength`) into a view already wrapped over at least 20
   * bytes, and its checksum unless `fillChecksum` is false.
   */
  emit(view: Ipv4Packet, fillChecksum = true): void {
    const bytes = view.bytes;
    const at = view.offset;
    bytes[at + VER_IHL] = 0x45;
    bytes[at + DSCP_ECN] = ((this.dscp & 0x3f) << 2) | (this.ecn & 3);
    write16(bytes, at + TOTAL_LENGTH, IPV4_HEADER_LENGTH + this.payloadLength);
    write16(bytes, at + IDENT, this.ident);
    write16(
      bytes,
      at + FLAGS_FRAG,
      (this.dontFragment ? DF : 0) | (this.moreFragments ? MF : 0) |
        ((this.fragmentOffset >>> 3) & 0x1fff),
    );
    bytes[at + TTL] = this.ttl;
    bytes[at + PROTOCOL] = this.protocol;
    write16(bytes, at + CHECKSUM, 0);
    writeIpv4(bytes, at + SRC, this.src);
    writeIpv4(bytes, at + DST, this.dst);
    if (fillChecksum) {
      write16(bytes, at + CHECKSUM, internetChecksum(bytes, at, IPV4_HEADER_LENGTH));
    }
  }
}

function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}
