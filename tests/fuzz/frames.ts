/**
 * The fuzzer's frame generator: valid frames of every protocol the stack speaks (Ethernet, ARP, IPv4
 * with fragment series, ICMP echo and errors, UDP, TCP with options), built with the `stack/wire`
 * emitters and aimed at what the stack has open (the listener, the UDP port, live connections and their
 * sequence windows), so that mutations reach deep into each layer. Seeded; no allocation per frame.
 *
 * @module
 */

import type { Rng } from "../../stack/util/rng.ts";
import { writeIpv4, writeMac } from "../../stack/wire/address.ts";
import { ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet, Icmpv4Repr, Icmpv4Type } from "../../stack/wire/icmpv4.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { seqAdd } from "../../stack/wire/seq.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import { UdpPacket, UdpRepr } from "../../stack/wire/udp.ts";

/** The stack's MAC under test. */
export const STACK_MAC = 0x020000000001;
/** The stack's address, 10.0.0.1/24. */
export const STACK_IP = 0x0a000001;
/** Peers 10.0.0.2 .. 10.0.0.9; peer i has MAC 02:00:00:00:01:0i. */
export const PEER_COUNT = 8;
/** The listening TCP port. */
export const TCP_PORT = 80;
/** The bound UDP (echo) port. */
export const UDP_PORT = 7;
/** The largest frame the generator writes. */
export const MAX_FRAME = 1518;
/** Frames in one burst at most (a fragment series is one burst). */
export const MAX_BURST = 16;

/** The peer address of index `i`. */
export function peerIp(i: number): number {
  return (0x0a000002 + i) >>> 0;
}

/** The MAC of peer `i`. */
export function peerMac(i: number): number {
  return 0x020000000100 + i;
}

/** A live connection as the generator aims at it (read from the endpoint by the harness). */
export interface TcpTarget {
  peer: number;
  peerPort: number;
  localPort: number;
  rcvNxt: number;
  rcvWnd: number;
  sndUna: number;
  sndMax: number;
  tsRecent: number;
}

/** One generated frame and where its layers start (-1 when absent), for the mutator. */
export interface Frame {
  bytes: Uint8Array;
  length: number;
  /** Offset of the IPv4 header or ARP packet. */
  l3: number;
  /** Offset of the transport header. */
  l4: number;
  /** The IP protocol of the transport header, or -1. */
  proto: number;
  /** What was generated, for reports. */
  kind: string;
}

/** A reusable set of frames produced together. */
export class Burst {
  readonly frames: Frame[] = [];
  count = 0;

  /** Preallocates `MAX_BURST` frame buffers. */
  constructor() {
    for (let i = 0; i < MAX_BURST; i++) {
      this.frames.push({
        bytes: new Uint8Array(2048),
        length: 0,
        l3: -1,
        l4: -1,
        proto: -1,
        kind: "",
      });
    }
  }

  /** The next free frame, reset. */
  next(kind: string): Frame {
    const f = this.frames[this.count++];
    f.length = 0;
    f.l3 = -1;
    f.l4 = -1;
    f.proto = -1;
    f.kind = kind;
    return f;
  }
}

const FLAG_SETS = [
  TcpFlags.ACK,
  TcpFlags.ACK,
  TcpFlags.ACK | TcpFlags.PSH,
  TcpFlags.ACK | TcpFlags.FIN,
  TcpFlags.RST,
  TcpFlags.RST | TcpFlags.ACK,
  TcpFlags.SYN,
  TcpFlags.SYN | TcpFlags.ACK,
  TcpFlags.SYN | TcpFlags.FIN,
  0,
];

/** Generates bursts of frames aimed at a stack at `STACK_IP`. */
export class FrameGen {
  #rng: Rng;
  #targets: () => TcpTarget[];
  #eth = new EthernetFrame();
  #ethRepr = new EthernetRepr();
  #ip = new Ipv4Packet();
  #ipRepr = new Ipv4Repr();
  #tcp = new TcpPacket();
  #tcpRepr = new TcpRepr();
  #udp = new UdpPacket();
  #udpRepr = new UdpRepr();
  #icmp = new Icmpv4Packet();
  #icmpRepr = new Icmpv4Repr();
  #arp = new ArpPacket();
  #arpRepr = new ArpRepr();
  #datagram = new Uint8Array(70_000);
  #order = new Int32Array(MAX_BURST);
  #ident = 1;

