/**
 * ICMPv4 messages (RFC 792): the `Icmpv4Packet` view and the `Icmpv4Repr`. Echo, destination
 * unreachable (with the RFC 1191 next-hop MTU), time exceeded, parameter problem and redirect are
 * decoded; other types pass through as generic messages with their raw rest-of-header word.
 *
 * @module
 */

import { readIpv4 } from "./address.ts";
import { internetChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { IPV4_HEADER_LENGTH } from "./ipv4.ts";
import { WireView } from "./view.ts";

const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
/** The rest-of-header word: ident+seq for echo, pointer for parameter problem, MTU for code 4. */
const REST = 4;

/** The length of an ICMPv4 header (type, code, checksum and the 4-byte rest of header). */
export const ICMPV4_HEADER_LENGTH = 8;
/** The bytes of the offending datagram's payload an error quotes (RFC 792: 64 bits). */
export const ICMPV4_QUOTED_PAYLOAD_LENGTH = 8;

/** ICMPv4 message types (IANA "ICMP Type Numbers"). */
export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSolicitation: 10,
  TimeExceeded: 11,
  ParameterProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
} as const;

/** Codes of destination unreachable (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const Icmpv4Unreachable = {
  NetUnreachable: 0,
  HostUnreachable: 1,
  ProtocolUnreachable: 2,
  PortUnreachable: 3,
  FragmentationNeeded: 4,
  SourceRouteFailed: 5,
  DestinationNetworkUnknown: 6,
  DestinationHostUnknown: 7,
  SourceHostIsolated: 8,
  NetworkProhibited: 9,
  HostProhibited: 10,
  NetworkUnreachableForTos: 11,
  HostUnreachableForTos: 12,
  CommunicationProhibited: 13,
  HostPrecedenceViolation: 14,
  PrecedenceCutoff: 15,
} as const;

/** Codes of time exceeded (RFC 792). */
export const Icmpv4TimeExceeded = {
  TtlExceeded: 0,
  FragmentReassembly: 1,
} as const;

/** True for the types that quote an offending datagram (RFC 792, RFC 1122 §3.2.2). */
export function isIcmpv4Error(type: number): boolean {
  return type === Icmpv4Type.DestinationUnreachable || type === Icmpv4Type.TimeExceeded ||
    type === Icmpv4Type.ParameterProblem || type === Icmpv4Type.Redirect ||
    type === Icmpv4Type.SourceQuench;
}

