/**
 * Opens connections on the fuzzed stack the way a peer would: an ARP request first (so the peer is in
 * the cache), then a three-way handshake in crafted frames, reading the stack's SYN or SYN-ACK from the
 * scripted NIC. Works for a listener answering from its backlog or with a SYN cookie.
 *
 * @module
 */

import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { Rng } from "../../stack/util/rng.ts";
import { ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { seqAdd } from "../../stack/wire/seq.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import { WireError } from "../../stack/wire/error.ts";
import { type Frame, peerIp, peerMac, STACK_IP, STACK_MAC, TCP_PORT } from "./frames.ts";
import type { ScriptNic } from "./script_nic.ts";

/** What the handshaker needs from the harness. */
export interface Driver {
  now: number;
  feed(bytes: Uint8Array, length: number): void;
  pollNow(): void;
}

/** Crafts handshakes and remembers each peer port's timestamp clock. */
export class Handshaker {
  #nic: ScriptNic;
  #rng: Rng;
  #frame: Frame = {
    bytes: new Uint8Array(2048),
    length: 0,
    l3: -1,
    l4: -1,
    proto: -1,
    kind: "setup",
  };
  #seen = { port: 0, peer: 0, seq: 0, ts: undefined as number | undefined, found: false };
  #ts = new Map<number, number>();
  #rxView = new TcpPacket();
  #rxRepr = new TcpRepr();
  #ipView = new Ipv4Packet();
  #asked = 0;

  /** Watches `nic`'s output for the stack's SYN and SYN-ACK. */
  constructor(nic: ScriptNic, rng: Rng) {
    this.#nic = nic;
    this.#rng = rng;
    nic.onSend = (bytes, offset, length) => this.#watch(bytes, offset, length);
  }

  /** The timestamp value a peer port last used (0 when unknown). */
  tsFor(port: number): number {
    return this.#ts.get(port) ?? 0;
  }

  /** An ARP request from peer `mac`/`ip` for our address. */
  arpRequest(mac: number, ip: number): Frame {
    const f = this.#frame;
    const eth = new EthernetRepr();
    eth.dst = 0xffffffffffff;
    eth.src = mac;
    eth.etherType = EtherType.Arp;
    eth.emit(new EthernetFrame(f.bytes));
    const arp = new ArpRepr();
    arp.operation = 1;
    arp.senderMac = mac;
    arp.senderIp = ip;
    arp.targetMac = 0;
    arp.targetIp = STACK_IP;
    arp.emit(new ArpPacket(f.bytes, 14, 28));
    f.length = 60;
    f.l3 = 14;
    f.kind = "setup-arp";
    return f;
  }

  /** Peer `p` opens a connection from `port` to the listener. */
  passiveOpen(d: Driver, p: number, port: number): void {
    const arp = this.arpRequest(peerMac(p), peerIp(p));
    d.feed(arp.bytes, arp.length);
    const isn = this.#rng.nextU32();
    const ts = this.#rng.below(4) !== 0;
    const tsVal = this.#rng.nextU32();
    const syn = this.#repr(port, TCP_PORT, isn, 0, TcpFlags.SYN);
    syn.mss = 1460;
    syn.windowScale = this.#rng.below(2) === 0 ? 7 : undefined;
    syn.sackPermitted = this.#rng.below(2) === 0;
    if (ts) {
      syn.tsVal = tsVal;
      syn.tsEcr = 0;
    }
    this.#expect(port, peerIp(p));
    this.#send(d, p, syn, 0);
    if (!this.#seen.found) return; // refused or lost to a busy NIC: the harness tries again later
    const ack = this.#repr(port, TCP_PORT, seqAdd(isn, 1), seqAdd(this.#seen.seq, 1), TcpFlags.ACK);
    if (ts && this.#seen.ts !== undefined) {
      ack.tsVal = seqAdd(tsVal, 1);
      ack.tsEcr = this.#seen.ts;
    }
    this.#ts.set(port, seqAdd(tsVal, 1));
    this.#send(d, p, ack, 0);
  }

  /** Answers the SYN of `conn` (an active open towards peer `p`) with a SYN-ACK. */
  activeOpen(d: Driver, conn: TcpConnection, p: number): void {
    const arp = this.arpRequest(peerMac(p), peerIp(p));
    d.feed(arp.bytes, arp.length);
    this.#expect(conn.remotePort, peerIp(p), true);
    d.pollNow();
    if (!this.#seen.found) return; // the retransmission timer resends; the conn may time out
    const isn = this.#rng.nextU32();
    const synAck = this.#repr(
      conn.remotePort,
      conn.localPort,
      isn,
      seqAdd(this.#seen.seq, 1),
      TcpFlags.SYN | TcpFlags.ACK,
    );
    synAck.mss = 1400;
    synAck.sackPermitted = true;
    if (this.#seen.ts !== undefined) {
      const tsVal = this.#rng.nextU32();
      synAck.tsVal = tsVal;
      synAck.tsEcr = this.#seen.ts;
      this.#ts.set(conn.remotePort, tsVal);
    }
    synAck.windowScale = 2;
    this.#seen.found = false;
    this.#send(d, p, synAck, 0);
  }

  #repr(srcPort: number, dstPort: number, seq: number, ack: number, flags: number): TcpRepr {
    const r = new TcpRepr();
    r.srcPort = srcPort;
    r.dstPort = dstPort;
    r.seq = seq >>> 0;
    r.ack = ack >>> 0;
    r.flags = flags;
    r.window = 0xffff;
    return r;
  }

  #send(d: Driver, p: number, repr: TcpRepr, payload: number): void {
    const f = this.#frame;
    const eth = new EthernetRepr();
    eth.dst = STACK_MAC;
    eth.src = peerMac(p);
    eth.etherType = EtherType.Ipv4;
    eth.emit(new EthernetFrame(f.bytes));
    const ip = new Ipv4Repr();
    ip.src = peerIp(p);
    ip.dst = STACK_IP;
    ip.protocol = IpProtocol.Tcp;
    const length = repr.headerLength + payload;
    ip.payloadLength = length;
    ip.emit(new Ipv4Packet(f.bytes, 14, 20 + length));
    repr.emit(new TcpPacket(f.bytes, 34, length), peerIp(p), STACK_IP, "full");
    f.length = Math.max(60, 34 + length);
    f.l3 = 14;
    f.l4 = 34;
    f.proto = IpProtocol.Tcp;
    f.kind = "setup-tcp";
    d.feed(f.bytes, f.length);
  }

  #expect(port: number, peer: number, syn = false): void {
    const s = this.#seen;
    s.port = port;
    s.peer = peer;
    s.found = false;
    s.ts = undefined;
    s.seq = syn ? 1 : 0;
  }

  /** Peers (a bit each) the stack asked for with ARP since the last `takeArpAsks`. */
  takeArpAsks(): number {
    const asked = this.#asked;
    this.#asked = 0;
    return asked;
  }

  /** An ARP reply from peer `p` to the stack. */
  arpReply(p: number): Frame {
    const f = this.arpRequest(peerMac(p), peerIp(p));
    f.bytes[0x15] = 2; // operation: reply
    writeMacAt(f.bytes, 0, STACK_MAC);
    writeMacAt(f.bytes, 32, STACK_MAC);
    return f;
  }

  #watch(bytes: Uint8Array, offset: number, length: number): void {
    if (length >= 42 && bytes[offset + 12] === 0x08 && bytes[offset + 13] === 0x06) {
      // An ARP request: note which peer is wanted (10.0.0.2 .. 10.0.0.9).
      const target = ((bytes[offset + 38] << 24) | (bytes[offset + 39] << 16) |
        (bytes[offset + 40] << 8) | bytes[offset + 41]) >>> 0;
      const p = target - peerIp(0);
      if (bytes[offset + 21] === 1 && p >= 0 && p < 8) this.#asked |= 1 << p;
      return;
    }
    const s = this.#seen;
    if (s.port === 0 || s.found || length < 54) return;
    if (bytes[offset + 12] !== 0x08 || bytes[offset + 13] !== 0x00) return;
    const ip = this.#ipView.wrap(bytes, offset + 14, length - 14);
    if (ip.check() !== undefined || ip.protocol !== IpProtocol.Tcp || ip.dst !== s.peer) return;
    const view = this.#rxView.wrap(bytes, ip.payloadOffset, ip.payloadLength);
    const seg = TcpRepr.parse(view, ip.src, ip.dst, false, this.#rxRepr);
    if (seg instanceof WireError || seg.dstPort !== s.port) return;
    if ((seg.flags & TcpFlags.SYN) === 0) return;
    s.found = true;
    s.seq = seg.seq;
    s.ts = seg.tsVal;
  }
}

function writeMacAt(bytes: Uint8Array, at: number, mac: number): void {
  for (let i = 5; i >= 0; i--) {
    bytes[at + i] = mac % 256;
    mac = Math.floor(mac / 256);
  }
}