  /** `targets` lists the live connections at the moment of each burst. */
  constructor(rng: Rng, targets: () => TcpTarget[]) {
    this.#rng = rng;
    this.#targets = targets;
  }

  /** Fills `burst` with one to `MAX_BURST` frames. */
  burst(burst: Burst): void {
    burst.count = 0;
    const r = this.#rng.below(100);
    if (r < 4) this.#random(burst.next("random"));
    else if (r < 12) this.#arpFrame(burst.next("arp"));
    else if (r < 18) this.#echo(burst.next("icmp-echo"));
    else if (r < 26) this.#icmpError(burst.next("icmp-error"));
    else if (r < 35) this.#udpFrame(burst.next("udp"));
    else if (r < 45) this.#fragments(burst);
    else if (r < 56) this.#syn(burst.next("tcp-syn"));
    else if (r < 58) {
      // A burst of SYNs that fills the listener's backlog, so that SYN cookies take over.
      const n = 8 + this.#rng.below(MAX_BURST - 7);
      for (let i = 0; i < n; i++) this.#syn(burst.next("tcp-syn-burst"));
    } else if (r < 92) this.#segment(burst.next("tcp-conn"));
    else this.#stray(burst.next("tcp-stray"));
  }

  // ---- Builders ------------------------------------------------------------------------------------

  #pick<T>(items: readonly T[]): T {
    return items[this.#rng.below(items.length)];
  }

