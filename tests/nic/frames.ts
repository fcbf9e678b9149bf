/**
 * Hand-built Ethernet frames for NIC tests, kept independent of the stack's wire modules so that a NIC
 * test fails only for a NIC bug.
 *
 * @module
 */

import type { Nic } from "../../stack/nic/nic.ts";

/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** IEEE 802 local experimental EtherType, used for filler frames nobody answers. */
export const ETHERTYPE_EXPERIMENTAL = 0x88b5;

/** Writes a 48-bit MAC at `at`. */
export function putMac(b: Uint8Array, at: number, mac: number): void {
  for (let i = 5; i >= 0; i--) {
    b[at + i] = mac % 256;
    mac = Math.floor(mac / 256);
  }
}

/** Reads a 48-bit MAC at `at`. */
export function getMac(b: Uint8Array, at: number): number {
  let mac = 0;
  for (let i = 0; i < 6; i++) mac = mac * 256 + b[at + i];
  return mac;
}

/** Reads a big-endian 32-bit IPv4 address at `at`. */
export function getIpv4(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Parses "aa:bb:cc:dd:ee:ff". */
export function macFromText(text: string): number {
  return parseInt(text.replaceAll(":", ""), 16);
}

/** Formats a 48-bit MAC as "aa:bb:cc:dd:ee:ff". */
export function macToText(mac: number): string {
  return mac.toString(16).padStart(12, "0").replace(/(..)(?!$)/g, "$1:");
}

/** Parses a dotted IPv4 address. */
export function ipv4(text: string): number {
  return text.split(".").reduce((a, p) => (a * 256 + Number(p)) >>> 0, 0);
}

/** Writes a 42-byte ARP frame (op 1 request, 2 reply) at `o`. */
export function writeArp(
  b: Uint8Array,
  o: number,
  a: { op: number; srcMac: number; srcIp: number; dstMac: number; dstIp: number; ethDst?: number },
): void {
  putMac(b, o, a.ethDst ?? (a.op === 1 ? 0xffffffffffff : a.dstMac));
  putMac(b, o + 6, a.srcMac);
  b[o + 12] = 0x08;
  b[o + 13] = 0x06;
  b.set([0, 1, 0x08, 0, 6, 4, 0, a.op], o + 14);
  putMac(b, o + 22, a.srcMac);
  new DataView(b.buffer, b.byteOffset).setUint32(o + 28, a.srcIp);
  putMac(b, o + 32, a.op === 1 ? 0 : a.dstMac);
  new DataView(b.buffer, b.byteOffset).setUint32(o + 38, a.dstIp);
}

/** A decoded ARP frame. */
export interface Arp {
  ethSrc: number;
  ethDst: number;
  op: number;
  srcMac: number;
  srcIp: number;
  dstMac: number;
  dstIp: number;
}

/** Decodes an ARP frame, or undefined for anything else. */
export function readArp(b: Uint8Array, o: number, l: number): Arp | undefined {
  if (l < 42 || ((b[o + 12] << 8) | b[o + 13]) !== ETHERTYPE_ARP) return undefined;
  return {
    ethDst: getMac(b, o),
    ethSrc: getMac(b, o + 6),
    op: (b[o + 20] << 8) | b[o + 21],
    srcMac: getMac(b, o + 22),
    srcIp: getIpv4(b, o + 28),
    dstMac: getMac(b, o + 32),
    dstIp: getIpv4(b, o + 38),
  };
}

/** Writes a broadcast filler frame of `length` bytes with EtherType 0x88b5 and a sequence number. */
export function writeFiller(b: Uint8Array, o: number, length: number, src: number, seq: number) {
  b.fill(0xff, o, o + 6);
  putMac(b, o + 6, src);
  b[o + 12] = 0x88;
  b[o + 13] = 0xb5;
  new DataView(b.buffer, b.byteOffset).setUint32(o + 14, seq);
  b.fill(0x5a, o + 18, o + length);
}

/**
 * Receives from `nic` until `match` accepts a frame or `timeoutMs` passes, waiting with the NIC's own
 * `wait` in between. The deadline only bounds the loop; nothing asserts on timing.
 */
export async function receiveUntil(
  nic: Nic,
  match: (b: Uint8Array, o: number, l: number) => boolean,
  timeoutMs = 5000,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let found = false;
  const handler = (b: Uint8Array, o: number, l: number) => {
    if (!found && match(b, o, l)) found = true;
  };
  while (true) {
    nic.receive(performance.now(), handler);
    if (found) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await nic.wait(Math.min(left, 200));
  }
}