/** A view over an ICMPv4 message in `bytes[offset .. offset + length)`. */
export class Icmpv4Packet extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates that the 8-byte header fits in the region (not the checksum or the quote). */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse ICMPv4 message");
    if (region !== undefined) return region;
    if (this.length < ICMPV4_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse ICMPv4 message: ${this.length} bytes is below the 8-byte header`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): Icmpv4Packet | WireError {
    const view = new Icmpv4Packet(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The message type, one of `Icmpv4Type`. */
  get type(): number {
    return this.bytes[this.offset + TYPE];
  }
  set type(value: number) {
    this.bytes[this.offset + TYPE] = value;
  }

  /** The code, whose meaning depends on the type. */
  get code(): number {
    return this.bytes[this.offset + CODE];
  }
  set code(value: number) {
    this.bytes[this.offset + CODE] = value;
  }

  /** The checksum field. */
  get checksum(): number {
    return read16(this.bytes, this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    write16(this.bytes, this.offset + CHECKSUM, value);
  }

  /** The raw 32-bit rest-of-header word. */
  get rest(): number {
    const at = this.offset + REST;
    return ((read16(this.bytes, at) << 16) | read16(this.bytes, at + 2)) >>> 0;
  }
  set rest(value: number) {
    const at = this.offset + REST;
    write16(this.bytes, at, value >>> 16);
    write16(this.bytes, at + 2, value);
  }

  /** The identifier of an echo request or reply. */
  get echoIdent(): number {
    return read16(this.bytes, this.offset + REST);
  }
  set echoIdent(value: number) {
    write16(this.bytes, this.offset + REST, value);
  }

  /** The sequence number of an echo request or reply. */
  get echoSeq(): number {
    return read16(this.bytes, this.offset + REST + 2);
  }
  set echoSeq(value: number) {
    write16(this.bytes, this.offset + REST + 2, value);
  }

  /** The next-hop MTU of a "fragmentation needed" message (RFC 1191 §4; 0 from old routers). */
  get nextHopMtu(): number {
    return read16(this.bytes, this.offset + REST + 2);
  }
  set nextHopMtu(value: number) {
    write16(this.bytes, this.offset + REST + 2, value);
  }

  /** The octet a parameter problem points at, counted from the quoted IP header. */
  get pointer(): number {
    return this.bytes[this.offset + REST];
  }
  set pointer(value: number) {
    this.bytes[this.offset + REST] = value;
  }

  /** Absolute offset in `bytes` of what follows the header: echo data or the quoted datagram. */
  get payloadOffset(): number {
    return this.offset + ICMPV4_HEADER_LENGTH;
  }

  /** The length of the echo data or quoted datagram. */
  get payloadLength(): number {
    return this.length - ICMPV4_HEADER_LENGTH;
  }

  /** True when the checksum over the whole message is valid. */
  verifyChecksum(): boolean {
    return internetChecksum(this.bytes, this.offset, this.length) === 0;
  }

  /** Computes and writes the checksum over the whole message (data must already be in place). */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, this.offset, this.length);
  }
}

/**
 * A decoded ICMPv4 message. One mutable class for every type so that the hot path can reuse it; which
 * fields mean something depends on `type`.
 */
export class Icmpv4Repr {
  /** The message type, one of `Icmpv4Type`. */
  type = 0;
  /** The code. */
  code = 0;
  /** Echo: the identifier. */
  ident = 0;
  /** Echo: the sequence number. */
  seq = 0;
  /** Destination unreachable, code 4: the next-hop MTU (0 when the router did not say). */
  nextHopMtu = 0;
  /** Parameter problem: the octet in error. */
  pointer = 0;
  /** The raw rest-of-header word, for every type (and what `emit` writes for generic types). */
  rest = 0;
  /**
   * Set by `parse`: absolute offset in the view's `bytes` of the data after the header (echo data, the
   * quoted datagram of an error, or a generic message's body).
   */
  dataOffset = 0;
  /** The data length; for `emit`, the bytes already written after the header. */
  dataLength = 0;
  /** Errors only: the quoted IP header's length in bytes (the quoted payload follows it). */
  quotedHeaderLength = 0;
  /** Errors only: the quoted datagram's source (our own address when we sent it). */
  quotedSrc = 0;
  /** Errors only: the quoted datagram's destination. */
  quotedDst = 0;
  /** Errors only: the quoted datagram's protocol, such as `IpProtocol.Tcp`. */
  quotedProtocol = 0;
  /** Errors only: the quoted transport header's source port (its first 16 bits). */
  quotedSrcPort = 0;
  /** Errors only: the quoted transport header's destination port (its second 16 bits). */
  quotedDstPort = 0;

  /**
   * Decodes a message, verifying its checksum unless `verifyChecksum` is false. An error message must
   * quote at least an IPv4 header and 8 bytes of its payload (RFC 792); a longer quote (RFC 1812
   * §4.3.2.3) is accepted.
   */
  static parse(
    view: Icmpv4Packet,
    into?: Icmpv4Repr,
    verifyChecksum = true,
  ): Icmpv4Repr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    if (verifyChecksum && !view.verifyChecksum()) {
      return new WireError("checksum", "Cannot parse ICMPv4 message: bad checksum");
    }
    const type = view.type;
    let quotedHeaderLength = 0;
    if (isIcmpv4Error(type)) {
      const quote = checkQuote(view.bytes, view.payloadOffset, view.payloadLength);
      if (typeof quote !== "number") return quote;
      quotedHeaderLength = quote;
    }
    const repr = into ?? new Icmpv4Repr();
    repr.type = type;
    repr.code = view.code;
    repr.rest = view.rest;
    const echo = type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply;
    repr.ident = echo ? view.echoIdent : 0;
    repr.seq = echo ? view.echoSeq : 0;
    repr.nextHopMtu = type === Icmpv4Type.DestinationUnreachable &&
        view.code === Icmpv4Unreachable.FragmentationNeeded
      ? view.nextHopMtu
      : 0;
    repr.pointer = type === Icmpv4Type.ParameterProblem ? view.pointer : 0;
    repr.dataOffset = view.payloadOffset;
    repr.dataLength = view.payloadLength;
    repr.quotedHeaderLength = quotedHeaderLength;
    if (quotedHeaderLength !== 0) {
      // The demultiplexing key of the datagram that failed (RFC 1122 §4.1.3.3, §4.2.3.9).
      const bytes = view.bytes;
      const quote = view.payloadOffset;
      const transport = quote + quotedHeaderLength;
      repr.quotedSrc = readIpv4(bytes, quote + 12);
      repr.quotedDst = readIpv4(bytes, quote + 16);
      repr.quotedProtocol = bytes[quote + 9];
      repr.quotedSrcPort = (bytes[transport] << 8) | bytes[transport + 1];
      repr.quotedDstPort = (bytes[transport + 2] << 8) | bytes[transport + 3];
    } else {
      repr.quotedSrc = 0;
      repr.quotedDst = 0;
      repr.quotedProtocol = 0;
      repr.quotedSrcPort = 0;
      repr.quotedDstPort = 0;
    }
    return repr;
  }

  /** The header length `emit` writes: 8. */
  get headerLength(): number {
    return ICMPV4_HEADER_LENGTH;
  }

  /** The message length for `dataLength` bytes of data (default: this repr's). */
  bufferLength(dataLength: number = this.dataLength): number {
    return ICMPV4_HEADER_LENGTH + dataLength;
  }

  /**
   * Writes the header into a view wrapped over exactly the message, whose data (echo data or quote) is
   * already at `view.payloadOffset`, then the checksum over the whole view unless `fillChecksum` is false.
   */
  emit(view: Icmpv4Packet, fillChecksum = true): void {
    view.type = this.type;
    view.code = this.code;
    switch (this.type) {
      case Icmpv4Type.EchoRequest:
      case Icmpv4Type.EchoReply:
        view.echoIdent = this.ident;
        view.echoSeq = this.seq;
        break;
      case Icmpv4Type.DestinationUnreachable:
        // RFC 1191 §4: the high half is unused; the MTU is only meaningful with code 4.
        view.rest = this.code === Icmpv4Unreachable.FragmentationNeeded
          ? this.nextHopMtu & 0xffff
          : 0;
        break;
      case Icmpv4Type.TimeExceeded:
        view.rest = 0;
        break;
      case Icmpv4Type.ParameterProblem:
        view.rest = (this.pointer & 0xff) * 0x100_0000;
        break;
      default:
        view.rest = this.rest;
    }
    if (fillChecksum) view.fillChecksum();
    else view.checksum = 0;
  }
}

/** The quoted IP header's length, or why the quote cannot be used. */
function checkQuote(bytes: Uint8Array, offset: number, length: number): number | WireError {
  if (length < IPV4_HEADER_LENGTH + ICMPV4_QUOTED_PAYLOAD_LENGTH) {
    return new WireError(
      "truncated",
      `Cannot parse ICMPv4 error: the ${length}-byte quote is below an IPv4 header and 8 bytes`,
    );
  }
  const versionIhl = bytes[offset];
  const headerLength = (versionIhl & 0xf) * 4;
  if (versionIhl >>> 4 !== 4 || headerLength < IPV4_HEADER_LENGTH) {
    return new WireError(
      "malformed",
      `Cannot parse ICMPv4 error: the quoted header has version ${
        versionIhl >>> 4
      } and length ${headerLength}`,
    );
  }
  if (headerLength + ICMPV4_QUOTED_PAYLOAD_LENGTH > length) {
    return new WireError(
      "truncated",
      `Cannot parse ICMPv4 error: the ${length}-byte quote is below its ${headerLength}-byte header and 8 bytes`,
    );
  }
  return headerLength;
}

function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}
