/**
 * IPv6 packets (RFC 8200 §3): the `Ipv6Packet` view over the fixed 40-byte header and the `Ipv6Repr`,
 * plus the upper-layer pseudo-header sum (RFC 8200 §8.1) that UDP, TCP and ICMPv6 checksums start from.
 * The payload is bounded by the payload length field, not by the buffer, because Ethernet pads short
 * frames. Extension headers are in ipv6_ext.ts.
 *
 * @module
 */

import { foldSum, onesSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { Ipv6Address } from "./ipv6_address.ts";
import { WireView } from "./view.ts";

const VER_TC_FLOW = 0;
const PAYLOAD_LENGTH = 4;
const NEXT_HEADER = 6;
const HOP_LIMIT = 7;
const SRC = 8;
const DST = 24;

/** The length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40;
/** The smallest link MTU IPv6 allows (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** The hop limit Linux uses by default. */
export const IPV6_DEFAULT_HOP_LIMIT = 64;
/** The EtherType of IPv6 (RFC 2464). */
export const ETHERTYPE_IPV6 = 0x86dd;

/** Next header values (IANA "Assigned Internet Protocol Numbers"). */
export const Ipv6NextHeader = {
  HopByHop: 0,
  Tcp: 6,
  Udp: 17,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Auth: 51,
  Icmpv6: 58,
  NoNextHeader: 59,
  DestinationOptions: 60,
} as const;

/** A view over an IPv6 packet in `bytes[offset .. offset + length)`; `length` may include padding. */
export class Ipv6Packet extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates the version and the payload length against the region. */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse IPv6 header");
    if (region !== undefined) return region;
    if (this.length < IPV6_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse IPv6 header: ${this.length} bytes is below the 40-byte header`,
      );
    }
    if (this.version !== 6) {
      return new WireError(
        "malformed",
        `Cannot parse IPv6 header: version ${this.version} is not 6`,
      );
    }
    const payloadLength = this.payloadLength;
    if (IPV6_HEADER_LENGTH + payloadLength > this.length) {
      return new WireError(
        "truncated",
        `Cannot parse IPv6 header: payload length ${payloadLength} is beyond the ${
          this.length - IPV6_HEADER_LENGTH
        } bytes received`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): Ipv6Packet | WireError {
    const view = new Ipv6Packet(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The version (6). */
  get version(): number {
    return this.bytes[this.offset + VER_TC_FLOW] >>> 4;
  }

  /** The traffic class (DSCP and ECN, RFC 2474 / RFC 3168). */
  get trafficClass(): number {
    const at = this.offset + VER_TC_FLOW;
    return ((this.bytes[at] & 0xf) << 4) | (this.bytes[at + 1] >>> 4);
  }
  set trafficClass(value: number) {
    const at = this.offset + VER_TC_FLOW;
    this.bytes[at] = (this.bytes[at] & 0xf0) | ((value >>> 4) & 0xf);
    this.bytes[at + 1] = ((value & 0xf) << 4) | (this.bytes[at + 1] & 0xf);
  }

  /** The 20-bit flow label (RFC 6437). */
  get flowLabel(): number {
    const at = this.offset + VER_TC_FLOW;
    return ((this.bytes[at + 1] & 0xf) << 16) | (this.bytes[at + 2] << 8) | this.bytes[at + 3];
  }
  set flowLabel(value: number) {
    const at = this.offset + VER_TC_FLOW;
    this.bytes[at + 1] = (this.bytes[at + 1] & 0xf0) | ((value >>> 16) & 0xf);
    this.bytes[at + 2] = value >>> 8;
    this.bytes[at + 3] = value;
  }

  /** The payload length: everything after the fixed header, extension headers included. */
  get payloadLength(): number {
    const at = this.offset + PAYLOAD_LENGTH;
    return (this.bytes[at] << 8) | this.bytes[at + 1];
  }
  set payloadLength(value: number) {
    const at = this.offset + PAYLOAD_LENGTH;
    this.bytes[at] = value >>> 8;
    this.bytes[at + 1] = value;
  }

  /** The type of the header after the fixed one. */
  get nextHeader(): number {
    return this.bytes[this.offset + NEXT_HEADER];
  }
  set nextHeader(value: number) {
    this.bytes[this.offset + NEXT_HEADER] = value;
  }

  /** The hop limit. */
  get hopLimit(): number {
    return this.bytes[this.offset + HOP_LIMIT];
  }
  set hopLimit(value: number) {
    this.bytes[this.offset + HOP_LIMIT] = value;
  }

  /** Absolute offset of the source address in `bytes` (compare in place with `equalsAt`). */
  get srcOffset(): number {
    return this.offset + SRC;
  }

  /** Absolute offset of the destination address in `bytes`. */
  get dstOffset(): number {
    return this.offset + DST;
  }

  /** The source address (allocates; the data path compares at `srcOffset` instead). */
  get src(): Ipv6Address {
    return Ipv6Address.read(this.bytes, this.offset + SRC);
  }
  set src(address: Ipv6Address) {
    address.write(this.bytes, this.offset + SRC);
  }

  /** The destination address (allocates). */
  get dst(): Ipv6Address {
    return Ipv6Address.read(this.bytes, this.offset + DST);
  }
  set dst(address: Ipv6Address) {
    address.write(this.bytes, this.offset + DST);
  }

  /** Absolute offset of the payload (the first extension header, or the upper layer). */
  get payloadOffset(): number {
    return this.offset + IPV6_HEADER_LENGTH;
  }

  /** The sum of the pseudo-header of this packet's addresses for an upper layer (RFC 8200 §8.1). */
  pseudoHeaderSum(nextHeader: number, upperLength: number): number {
    // Source and destination are adjacent, so one 32-byte sum covers both.
    return foldSum(
      onesSum(this.bytes, this.offset + SRC, 32) + (upperLength >>> 16) + (upperLength & 0xffff) +
        nextHeader,
    );
  }
}

/** The pseudo-header sum (RFC 8200 §8.1) from address values, without touching packet bytes. */
export function ipv6PseudoHeaderSum(
  src: Ipv6Address,
  dst: Ipv6Address,
  nextHeader: number,
  upperLength: number,
): number {
  return foldSum(
    halves(src.w0) + halves(src.w1) + halves(src.w2) + halves(src.w3) + halves(dst.w0) +
      halves(dst.w1) + halves(dst.w2) + halves(dst.w3) + (upperLength >>> 16) +
      (upperLength & 0xffff) + nextHeader,
  );
}

function halves(word: number): number {
  return (word >>> 16) + (word & 0xffff);
}

/** The decoded fixed header of an IPv6 packet. */
export class Ipv6Repr {
  /** The source address. */
  src: Ipv6Address = new Ipv6Address(0, 0, 0, 0);
  /** The destination address. */
  dst: Ipv6Address = new Ipv6Address(0, 0, 0, 0);
  /** The type of the first header after this one. */
  nextHeader = 0;
  /** The payload length, extension headers included. */
  payloadLength = 0;
  /** The hop limit. */
  hopLimit = IPV6_DEFAULT_HOP_LIMIT;
  /** The traffic class. */
  trafficClass = 0;
  /** The flow label. */
  flowLabel = 0;
  /** Set by `parse`: absolute offset of the payload in the parsed view's `bytes`. */
  payloadOffset = 0;

  /** Decodes the fixed header (allocates the two addresses: a control-path helper). */
  static parse(view: Ipv6Packet, into?: Ipv6Repr): Ipv6Repr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    const repr = into ?? new Ipv6Repr();
    repr.src = view.src;
    repr.dst = view.dst;
    repr.nextHeader = view.nextHeader;
    repr.payloadLength = view.payloadLength;
    repr.hopLimit = view.hopLimit;
    repr.trafficClass = view.trafficClass;
    repr.flowLabel = view.flowLabel;
    repr.payloadOffset = view.payloadOffset;
    return repr;
  }

  /** The header length `emit` writes: 40. */
  get headerLength(): number {
    return IPV6_HEADER_LENGTH;
  }

  /** The packet length for a payload of `payloadLength` bytes (default: this repr's). */
  bufferLength(payloadLength: number = this.payloadLength): number {
    return IPV6_HEADER_LENGTH + payloadLength;
  }

  /** Writes the fixed header into a view already wrapped over at least 40 bytes. */
  emit(view: Ipv6Packet): void {
    const bytes = view.bytes;
    const at = view.offset;
    bytes[at] = 0x60 | ((this.trafficClass >>> 4) & 0xf);
    bytes[at + 1] = ((this.trafficClass & 0xf) << 4) | ((this.flowLabel >>> 16) & 0xf);
    bytes[at + 2] = this.flowLabel >>> 8;
    bytes[at + 3] = this.flowLabel;
    bytes[at + PAYLOAD_LENGTH] = this.payloadLength >>> 8;
    bytes[at + PAYLOAD_LENGTH + 1] = this.payloadLength;
    bytes[at + NEXT_HEADER] = this.nextHeader;
    bytes[at + HOP_LIMIT] = this.hopLimit;
    this.src.write(bytes, at + SRC);
    this.dst.write(bytes, at + DST);
  }
}
