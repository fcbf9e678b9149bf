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
import { foldSum, internetChecksum, onesSum, pseudoHeaderSum } from "../wire/checksum.ts";

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IPV6_HEADER = 40;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;

/**
 * Writes the full TCP or UDP checksum of the IPv4 or IPv6 packet in `bytes[offset .. offset + length)`
 * (an Ethernet frame). Returns false, leaving the frame alone, for anything else or a malformed header;
 * the layers then drop and count it as usual.
 */
export function completeTransportChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
): boolean {
  const place = scratchPlace;
  if (!transportChecksumPlace(bytes, offset, length, place)) return false;
  const protocol = place.offset === 16 ? PROTOCOL_TCP : PROTOCOL_UDP;
  const segment = offset + place.start;
  const field = segment + place.offset;
  const segmentLength = segmentLengthOf(bytes, offset, place);
  bytes[field] = 0;
  bytes[field + 1] = 0;
  let sum = internetChecksum(
    bytes,
    segment,
    segmentLength,
    pseudoSumOf(bytes, offset, protocol, segmentLength),
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
 * Finds the TCP or UDP checksum of an unfragmented IPv4 packet, or of an IPv6 packet whose first next
 * header is TCP or UDP, in an Ethernet frame, filling `into`; false for anything else (ARP, ICMP,
 * fragments, IPv6 extension headers, malformed headers).
 */
export function transportChecksumPlace(
  bytes: Uint8Array,
  offset: number,
  length: number,
  into: ChecksumPlace,
): boolean {
  const etherType = length < 14 ? 0 : (bytes[offset + 12] << 8) | bytes[offset + 13];
  if (etherType === ETHERTYPE_IPV6) return ipv6ChecksumPlace(bytes, offset, length, into);
  if (length < 14 + 20 || etherType !== ETHERTYPE_IPV4) return false;
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

/** `transportChecksumPlace` for IPv6: a TCP or UDP header right after the fixed header (RFC 8200 §3). */
function ipv6ChecksumPlace(
  bytes: Uint8Array,
  offset: number,
  length: number,
  into: ChecksumPlace,
): boolean {
  if (length < 14 + IPV6_HEADER) return false;
  const ip = offset + 14;
  if (bytes[ip] >> 4 !== 6) return false;
  const payloadLength = (bytes[ip + 4] << 8) | bytes[ip + 5];
  if (14 + IPV6_HEADER + payloadLength > length) return false;
  const nextHeader = bytes[ip + 6];
  if (nextHeader === PROTOCOL_TCP && payloadLength >= 20) into.offset = 16;
  else if (nextHeader === PROTOCOL_UDP && payloadLength >= 8) into.offset = 6;
  else return false;
  into.start = 14 + IPV6_HEADER;
  return true;
}

/**
 * Checks the TCP or UDP checksum of an IPv4 or IPv6 frame: true when valid (or UDP without a checksum), false
 * when wrong, undefined when the frame carries neither (the layers check the rest).
 */
export function verifyTransportChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
): boolean | undefined {
  const place = scratchPlace;
  if (!transportChecksumPlace(bytes, offset, length, place)) return undefined;
  const protocol = place.offset === 16 ? PROTOCOL_TCP : PROTOCOL_UDP;
  const field = offset + place.start + place.offset;
  // A zero UDP checksum means "none" over IPv4 only; IPv6 requires one (RFC 8200 §8.1).
  if (
    protocol === PROTOCOL_UDP && bytes[field] === 0 && bytes[field + 1] === 0 &&
    !isIpv6(bytes, offset)
  ) {
    return true;
  }
  const segmentLength = segmentLengthOf(bytes, offset, place);
  const pseudo = pseudoSumOf(bytes, offset, protocol, segmentLength);
  return internetChecksum(bytes, offset + place.start, segmentLength, pseudo) === 0;
}

function isIpv6(bytes: Uint8Array, offset: number): boolean {
  return ((bytes[offset + 12] << 8) | bytes[offset + 13]) === ETHERTYPE_IPV6;
}

/**
 * The transport segment's length: the IPv6 payload length, or the IPv4 total length less the header
 * `place` skipped, of the frame at `bytes[offset]`.
 */
function segmentLengthOf(bytes: Uint8Array, offset: number, place: ChecksumPlace): number {
  const ip = offset + 14;
  if (isIpv6(bytes, offset)) return (bytes[ip + 4] << 8) | bytes[ip + 5];
  return ((bytes[ip + 2] << 8) | bytes[ip + 3]) - (place.start - 14);
}

/**
 * The pseudo-header sum (RFC 9293 §3.1, RFC 768; RFC 8200 §8.1 for IPv6) of the IP header of the
 * frame at `bytes[offset]`.
 */
function pseudoSumOf(
  bytes: Uint8Array,
  offset: number,
  protocol: number,
  segmentLength: number,
): number {
  const ip = offset + 14;
  if (isIpv6(bytes, offset)) {
    // Source and destination addresses are 32 contiguous bytes at ip + 8.
    const addresses = onesSum(bytes, ip + 8, 32);
    return foldSum(addresses + (segmentLength >>> 16) + (segmentLength & 0xffff) + protocol);
  }
  return pseudoHeaderSum(
    readIpv4(bytes, ip + 12),
    readIpv4(bytes, ip + 16),
    protocol,
    segmentLength,
  );
}

const scratchPlace: ChecksumPlace = { start: 0, offset: 0 };
