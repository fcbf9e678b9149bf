/**
 * ICMPv6 messages (RFC 4443): the `Icmpv6Packet` view over the 4-byte header and the 4-byte word after
 * it (echo identifier and sequence, the MTU of Packet Too Big, the pointer of Parameter Problem), and the
 * `Icmpv6Repr` for echo and error messages. The checksum covers the IPv6 pseudo-header (RFC 4443 §2.3).
 * NDP and MLD bodies are in ndp.ts and mld.ts.
 *
 * @module
 */

import { internetChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { type Ipv6Address } from "./ipv6_address.ts";
import { ipv6PseudoHeaderSum } from "./ipv6.ts";
import { WireView } from "./view.ts";

/** The ICMPv6 next header value. */
export const ICMPV6_PROTOCOL = 58;
/** The header length: type, code, checksum. */
export const ICMPV6_HEADER_LENGTH = 4;

/** Message types (RFC 4443 §2.1, RFC 4861 §4, RFC 3810 §5). */
export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MldQuery: 130,
  MldReportV1: 131,
  MldDoneV1: 132,
  RouterSolicit: 133,
  RouterAdvert: 134,
  NeighborSolicit: 135,
  NeighborAdvert: 136,
  Redirect: 137,
  MldReportV2: 143,
} as const;

/** Destination unreachable codes (RFC 4443 §3.1). */
export const Icmpv6Unreachable = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  AddressUnreachable: 3,
  PortUnreachable: 4,
} as const;

/** Parameter problem codes (RFC 4443 §3.4). */
export const Icmpv6ParamProblem = {
  ErroneousHeader: 0,
  UnrecognizedNextHeader: 1,
  UnrecognizedOption: 2,
} as const;

/** Time exceeded codes (RFC 4443 §3.3). */
export const Icmpv6TimeExceeded = { HopLimit: 0, FragmentReassembly: 1 } as const;

