/**
 * The fuzzer's mutator: bit flips, truncation, growth, header fields set to edge values, garbled option
 * lists, and (often) checksums fixed afterwards so that the broken frame gets past the checksum tests
 * and into the parsing and state machines behind them.
 *
 * @module
 */

import type { Rng } from "../../stack/util/rng.ts";
import { internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import type { Frame } from "./frames.ts";
import { fillChecksum6 } from "./frames6.ts";

const EDGE16 = [
  0,
  1,
  2,
  7,
  8,
  19,
  20,
  21,
  39,
  40,
  59,
  60,
  576,
  1500,
  0x7fff,
  0x8000,
  0xfffe,
  0xffff,
];
const EDGE8 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0f, 0x10, 0x40, 0x45, 0x4f, 0x7f, 0x80, 0xfe, 0xff];

/** Field positions relative to each header: [offset, width in bytes]. */
const IP_FIELDS: [number, number][] = [[0, 1], [2, 2], [4, 2], [6, 2], [8, 1], [9, 1]];
const TCP_FIELDS: [number, number][] = [[4, 4], [8, 4], [12, 1], [13, 1], [14, 2], [18, 2]];
const UDP_FIELDS: [number, number][] = [[2, 2], [4, 2], [6, 2]];
const ICMP_FIELDS: [number, number][] = [[0, 1], [1, 1], [4, 4], [8, 1], [10, 2], [17, 1]];
const ARP_FIELDS: [number, number][] = [[0, 2], [2, 2], [4, 1], [5, 1], [6, 2]];

/** Mutates `f` in place (its length may change). */
export function mutate(f: Frame, rng: Rng): void {
  const rounds = 1 + (rng.below(4) === 0 ? rng.below(4) : 0);
  for (let i = 0; i < rounds; i++) mutateOnce(f, rng);
  // Most of the time make the checksums right again, so that the mutation is seen past them.
  if (rng.below(100) < 70) fixChecksums(f);
}

function mutateOnce(f: Frame, rng: Rng): void {
  const bytes = f.bytes;
  switch (rng.below(8)) {
    case 0: {
      // Bit flips anywhere.
      const flips = 1 + rng.below(8);
      for (let i = 0; i < flips && f.length > 0; i++) {
        bytes[rng.below(f.length)] ^= 1 << rng.below(8);
      }
      return;
    }
    case 1: {
      // Bit flips in the headers only.
      const start = f.l3 >= 0 ? f.l3 : 0;
      const end = Math.min(f.length, (f.l4 >= 0 ? f.l4 : start) + 40);
      if (end > start) bytes[start + rng.below(end - start)] ^= 1 << rng.below(8);
      return;
    }
    case 2:
      // Truncation.
      f.length = rng.below(f.length + 1);
      return;
    case 3: {
      // Growth with junk (or zero padding).
      const grow = rng.below(64);
      const zero = rng.below(2) === 0;
      for (let i = 0; i < grow && f.length < bytes.length; i++) {
        bytes[f.length++] = zero ? 0 : rng.nextU32() & 0xff;
      }
      return;
    }
    case 4:
    case 5:
      edgeField(f, rng);
      return;
    case 6:
      garbleOptions(f, rng);
      return;
    default: {
      // A random byte anywhere set to an edge value.
      if (f.length > 0) bytes[rng.below(f.length)] = EDGE8[rng.below(EDGE8.length)];
    }
  }
}

/** Sets one length, offset, flag or type field of a known header to an edge value. */
function edgeField(f: Frame, rng: Rng): void {
  let base = -1;
  let fields: [number, number][] | undefined;
  const r = rng.below(3);
  if (r === 0 && f.l3 >= 0) {
    base = f.l3;
    fields = f.proto < 0 && f.l4 < 0 && f.kind === "arp" ? ARP_FIELDS : IP_FIELDS;
  } else if (f.l4 >= 0) {
    base = f.l4;
    fields = f.proto === 6 ? TCP_FIELDS : f.proto === 17 ? UDP_FIELDS : ICMP_FIELDS;
  } else if (f.l3 >= 0) {
    base = f.l3;
    fields = IP_FIELDS;
  }
  if (fields === undefined) return;
  const [offset, width] = fields[rng.below(fields.length)];
  const at = base + offset;
  if (at + width > f.length) return;
  const bytes = f.bytes;
  if (width === 1) {
    bytes[at] = EDGE8[rng.below(EDGE8.length)];
  } else if (width === 2) {
    const v = rng.below(3) === 0
      ? (f.length - base + rng.below(5) - 2) & 0xffff
      : EDGE16[rng.below(EDGE16.length)];
    bytes[at] = v >>> 8;
    bytes[at + 1] = v;
  } else {
    const v = rng.below(2) === 0
      ? rng.nextU32()
      : [0, 1, 0x7fffffff, 0x80000000, 0xffffffff][rng.below(5)];
    bytes[at] = v >>> 24;
    bytes[at + 1] = v >>> 16;
    bytes[at + 2] = v >>> 8;
    bytes[at + 3] = v;
  }
}

