/**
 * Fixtures for the driver's tests: Ethernet/IPv4/UDP/TCP frames with correct checksums, and a PCI config
 * space shaped like QEMU's virtio-net-pci.
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

/** A config space shaped like QEMU's virtio-net-pci (modern): MSI-X, then five vendor capabilities. */
export function qemuLikeConfig(): Uint8Array {
  const config = new Uint8Array(256);
  const view = new DataView(config.buffer);
  view.setUint16(0, 0x1af4, true);
  view.setUint16(2, 0x1041, true);
  config[0x06] = 0x10;
  config[0x34] = 0x98;
  // MSI-X (id 0x11) first, which the parser must skip.
  config.set([0x11, 0x84, 0x02, 0x00], 0x98);
  const vendor = (
    at: number,
    next: number,
    type: number,
    offset: number,
    length: number,
    len = 16,
  ) => {
    config.set([0x09, next, len, type, 4, 0, 0, 0], at);
    view.setUint32(at + 8, offset, true);
    view.setUint32(at + 12, length, true);
  };
  vendor(0x84, 0x70, 3, 0x1000, 0x1000); // ISR
  vendor(0x70, 0x60, 1, 0x0000, 0x1000); // COMMON
  vendor(0x60, 0x48, 4, 0x2000, 0x1000); // DEVICE
  vendor(0x48, 0xb0, 2, 0x3000, 0x1000, 20); // NOTIFY with its multiplier
  view.setUint32(0x48 + 16, 4, true);
  vendor(0xb0, 0x00, 5, 0, 0, 20); // PCI cfg access, unused
  return config;
}
