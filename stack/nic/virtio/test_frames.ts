/**
 * Builds Ethernet/IPv4/UDP/TCP frames for the driver's tests, with correct checksums, from plain values.
 *
 * @module
 */

import { internetChecksum, onesSum, pseudoHeaderSum } from "../../wire/checksum.ts";

/** Fields of a test frame. */
export interface TestFrame {
  protocol?: 6 | 17;
  src?: number;
  dst?: number;
  payload?: Uint8Array;
  /** Leave the transport checksum as the pseudo-header sum only (what a stack writes under CSUM). */
  partialChecksum?: boolean;
}

/** An Ethernet II frame carrying IPv4 and a UDP (default) or TCP segment. */
export function ipv4Frame(opts: TestFrame = {}): Uint8Array {
  const protocol = opts.protocol ?? 17;
  const payload = opts.payload ?? new Uint8Array([1, 2, 3, 4, 5]);
  const transportHeader = protocol === 17 ? 8 : 20;
  const segment = transportHeader + payload.length;
  const frame = new Uint8Array(14 + 20 + segment);
  const view = new DataView(frame.buffer);
  frame.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  view.setUint16(12, 0x0800);
  const src = opts.src ?? 0x0a000001;
  const dst = opts.dst ?? 0x0a000002;
  frame[14] = 0x45;
  view.setUint16(16, 20 + segment);
  frame[22] = 64;
  frame[23] = protocol;
  view.setUint32(26, src);
  view.setUint32(30, dst);
  view.setUint16(24, internetChecksum(frame, 14, 20));
  const t = 34;
  view.setUint16(t, 1234);
  view.setUint16(t + 2, 7);
  if (protocol === 17) view.setUint16(t + 4, segment);
  else frame[t + 12] = 0x50;
  frame.set(payload, t + transportHeader);
  const field = t + (protocol === 17 ? 6 : 16);
  const pseudo = pseudoHeaderSum(src, dst, protocol, segment);
  if (opts.partialChecksum) {
    view.setUint16(field, pseudo);
  } else {
    let sum = ~onesSum(frame, t, segment, pseudo) & 0xffff;
    if (protocol === 17 && sum === 0) sum = 0xffff;
    view.setUint16(field, sum);
  }
  return frame;
}