/** Rewrites the TCP or IPv4 option area with random kinds and bad lengths. */
function garbleOptions(f: Frame, rng: Rng): void {
  const bytes = f.bytes;
  let start: number;
  let end: number;
  if (f.proto === 6 && f.l4 >= 0 && f.l4 + 20 <= f.length) {
    start = f.l4 + 20;
    end = f.l4 + ((bytes[f.l4 + 12] >>> 4) << 2);
    if (end <= start) {
      // No options yet: claim some, eating into the payload.
      const words = 1 + rng.below(10);
      bytes[f.l4 + 12] = ((5 + words) << 4) | (bytes[f.l4 + 12] & 0x0f);
      end = start + words * 4;
    }
  } else if (f.l3 >= 0 && f.l3 + 20 <= f.length && f.kind !== "arp") {
    // IPv4 options: claim a longer header.
    const words = 1 + rng.below(10);
    bytes[f.l3] = 0x40 | (5 + words);
    start = f.l3 + 20;
    end = start + words * 4;
  } else {
    return;
  }
  end = Math.min(end, f.length);
  for (let at = start; at < end;) {
    const kind = rng.below(4) === 0
      ? rng.below(256)
      : [0, 1, 2, 3, 4, 5, 8, 30, 34, 0x44, 0x83][rng.below(11)];
    bytes[at++] = kind;
    if (at < end) bytes[at++] = [0, 1, 2, 3, 4, 10, 18, 34, 40, 255, rng.below(256)][rng.below(11)];
    const fill = rng.below(9);
    for (let i = 0; i < fill && at < end; i++) bytes[at++] = rng.nextU32() & 0xff;
  }
}

/** Recomputes the IPv4 header checksum and the transport checksum where the headers still allow. */
export function fixChecksums(f: Frame): void {
  const bytes = f.bytes;
  const l3 = f.l3;
  if (f.kind.startsWith("ipv6")) {
    if (l3 < 0 || f.l4 < 0 || l3 + 40 > f.length) return;
    const declared = ((bytes[l3 + 4] << 8) | bytes[l3 + 5]) - (f.l4 - l3 - 40);
    const length = Math.min(declared, f.length - f.l4);
    if (length < (f.proto === 6 ? 20 : 8)) return;
    fillChecksum6(bytes, l3, f.l4, length, f.proto, f.proto === 17 ? 6 : f.proto === 6 ? 16 : 2);
    return;
  }
  if (l3 < 0 || f.kind === "arp" || l3 + 20 > f.length) return;
  const ihl = (bytes[l3] & 0x0f) << 2;
  if (ihl < 20 || l3 + ihl > f.length) return;
  bytes[l3 + 10] = 0;
  bytes[l3 + 11] = 0;
  const c = internetChecksum(bytes, l3, ihl);
  bytes[l3 + 10] = c >>> 8;
  bytes[l3 + 11] = c;
  const l4 = l3 + ihl;
  if (f.l4 < 0 || l4 !== f.l4) return;
  const total = (bytes[l3 + 2] << 8) | bytes[l3 + 3];
  const length = Math.min(total - ihl, f.length - l4);
  if (length < 8) return;
  const src =
    ((bytes[l3 + 12] << 24) | (bytes[l3 + 13] << 16) | (bytes[l3 + 14] << 8) | bytes[l3 + 15]) >>>
    0;
  const dst =
    ((bytes[l3 + 16] << 24) | (bytes[l3 + 17] << 16) | (bytes[l3 + 18] << 8) | bytes[l3 + 19]) >>>
    0;
  let at: number;
  let initial = 0;
  if (f.proto === 6) {
    if (length < 20) return;
    at = l4 + 16;
    initial = pseudoHeaderSum(src, dst, 6, length);
  } else if (f.proto === 17) {
    at = l4 + 6;
    if (bytes[at] === 0 && bytes[at + 1] === 0) return; // no checksum stays no checksum
    initial = pseudoHeaderSum(src, dst, 17, length);
  } else {
    at = l4 + 2;
  }
  bytes[at] = 0;
  bytes[at + 1] = 0;
  const c4 = internetChecksum(bytes, l4, length, initial);
  bytes[at] = c4 >>> 8;
  bytes[at + 1] = c4;
}
