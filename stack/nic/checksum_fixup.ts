/**
 * Transport checksum work a NIC does for the stack. A packet socket sees locally generated traffic (a
 * veth peer, for one) while it is still CHECKSUM_PARTIAL: the TCP/UDP checksum field holds only the
 * pseudo-header sum, and the ring marks the frame TP_STATUS_CSUMNOTREADY; the device would have finished
 * it, so we do, in place. A TAP with offloads needs the checksum's place for its virtio header, and a
 * check of frames whose checksum nobody vouched for.
 *
 * @module
 */

import { readIpv4 } from "../wire/address.ts";
import { internetChecksum, pseudoHeaderSum } from "../wire/checksum.ts";

const ETHERTYPE_IPV4 = 0x0800;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;

/**
 * Writes the full TCP or UDP checksum of the IPv4 packet in `bytes[offset .. offset + length)` (an
 * Ethernet frame). Returns false, leaving the frame alone, for anything else or a malformed header;
 * the layers then drop and count it as usual.
 */
export function completeTransportChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
): boolean {
  const place = scratchPlace;
  if (!transportChecksumPlace(bytes, offset, length, place)) return false;
  const ip = offset + 14;
  const protocol = bytes[ip + 9];
  const segment = offset + place.start;
  const field = segment + place.offset;
  const segmentLength = segmentLengthOf(bytes, ip, place);
  bytes[field] = 0;
  bytes[field + 1] = 0;
  let sum = internetChecksum(
    bytes,
    segment,
    segmentLength,
    pseudoSumOf(bytes, ip, protocol, segmentLength),
  );
  // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "no checksum").
  if (sum === 0 && protocol === PROTOCOL_UDP) sum = 0xffff;
  bytes[field] = sum >> 8;
  bytes[field + 1] = sum & 0xff;
  return true;
}

/** Where a frame's transport checksum lives, as virtio's csum_start / csum_offset describe it. */
export interface ChecksumPlace {
  /** Offset from the frame start to the transport header. */
  start: number;
  /** Offset of the checksum field from `start` (16 for TCP, 6 for UDP). */
  offset: number;
}

/**
 * Finds the TCP or UDP checksum of an unfragmented IPv4 packet in an Ethernet frame, filling `into`;
 * false for anything else (ARP, ICMP, fragments, malformed headers).
 */
export function transportChecksumPlace(
  bytes: Uint8Array,
  offset: number,
  length: number,
  into: ChecksumPlace,
): boolean {
  if (length < 14 + 20 || ((bytes[offset + 12] << 8) | bytes[offset + 13]) !== ETHERTYPE_IPV4) {
    return false;
  }
  const ip = offset + 14;
  if (bytes[ip] >> 4 !== 4) return false;
  const headerLength = (bytes[ip] & 0x0f) * 4;
  const total = (bytes[ip + 2] << 8) | bytes[ip + 3];
  if (headerLength < 20 || total < headerLength || 14 + total > length) return false;
  // More-fragments or a fragment offset: the checksum spans datagram bytes not in this frame (and
  // the kernel never leaves a fragment CHECKSUM_PARTIAL).
  if (((bytes[ip + 6] & 0x3f) | bytes[ip + 7]) !== 0) return false;
  const segmentLength = total - headerLength;
  const protocol = bytes[ip + 9];
  if (protocol === PROTOCOL_TCP && segmentLength >= 20) into.offset = 16;
  else if (protocol === PROTOCOL_UDP && segmentLength >= 8) into.offset = 6;
  else return false;
  into.start = 14 + headerLength;
  return true;
}

/**
 * Checks the TCP or UDP checksum of an IPv4 frame: true when valid (or UDP without a checksum), false
 * when wrong, undefined when the frame carries neither (the layers check the rest).
 */
export function verifyTransportChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
): boolean | undefined {
  const place = scratchPlace;
  if (!transportChecksumPlace(bytes, offset, length, place)) return undefined;
  const ip = offset + 14;
  const protocol = bytes[ip + 9];
  const field = offset + place.start + place.offset;
  if (protocol === PROTOCOL_UDP && bytes[field] === 0 && bytes[field + 1] === 0) return true;
  const segmentLength = segmentLengthOf(bytes, ip, place);
  const pseudo = pseudoSumOf(bytes, ip, protocol, segmentLength);
  return internetChecksum(bytes, offset + place.start, segmentLength, pseudo) === 0;
}

/** The transport segment's length: the IPv4 total length less the header `place` skipped. */
function segmentLengthOf(bytes: Uint8Array, ip: number, place: ChecksumPlace): number {
  return ((bytes[ip + 2] << 8) | bytes[ip + 3]) - (place.start - 14);
}

/** The pseudo-header sum (RFC 9293 §3.1, RFC 768) of the IPv4 header at `bytes[ip]`. */
function pseudoSumOf(
  bytes: Uint8Array,
  ip: number,
  protocol: number,
  segmentLength: number,
): number {
  return pseudoHeaderSum(
    readIpv4(bytes, ip + 12),
    readIpv4(bytes, ip + 16),
    protocol,
    segmentLength,
  );
}

const scratchPlace: ChecksumPlace = { start: 0, offset: 0 };
