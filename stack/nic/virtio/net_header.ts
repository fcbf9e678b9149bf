/**
 * The checksum side of `struct virtio_net_hdr` (virtio 1.2 §5.1.6): on send, mark a TCP/UDP-over-IPv4 frame
 * NEEDS_CSUM with where its checksum starts and sits; on receive, verify the transport checksum of a frame
 * the device left unmarked although GUEST_CSUM was negotiated (only DATA_VALID and NEEDS_CSUM frames may
 * skip verification, §5.1.6.4).
 *
 * @module
 */

import { onesSum, pseudoHeaderSum } from "../../wire/checksum.ts";
import { NET_HDR_F_NEEDS_CSUM } from "./constants.ts";

const ETH_HEADER = 14;
const ETHERTYPE_IPV4 = 0x0800;
const TCP = 6;
const UDP = 17;

/**
 * Locates the transport header of an unfragmented IPv4 TCP/UDP frame at `bytes[frame..frame+length)`:
 * returns its offset from `frame`, or -1 for anything else.
 */
export function transportOffset(bytes: Uint8Array, frame: number, length: number): number {
  if (length < ETH_HEADER + 20) return -1;
  if (((bytes[frame + 12] << 8) | bytes[frame + 13]) !== ETHERTYPE_IPV4) return -1;
  const ip = frame + ETH_HEADER;
  if (bytes[ip] >> 4 !== 4) return -1;
  const ihl = (bytes[ip] & 0x0f) * 4;
  const total = (bytes[ip + 2] << 8) | bytes[ip + 3];
  if (ihl < 20 || total < ihl || ETH_HEADER + total > length) return -1;
  // A fragment (MF set or a non-zero offset) carries only part of the segment the checksum covers.
  if (((bytes[ip + 6] & 0x3f) | bytes[ip + 7]) !== 0) return -1;
  const protocol = bytes[ip + 9];
  if (protocol !== TCP && protocol !== UDP) return -1;
  return ETH_HEADER + ihl;
}

/**
 * Writes the NEEDS_CSUM fields of the 12-byte header at `bytes[header]` for the frame after it, so the
 * device completes the TCP/UDP checksum over which the stack wrote the pseudo-header sum. Frames of other
 * kinds keep flags 0.
 */
export function markNeedsChecksum(bytes: Uint8Array, header: number, length: number): void {
  const frame = header + 12;
  const start = transportOffset(bytes, frame, length);
  if (start < 0) return;
  const protocol = bytes[frame + ETH_HEADER + 9];
  const field = protocol === TCP ? 16 : 6;
  if (start + field + 2 > length) return;
  bytes[header] = NET_HDR_F_NEEDS_CSUM;
  bytes[header + 6] = start & 0xff;
  bytes[header + 7] = start >> 8;
  bytes[header + 8] = field;
  bytes[header + 9] = 0;
}

/** True unless the frame is IPv4 TCP/UDP with a wrong transport checksum (others are left to layers). */
export function transportChecksumValid(bytes: Uint8Array, frame: number, length: number): boolean {
  const start = transportOffset(bytes, frame, length);
  if (start < 0) return true;
  const ip = frame + ETH_HEADER;
  const protocol = bytes[ip + 9];
  const segment = ((bytes[ip + 2] << 8) | bytes[ip + 3]) - (start - ETH_HEADER);
  // RFC 768: a zero UDP checksum means the sender did not compute one.
  if (
    protocol === UDP && segment >= 8 && (bytes[frame + start + 6] | bytes[frame + start + 7]) === 0
  ) {
    return true;
  }
  const src =
    ((bytes[ip + 12] << 24) | (bytes[ip + 13] << 16) | (bytes[ip + 14] << 8) | bytes[ip + 15]) >>>
    0;
  const dst =
    ((bytes[ip + 16] << 24) | (bytes[ip + 17] << 16) | (bytes[ip + 18] << 8) | bytes[ip + 19]) >>>
    0;
  const sum = onesSum(bytes, frame + start, segment, pseudoHeaderSum(src, dst, protocol, segment));
  return sum === 0xffff;
}
