/**
 * A scripted IPv6 peer for tests: the far end of a MemoryPair driven by hand. It sends IPv6 packets it
 * builds from parts and collects every frame the stack under test sends, decoded far enough to assert on.
 *
 * @module
 */

import { Interface, type InterfaceOptions } from "../../stack/layer/interface.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { readMac, writeMac } from "../../stack/wire/address.ts";
import { Icmpv6Packet } from "../../stack/wire/icmpv6.ts";
import { Ipv6Address } from "../../stack/wire/ipv6_address.ts";
import { Ipv6Packet, Ipv6Repr } from "../../stack/wire/ipv6.ts";

/** The peer's MAC. */
export const PEER_MAC = 0x020000000002;
/** The peer's link-local address. */
export const PEER_LL = Ipv6Address.linkLocalFromMac(PEER_MAC);
/** The stack's MAC. */
export const STACK_MAC = 0x020000000001;
/** The stack's link-local address. */
export const STACK_LL = Ipv6Address.linkLocalFromMac(STACK_MAC);

/** A frame the stack sent. */
export interface Sent {
  dstMac: number;
  etherType: number;
  /** The IPv6 packet (for EtherType 0x86dd). */
  ip: Ipv6Packet;
  bytes: Uint8Array;
}

/** The stack under test and its scripted neighbor. */
export class Peer {
  readonly pair: MemoryPair;
  readonly iface: Interface;
  now = 0;
  /** Every frame the stack sent, in order. */
  readonly sent: Sent[] = [];

  /** Creates the stack (IPv6 options merged) on one end of a memory cable. */
  constructor(options: InterfaceOptions = {}) {
    this.pair = new MemoryPair({ seed: 9, macA: STACK_MAC, macB: PEER_MAC });
    this.iface = new Interface(this.pair.a, { rng: new Rng(11), announce: false, ...options });
  }

  /** The stack's IPv6 layer. */
  get ip6() {
    return this.iface.ipv6!;
  }

  /** Polls the stack every 5 ms for `ms`, collecting what it sends. */
  run(ms: number): void {
    const end = this.now + ms;
    for (; this.now <= end; this.now += 5) {
      this.iface.poll(this.now);
      this.pair.b.receive(this.now, (bytes, offset, length) => {
        const frame = bytes.slice(offset, offset + length);
        const etherType = (frame[12] << 8) | frame[13];
        this.sent.push({
          dstMac: readMac(frame, 0),
          etherType,
          ip: new Ipv6Packet(frame, 14, length - 14),
          bytes: frame,
        });
      });
    }
  }

  /** Frames sent so far that carry ICMPv6 of `type` (after an optional hop-by-hop header). */
  icmp(type: number): { sent: Sent; view: Icmpv6Packet }[] {
    const out: { sent: Sent; view: Icmpv6Packet }[] = [];
    for (const s of this.sent) {
      if (s.etherType !== 0x86dd) continue;
      let at = s.ip.payloadOffset;
      let nh = s.ip.nextHeader;
      if (nh === 0) {
        nh = s.bytes[at];
        at += (s.bytes[at + 1] + 1) * 8;
      }
      if (nh !== 58) continue;
      const end = s.ip.payloadOffset + s.ip.payloadLength;
      const view = new Icmpv6Packet(s.bytes, at, end - at);
      if (view.type === type) out.push({ sent: s, view });
    }
    return out;
  }

  /** Sends an IPv6 packet from the peer: `payload` after the fixed header (extension headers included). */
  send(
    fields: { src: Ipv6Address; dst: Ipv6Address; nextHeader: number; hopLimit?: number },
    payload: Uint8Array,
    dstMac?: number,
  ): void {
    const repr = new Ipv6Repr();
    repr.src = fields.src;
    repr.dst = fields.dst;
    repr.nextHeader = fields.nextHeader;
    repr.hopLimit = fields.hopLimit ?? 64;
    repr.payloadLength = payload.length;
    const length = Math.max(60, 14 + 40 + payload.length);
    const mac = dstMac ?? (fields.dst.isMulticast ? fields.dst.multicastMac : STACK_MAC);
    this.pair.b.send(this.now, length, (bytes, offset) => {
      bytes.fill(0, offset, offset + length);
      writeMac(bytes, offset, mac);
      writeMac(bytes, offset + 6, PEER_MAC);
      bytes[offset + 12] = 0x86;
      bytes[offset + 13] = 0xdd;
      repr.emit(new Ipv6Packet(bytes, offset + 14, 40));
      bytes.set(payload, offset + 54);
    });
  }

  /** Builds an ICMPv6 message from `src` to `dst` with `write` filling it, checksum included. */
  static icmp(
    src: Ipv6Address,
    dst: Ipv6Address,
    length: number,
    write: (view: Icmpv6Packet) => void,
  ): Uint8Array {
    const bytes = new Uint8Array(length);
    const view = new Icmpv6Packet(bytes, 0, length);
    write(view);
    view.fillChecksum(src, dst);
    return bytes;
  }
}
