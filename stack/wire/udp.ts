/**
 * UDP datagrams (RFC 768): the `UdpPacket` view and the `UdpRepr`. The checksum covers the IPv4
 * pseudo-header; a zero checksum means "none" on receive, and a computed zero is sent as 0xffff.
 *
 * @module
 */

import { type ChecksumMode, foldSum, internetChecksum, pseudoHeaderSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { WireView } from "./view.ts";

const SRC_PORT = 0;
const DST_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

/** The length of a UDP header. */
export const UDP_HEADER_LENGTH = 8;
/** The IP protocol number of UDP. */
export const UDP_PROTOCOL = 17;

/** How `emit` fills the checksum (UDP's name for `ChecksumMode`). */
export type UdpChecksumMode = ChecksumMode;

/**
 * A view over a UDP datagram in `bytes[offset .. offset + length)` (the IP payload); the datagram
 * itself is `datagramLength` bytes, at most `length`.
 */
export class UdpPacket extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates the length field against the region (not the checksum). */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse UDP header");
    if (region !== undefined) return region;
    if (this.length < UDP_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse UDP header: ${this.length} bytes is below the 8-byte header`,
      );
    }
    const datagramLength = this.datagramLength;
    if (datagramLength < UDP_HEADER_LENGTH) {
      return new WireError(
        "malformed",
        `Cannot parse UDP header: length field ${datagramLength} is below 8`,
      );
    }
    if (datagramLength > this.length) {
      return new WireError(
        "truncated",
        `Cannot parse UDP header: length field ${datagramLength} is beyond the ${this.length} bytes received`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): UdpPacket | WireError {
    const view = new UdpPacket(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The source port (0 when the sender expects no reply). */
  get srcPort(): number {
    return read16(this.bytes, this.offset + SRC_PORT);
  }
  set srcPort(value: number) {
    write16(this.bytes, this.offset + SRC_PORT, value);
  }

  /** The destination port. */
  get dstPort(): number {
    return read16(this.bytes, this.offset + DST_PORT);
  }
  set dstPort(value: number) {
    write16(this.bytes, this.offset + DST_PORT, value);
  }

  /** The length field: header plus payload. */
  get datagramLength(): number {
    return read16(this.bytes, this.offset + LENGTH);
  }
  set datagramLength(value: number) {
    write16(this.bytes, this.offset + LENGTH, value);
  }

  /** The checksum field (0: none was computed). */
  get checksum(): number {
    return read16(this.bytes, this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    write16(this.bytes, this.offset + CHECKSUM, value);
  }

  /** Absolute offset of the payload in `bytes`. */
  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LENGTH;
  }

  /** The payload length, from the length field. */
  get payloadLength(): number {
    return this.datagramLength - UDP_HEADER_LENGTH;
  }

  /** True when the checksum is valid or absent (zero, RFC 768; RFC 1122 §4.1.3.4). */
  verifyChecksum(src: number, dst: number): boolean {
    if (this.checksum === 0) return true;
    const length = this.datagramLength;
    const initial = pseudoHeaderSum(src, dst, UDP_PROTOCOL, length);
    return internetChecksum(this.bytes, this.offset, length, initial) === 0;
  }

  /** Computes and writes the checksum over the pseudo-header and the datagram. */
  fillChecksum(src: number, dst: number): void {
    const length = this.datagramLength;
    this.checksum = 0;
    const checksum = internetChecksum(
      this.bytes,
      this.offset,
      length,
      pseudoHeaderSum(src, dst, UDP_PROTOCOL, length),
    );
    // RFC 768: a computed zero is sent as all ones, because zero means "no checksum".
    this.checksum = checksum === 0 ? 0xffff : checksum;
  }

  /**
   * Writes the folded, uncomplemented pseudo-header sum, which a NIC with checksum offload (virtio
   * `NEEDS_CSUM`, Linux `CHECKSUM_PARTIAL`) completes.
   */
  fillPseudoChecksum(src: number, dst: number): void {
    this.checksum = foldSum(pseudoHeaderSum(src, dst, UDP_PROTOCOL, this.datagramLength));
  }
}

/** The decoded header of a UDP datagram. */
export class UdpRepr {
  /** The source port. */
  srcPort = 0;
  /** The destination port. */
  dstPort = 0;
  /** Set by `parse`: absolute offset of the payload in the view's `bytes`. */
  payloadOffset = 0;
  /** The payload length (from the length field on parse; what `emit` writes into it). */
  payloadLength = 0;

  /**
   * Decodes a datagram sent from `src` to `dst`, verifying a non-zero checksum unless `verifyChecksum`
   * is false (the NIC verified it). Bytes after the length field's end are ignored.
   */
  static parse(
    view: UdpPacket,
    src: number,
    dst: number,
    verifyChecksum: boolean,
    into?: UdpRepr,
  ): UdpRepr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    if (view.dstPort === 0) {
      return new WireError("malformed", "Cannot parse UDP header: destination port 0");
    }
    if (verifyChecksum && !view.verifyChecksum(src, dst)) {
      return new WireError("checksum", "Cannot parse UDP datagram: bad checksum");
    }
    const repr = into ?? new UdpRepr();
    repr.srcPort = view.srcPort;
    repr.dstPort = view.dstPort;
    repr.payloadOffset = view.payloadOffset;
    repr.payloadLength = view.payloadLength;
    return repr;
  }

  /** The header length `emit` writes: 8. */
  get headerLength(): number {
    return UDP_HEADER_LENGTH;
  }

  /** The datagram length for a payload of `payloadLength` bytes (default: this repr's). */
  bufferLength(payloadLength: number = this.payloadLength): number {
    return UDP_HEADER_LENGTH + payloadLength;
  }

  /**
   * Writes the header into a view whose payload (`payloadLength` bytes) is already in place after it,
   * then the checksum as `checksum` says.
   */
  emit(view: UdpPacket, src: number, dst: number, checksum: UdpChecksumMode): void {
    view.srcPort = this.srcPort;
    view.dstPort = this.dstPort;
    view.datagramLength = UDP_HEADER_LENGTH + this.payloadLength;
    if (checksum === "full") view.fillChecksum(src, dst);
    else if (checksum === "pseudo") view.fillPseudoChecksum(src, dst);
    else view.checksum = 0;
  }
}

function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}