  #peer(): number {
    return this.#rng.below(PEER_COUNT);
  }

  /** Writes an Ethernet header, sometimes with a VLAN tag or an odd destination; returns its length. */
  #ethHeader(f: Frame, src: number, etherType: number): number {
    const repr = this.#ethRepr;
    const r = this.#rng.below(100);
    repr.dst = r < 90
      ? STACK_MAC
      : r < 95
      ? 0xffffffffffff
      : r < 97
      ? 0x01005e000001
      : 0x020000000099;
    repr.src = src;
    repr.etherType = etherType;
    repr.vlanId = this.#rng.below(100) < 2 ? this.#rng.below(4096) : undefined;
    repr.vlanPcp = 0;
    repr.vlanDei = false;
    repr.emit(this.#eth.wrap(f.bytes, 0, f.bytes.length));
    return repr.headerLength;
  }

  /** Writes an IPv4 header at `at` for `payloadLength` bytes; returns its length. */
  #ipHeader(
    f: Frame,
    at: number,
    src: number,
    protocol: number,
    payloadLength: number,
    fragment?: { ident: number; offset: number; more: boolean },
  ): number {
    const repr = this.#ipRepr;
    repr.src = src;
    const r = this.#rng.below(100);
    repr.dst = r < 94 ? STACK_IP : r < 96 ? 0x0a0000ff : r < 98 ? 0xffffffff : 0x0a000063;
    repr.protocol = protocol;
    repr.payloadLength = payloadLength;
    repr.ttl = this.#rng.below(100) < 3 ? this.#rng.below(2) : 64;
    repr.dscp = 0;
    repr.ecn = 0;
    repr.ident = fragment?.ident ?? this.#ident++ & 0xffff;
    repr.dontFragment = fragment === undefined && this.#rng.below(2) === 0;
    repr.moreFragments = fragment?.more ?? false;
    repr.fragmentOffset = fragment?.offset ?? 0;
    repr.emit(this.#ip.wrap(f.bytes, at, f.bytes.length - at));
    f.l3 = at;
    return repr.headerLength;
  }

  #random(f: Frame): void {
    const length = this.#rng.below(MAX_FRAME + 1);
    const bytes = f.bytes;
    for (let i = 0; i < length; i++) bytes[i] = this.#rng.nextU32() & 0xff;
    // Half of them look like they are for us, so that the Ethernet layer passes them on.
    if (this.#rng.below(2) === 0 && length >= 14) {
      writeMac(bytes, 0, STACK_MAC);
      const type = this.#pick([0x0800, 0x0806, 0x86dd]);
      bytes[12] = type >>> 8;
      bytes[13] = type & 0xff;
      if (type === 0x86dd && length >= 54) bytes[14] = 0x60 | (bytes[14] & 0x0f);
    }
    f.length = length;
  }

  #arpFrame(f: Frame): void {
    const p = this.#peer();
    const at = this.#ethHeader(f, peerMac(p), EtherType.Arp);
    const repr = this.#arpRepr;
    const r = this.#rng.below(100);
    repr.operation = r < 50 ? 1 : r < 95 ? 2 : this.#rng.below(65536);
    // Sometimes claim another peer's or our own address: poisoning and conflict paths.
    repr.senderMac = this.#rng.below(100) < 80 ? peerMac(p) : 0x020000000200 + this.#rng.below(256);
    const s = this.#rng.below(100);
    repr.senderIp = s < 70
      ? peerIp(p)
      : s < 80
      ? STACK_IP
      : s < 85
      ? 0
      : (0x0a000000 | this.#rng.below(256)) >>> 0;
    repr.targetMac = this.#rng.below(2) === 0 ? 0 : STACK_MAC;
    repr.targetIp = this.#rng.below(100) < 85 ? STACK_IP : peerIp(this.#peer());
    repr.emit(this.#arp.wrap(f.bytes, at, 28));
    f.l3 = at;
    f.length = Math.max(60, at + 28);
  }

  #echo(f: Frame): void {
    const p = this.#peer();
    const at = this.#ethHeader(f, peerMac(p), EtherType.Ipv4);
    const dataLength = this.#rng.below(100) < 90 ? this.#rng.below(200) : this.#rng.below(1400);
    const ipLength = this.#ipHeader(f, at, peerIp(p), IpProtocol.Icmp, 8 + dataLength);
    const l4 = at + ipLength;
    const bytes = f.bytes;
    for (let i = 0; i < dataLength; i++) bytes[l4 + 8 + i] = i;
    const repr = this.#icmpRepr;
    repr.type = this.#rng.below(100) < 80 ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply;
    repr.code = 0;
    repr.ident = this.#rng.below(4);
    repr.seq = this.#rng.below(65536);
    repr.dataLength = dataLength;
    repr.emit(this.#icmp.wrap(bytes, l4, 8 + dataLength));
    this.#finish(f, l4, IpProtocol.Icmp, 8 + dataLength);
  }

  /** An ICMP error quoting one of our connections' segments (RFC 5927 forgeries) or a UDP datagram. */
  #icmpError(f: Frame): void {
    const targets = this.#targets();
    const t = targets.length > 0 && this.#rng.below(100) < 80 ? this.#pick(targets) : undefined;
    const p = t === undefined ? this.#peer() : t.peer - 0x0a000002;
    const at = this.#ethHeader(f, peerMac(p & 7), EtherType.Ipv4);
    const extra = this.#rng.below(100) < 70 ? 0 : this.#rng.below(64);
    const quoteLength = 20 + 8 + extra;
    const ipLength = this.#ipHeader(f, at, peerIp(p & 7), IpProtocol.Icmp, 8 + quoteLength);
    const l4 = at + ipLength;
    const bytes = f.bytes;
    // The quoted datagram: as if we had sent it to the peer.
    const q = l4 + 8;
    bytes[q] = 0x45;
    bytes[q + 1] = 0;
    bytes[q + 2] = 0;
    bytes[q + 3] = 40;
    bytes[q + 8] = 64;
    bytes[q + 9] = t !== undefined || this.#rng.below(2) === 0 ? IpProtocol.Tcp : IpProtocol.Udp;
    writeIpv4(bytes, q + 12, STACK_IP);
    writeIpv4(bytes, q + 16, t?.peer ?? peerIp(p));
    bytes[q + 10] = 0;
    bytes[q + 11] = 0;
    const qc = internetChecksum(bytes, q, 20);
    bytes[q + 10] = qc >>> 8;
    bytes[q + 11] = qc;
    const localPort = t?.localPort ?? (this.#rng.below(2) === 0 ? TCP_PORT : UDP_PORT);
    const remotePort = t?.peerPort ?? 1024 + this.#rng.below(64);
    write16(bytes, q + 20, localPort);
    write16(bytes, q + 22, remotePort);
    const seq = t === undefined
      ? this.#rng.nextU32()
      : seqAdd(t.sndUna, this.#rng.below(3) === 0 ? this.#rng.nextU32() : this.#rng.below(4));
    write32(bytes, q + 24, seq);
    for (let i = 0; i < extra; i++) bytes[q + 28 + i] = this.#rng.nextU32() & 0xff;
    const repr = this.#icmpRepr;
    repr.type = this.#pick([3, 3, 3, 4, 5, 11, 12]);
    repr.code = this.#rng.below(100) < 70 ? this.#pick([0, 1, 2, 3, 4, 13]) : this.#rng.below(256);
    repr.rest = 0;
    repr.nextHopMtu = this.#pick([0, 68, 296, 576, 1280, 1400, 65535]);
    repr.pointer = this.#rng.below(64);
    repr.dataLength = quoteLength;
    repr.emit(this.#icmp.wrap(bytes, l4, 8 + quoteLength));
    this.#finish(f, l4, IpProtocol.Icmp, 8 + quoteLength);
  }

  #udpFrame(f: Frame): void {
    const p = this.#peer();
    const at = this.#ethHeader(f, peerMac(p), EtherType.Ipv4);
    const dataLength = this.#rng.below(100) < 90 ? this.#rng.below(256) : this.#rng.below(1400);
    const ipLength = this.#ipHeader(f, at, peerIp(p), IpProtocol.Udp, 8 + dataLength);
    const l4 = at + ipLength;
    this.#writeUdp(f.bytes, l4, peerIp(p), dataLength);
    this.#finish(f, l4, IpProtocol.Udp, 8 + dataLength);
  }

  #writeUdp(bytes: Uint8Array, l4: number, src: number, dataLength: number): void {
    for (let i = 0; i < dataLength; i++) bytes[l4 + 8 + i] = (i * 7) & 0xff;
    const repr = this.#udpRepr;
    repr.srcPort = this.#rng.below(100) < 95 ? 1024 + this.#rng.below(64) : 0;
    repr.dstPort = this.#rng.below(100) < 75 ? UDP_PORT : this.#rng.below(65536);
    repr.payloadLength = dataLength;
    repr.emit(
      this.#udp.wrap(bytes, l4, 8 + dataLength),
      src,
      STACK_IP,
      this.#rng.below(10) === 0 ? "none" : "full",
    );
  }

  /**
   * A series of fragments of one UDP or ICMP datagram: in order, reversed, shuffled, with overlaps of
   * equal or different bytes (RFC 1858), teardrop, tiny pieces, duplicates, a missing piece (which
   * times out) or an offset past 64 KiB.
   */
  #fragments(burst: Burst): void {
    const p = this.#peer();
    const src = peerIp(p);
    const udp = this.#rng.below(2) === 0;
    const total = 16 + this.#rng.below(this.#rng.below(10) === 0 ? 8000 : 3000);
    const data = this.#datagram;
    // Build the whole transport datagram once, then slice it.
    if (udp) {
      const f = burst.frames[MAX_BURST - 1];
      this.#writeUdp(f.bytes, 0, src, Math.min(total, 2040) - 8);
      data.set(f.bytes.subarray(0, Math.min(total, 2040)));
      // Past 2040 bytes the checksum fails: fine, that tests the drop after reassembly.
      for (let i = 2040; i < total; i++) data[i] = i & 0xff;
    } else {
      for (let i = 8; i < total; i++) data[i] = i & 0xff;
      const repr = this.#icmpRepr;
      repr.type = Icmpv4Type.EchoRequest;
      repr.code = 0;
      repr.ident = 9;
      repr.seq = this.#rng.below(65536);
      repr.dataLength = total - 8;
      repr.emit(this.#icmp.wrap(data, 0, total));
    }
    const mode = this.#rng.below(10);
    const piece = mode === 5 ? 8 : 8 * (1 + this.#rng.below(mode === 4 ? 4 : 180));
    const count = Math.min(MAX_BURST, Math.ceil(total / piece));
    const ident = (0x8000 | this.#rng.below(0x8000)) & 0xffff;
    const order = this.#order;
    for (let i = 0; i < count; i++) order[i] = i;
    if (mode === 1) order.subarray(0, count).reverse();
    if (mode === 2 || mode === 3) {
      for (let i = count - 1; i > 0; i--) {
        const j = this.#rng.below(i + 1);
        const x = order[i];
        order[i] = order[j];
        order[j] = x;
      }
    }
    for (let k = 0; k < count && burst.count < MAX_BURST; k++) {
      const i = order[k];
      let offset = i * piece;
      let length = Math.min(piece, total - offset);
      if (i === count - 1) length = total - offset;
      if (length > 1400) length = 1400; // a long tail is cut: the datagram never completes
      if (mode === 6 && i === 1) offset = Math.max(0, offset - 8 * (1 + this.#rng.below(4))); // overlap
      if (mode === 7 && i === 1) {
        offset = 8; // teardrop: a second fragment inside the first, shorter than it
        length = Math.max(1, Math.min(length, piece - 16));
      }
      if (mode === 8 && i === count - 1) offset = 65528 - (this.#rng.below(2) * 8);
      if (mode === 9 && i === 1 && count > 2) continue; // one piece missing
      const more = i < count - 1;
      const f = burst.next("ipv4-fragment");
      const at = this.#ethHeader(f, peerMac(p), EtherType.Ipv4);
      const ipLength = this.#ipHeader(f, at, src, udp ? IpProtocol.Udp : IpProtocol.Icmp, length, {
        ident,
        offset,
        more,
      });
      const l4 = at + ipLength;
      f.bytes.set(data.subarray(Math.min(offset, total), Math.min(offset + length, total)), l4);
      if (mode === 3 && i === 0 && count > 1) f.bytes[l4 + length - 1] ^= 0xff; // different data
      if (offset === 0) {
        f.l4 = l4;
        f.proto = udp ? IpProtocol.Udp : IpProtocol.Icmp;
      }
      f.length = Math.max(60, l4 + length);
      if (mode === 6 && burst.count < MAX_BURST && k === 0) {
        // A duplicate of the first piece sent straight after it.
        const d = burst.next("ipv4-fragment");
        d.bytes.set(f.bytes.subarray(0, f.length));
        d.length = f.length;
        d.l3 = f.l3;
        d.l4 = f.l4;
        d.proto = f.proto;
      }
    }
  }

  #syn(f: Frame): void {
    const p = this.#peer();
    const repr = this.#tcpBase(
      this.#rng.below(100) < 90 ? TCP_PORT : this.#rng.below(65536),
      1024 + this.#rng.below(4096),
      this.#rng.nextU32(),
      this.#rng.below(100) < 90 ? 0 : this.#rng.nextU32(),
      this.#rng.below(100) < 85 ? TcpFlags.SYN : this.#pick(FLAG_SETS),
    );
    this.#synOptions(repr);
    this.#writeTcp(f, p, repr, 0, 0);
  }

  #synOptions(repr: TcpRepr): void {
    const r = this.#rng;
    if (r.below(100) < 80) {
      repr.mss = this.#pick([0, 1, 64, 536, 1460, 8960, 65535, r.below(65536)]);
    }
    if (r.below(100) < 60) repr.windowScale = this.#pick([0, 1, 7, 14, 15, 255]);
    repr.sackPermitted = r.below(100) < 60;
    if (r.below(100) < 60) {
      repr.tsVal = r.nextU32();
      repr.tsEcr = r.below(2) === 0 ? 0 : r.nextU32();
    }
  }

  #segment(f: Frame): void {
    const targets = this.#targets();
    if (targets.length === 0) {
      this.#syn(f);
      return;
    }
    const t = this.#pick(targets);
    const r = this.#rng;
    const x = r.below(100);
    const wnd = Math.max(1, t.rcvWnd);
    const seq = x < 55
      ? t.rcvNxt
      : x < 70
      ? seqAdd(t.rcvNxt, r.below(Math.min(wnd, 200_000)))
      : x < 80
      ? seqAdd(t.rcvNxt, -r.below(3000))
      : x < 88
      ? seqAdd(t.rcvNxt, wnd + r.below(3) - 1)
      : x < 92
      ? seqAdd(t.rcvNxt, 0x80000000)
      : r.nextU32();
    const y = r.below(100);
    const flight = Math.max(0, (t.sndMax - t.sndUna) >>> 0);
    const ack = y < 45
      ? t.sndMax
      : y < 65
      ? seqAdd(t.sndUna, r.below(flight + 1))
      : y < 75
      ? t.sndUna
      : y < 85
      ? seqAdd(t.sndMax, 1 + r.below(100_000))
      : y < 92
      ? seqAdd(t.sndUna, -(1 + r.below(1 << 20)))
      : r.nextU32();
    const z = r.below(100);
    const flags = z < 75
      ? TcpFlags.ACK | (r.below(3) === 0 ? TcpFlags.PSH : 0)
      : this.#pick(FLAG_SETS);
    const repr = this.#tcpBase(t.localPort, t.peerPort, seq, ack, flags);
    repr.window = r.below(100) < 85 ? 0xffff : this.#pick([0, 1, 2, 512, r.below(65536)]);
    if (r.below(100) < 60) {
      repr.tsVal = r.below(100) < 80 ? seqAdd(t.tsRecent, r.below(1000)) : r.nextU32();
      repr.tsEcr = r.nextU32();
    }
    if (r.below(100) < 20) {
      const blocks = 1 + r.below(4);
      for (let i = 0; i < blocks; i++) {
        const left = seqAdd(t.sndUna, r.below(flight + 2) - 1);
        repr.sackBlocks.push(left, seqAdd(left, r.below(flight + 3000)));
      }
    }
    if (r.below(100) < 3) this.#synOptions(repr);
    const payload = (flags & (TcpFlags.RST | TcpFlags.SYN)) !== 0 && r.below(2) === 0
      ? 0
      : r.below(100) < 35
      ? 0
      : r.below(100) < 80
      ? r.below(200)
      : r.below(1461);
    this.#writeTcp(f, t.peer - 0x0a000002, repr, payload, repr.seq);
  }

  #stray(f: Frame): void {
    const p = this.#peer();
    const repr = this.#tcpBase(
      this.#rng.below(65536),
      this.#rng.below(65536),
      this.#rng.nextU32(),
      this.#rng.nextU32(),
      this.#rng.below(64),
    );
    this.#writeTcp(f, p, repr, this.#rng.below(100), 0);
  }

  #tcpBase(dstPort: number, srcPort: number, seq: number, ack: number, flags: number): TcpRepr {
    const repr = this.#tcpRepr;
    repr.srcPort = srcPort;
    repr.dstPort = dstPort;
    repr.seq = seq >>> 0;
    repr.ack = ack >>> 0;
    repr.flags = flags;
    repr.window = 0xffff;
    repr.urgent = 0;
    repr.mss = undefined;
    repr.windowScale = undefined;
    repr.sackPermitted = false;
    repr.sackBlocks.length = 0;
    repr.tsVal = undefined;
    repr.tsEcr = undefined;
    return repr;
  }

  /** Writes Ethernet, IPv4 and the TCP segment with a payload whose bytes follow the sequence numbers. */
  #writeTcp(f: Frame, peer: number, repr: TcpRepr, payloadLength: number, seq: number): void {
    const p = peer & 7;
    const at = this.#ethHeader(f, peerMac(p), EtherType.Ipv4);
    const headerLength = repr.headerLength;
    const length = Math.min(headerLength + payloadLength, MAX_FRAME - at - 20);
    const ipLength = this.#ipHeader(f, at, peerIp(p), IpProtocol.Tcp, length);
    const l4 = at + ipLength;
    const bytes = f.bytes;
    for (let i = headerLength; i < length; i++) {
      bytes[l4 + i] = payloadByte(seqAdd(seq, i - headerLength));
    }
    repr.emit(this.#tcp.wrap(bytes, l4, length), peerIp(p), STACK_IP, "full");
    this.#finish(f, l4, IpProtocol.Tcp, length);
  }

  #finish(f: Frame, l4: number, proto: number, l4Length: number): void {
    f.l4 = l4;
    f.proto = proto;
    f.length = Math.max(60, l4 + l4Length);
  }
}

/** The byte a peer sends at sequence number `seq`, so that received data can be checked. */
export function payloadByte(seq: number): number {
  return (Math.imul(seq, 0x9e3779b1) >>> 24) & 0xff;
}

/** Writes `v` big-endian at `bytes[at .. at + 2)`. */
export function write16(bytes: Uint8Array, at: number, v: number): void {
  bytes[at] = v >>> 8;
  bytes[at + 1] = v;
}

/** Writes `v` big-endian at `bytes[at .. at + 4)`. */
export function write32(bytes: Uint8Array, at: number, v: number): void {
  bytes[at] = v >>> 24;
  bytes[at + 1] = v >>> 16;
  bytes[at + 2] = v >>> 8;
  bytes[at + 3] = v;
}