/** A view over an ICMPv6 message in `bytes[offset .. offset + length)` (the IPv6 upper-layer payload). */
export class Icmpv6Packet extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates the region and the length the type needs (8 bytes for echo and errors). */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse ICMPv6 message");
    if (region !== undefined) return region;
    if (this.length < ICMPV6_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse ICMPv6 message: ${this.length} bytes is below the 4-byte header`,
      );
    }
    const type = this.type;
    if ((type < 128 || type === 128 || type === 129) && this.length < 8) {
      return new WireError(
        "truncated",
        `Cannot parse ICMPv6 message: type ${type} needs 8 bytes, got ${this.length}`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): Icmpv6Packet | WireError {
    const view = new Icmpv6Packet(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The message type. */
  get type(): number {
    return this.bytes[this.offset];
  }
  set type(value: number) {
    this.bytes[this.offset] = value;
  }

  /** The code. */
  get code(): number {
    return this.bytes[this.offset + 1];
  }
  set code(value: number) {
    this.bytes[this.offset + 1] = value;
  }

  /** The checksum field. */
  get checksum(): number {
    return (this.bytes[this.offset + 2] << 8) | this.bytes[this.offset + 3];
  }
  set checksum(value: number) {
    this.bytes[this.offset + 2] = value >>> 8;
    this.bytes[this.offset + 3] = value;
  }

  /** The echo identifier. */
  get ident(): number {
    return (this.bytes[this.offset + 4] << 8) | this.bytes[this.offset + 5];
  }
  set ident(value: number) {
    this.bytes[this.offset + 4] = value >>> 8;
    this.bytes[this.offset + 5] = value;
  }

  /** The echo sequence number. */
  get seq(): number {
    return (this.bytes[this.offset + 6] << 8) | this.bytes[this.offset + 7];
  }
  set seq(value: number) {
    this.bytes[this.offset + 6] = value >>> 8;
    this.bytes[this.offset + 7] = value;
  }

  /** The 32-bit word after the header: MTU (Packet Too Big) or pointer (Parameter Problem). */
  get param(): number {
    const at = this.offset + 4;
    return ((this.bytes[at] << 24) | (this.bytes[at + 1] << 16) | (this.bytes[at + 2] << 8) |
      this.bytes[at + 3]) >>> 0;
  }
  set param(value: number) {
    const at = this.offset + 4;
    this.bytes[at] = value >>> 24;
    this.bytes[at + 1] = value >>> 16;
    this.bytes[at + 2] = value >>> 8;
    this.bytes[at + 3] = value;
  }

  /** Absolute offset of the body after the 8-byte header (echo data, the quoted packet of an error). */
  get dataOffset(): number {
    return this.offset + 8;
  }

  /** The body length after the 8-byte header. */
  get dataLength(): number {
    return Math.max(0, this.length - 8);
  }

  /** True when the checksum over the pseudo-header of `src` → `dst` and the message is valid. */
  verifyChecksum(src: Ipv6Address, dst: Ipv6Address): boolean {
    const initial = ipv6PseudoHeaderSum(src, dst, ICMPV6_PROTOCOL, this.length);
    return internetChecksum(this.bytes, this.offset, this.length, initial) === 0;
  }

  /** Computes and writes the checksum. */
  fillChecksum(src: Ipv6Address, dst: Ipv6Address): void {
    this.checksum = 0;
    const initial = ipv6PseudoHeaderSum(src, dst, ICMPV6_PROTOCOL, this.length);
    this.checksum = internetChecksum(this.bytes, this.offset, this.length, initial);
  }
}

/** The decoded header of an echo or error message (NDP and MLD have their own reprs). */
export class Icmpv6Repr {
  /** The message type. */
  type = 0;
  /** The code. */
  code = 0;
  /** Echo identifier. */
  ident = 0;
  /** Echo sequence number. */
  seq = 0;
  /** The MTU of Packet Too Big, the pointer of Parameter Problem, else 0. */
  param = 0;
  /** Set by `parse`: absolute offset of the body after the 8-byte header. */
  dataOffset = 0;
  /** The body length (echo data or the quoted packet). */
  dataLength = 0;

  /** Decodes an echo or error message from `src` to `dst`, verifying the checksum unless told not to. */
  static parse(
    view: Icmpv6Packet,
    src: Ipv6Address,
    dst: Ipv6Address,
    verifyChecksum = true,
    into?: Icmpv6Repr,
  ): Icmpv6Repr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    if (verifyChecksum && !view.verifyChecksum(src, dst)) {
      return new WireError("checksum", "Cannot parse ICMPv6 message: bad checksum");
    }
    const repr = into ?? new Icmpv6Repr();
    repr.type = view.type;
    repr.code = view.code;
    const echo = repr.type === Icmpv6Type.EchoRequest || repr.type === Icmpv6Type.EchoReply;
    repr.ident = echo ? view.ident : 0;
    repr.seq = echo ? view.seq : 0;
    repr.param = echo || view.length < 8 ? 0 : view.param;
    repr.dataOffset = view.dataOffset;
    repr.dataLength = view.dataLength;
    return repr;
  }

  /** The 8-byte header `emit` writes. */
  get headerLength(): number {
    return 8;
  }

  /** The message length for a body of `dataLength` bytes (default: this repr's). */
  bufferLength(dataLength: number = this.dataLength): number {
    return 8 + dataLength;
  }

  /** Writes the header into a view whose body is already in place, then the checksum. */
  emit(view: Icmpv6Packet, src: Ipv6Address, dst: Ipv6Address): void {
    view.type = this.type;
    view.code = this.code;
    if (this.type === Icmpv6Type.EchoRequest || this.type === Icmpv6Type.EchoReply) {
      view.ident = this.ident;
      view.seq = this.seq;
    } else {
      view.param = this.param;
    }
    view.fillChecksum(src, dst);
  }
}
