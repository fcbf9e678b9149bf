/**
 * A test rig for attack tests: one stack (an `Interface`, optionally with TCP attached) behind the
 * fuzzer's scripted NIC, on a virtual clock. Tests inject crafted frames from peers on 10.0.0.0/24 and
 * read back, decoded, every frame the stack sent.
 *
 * @module
 */

import { Interface, type InterfaceOptions } from "../../stack/layer/interface.ts";
import { TcpEndpoint, type TcpEndpointOptions } from "../../stack/layer/tcp/endpoint.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr, writeIpv4, writeMac } from "../../stack/wire/address.ts";
import { ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet, Icmpv4Repr } from "../../stack/wire/icmpv4.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import { ScriptNic } from "../fuzz/script_nic.ts";

/** The stack's address, 10.0.0.1. */
export const STACK_IP = 0x0a000001;
/** The stack's MAC. */
export const STACK_MAC = 0x020000000001;
/** A peer, 10.0.0.2. */
export const PEER_IP = 0x0a000002;
/** The peer's MAC. */
export const PEER_MAC = 0x020000000102;

/** A frame the stack sent, decoded enough for assertions. */
export interface SentFrame {
  bytes: Uint8Array;
  etherType: number;
  dstMac: number;
  /** IPv4 fields (0 when not IPv4). */
  src: number;
  dst: number;
  protocol: number;
  /** The IPv4 payload, when IPv4. */
  payload: Uint8Array;
}

/** Options of a rig. */
export interface RigOptions {
  iface?: InterfaceOptions;
  /** Attach a TCP endpoint with these options. */
  tcp?: TcpEndpointOptions;
  seed?: number;
}

/** One stack on a scripted NIC. */
export class Rig {
  readonly nic: ScriptNic;
  readonly iface: Interface;
  readonly tcp: TcpEndpoint | undefined;
  /** Frames the stack sent since the last `take`. */
  sent: SentFrame[] = [];
  now = 0;

  /** Builds the stack at 10.0.0.1/24. */
  constructor(options: RigOptions = {}) {
    const seed = options.seed ?? 1;
    this.nic = new ScriptNic(STACK_MAC, new Rng(seed));
    this.nic.ownAddress = STACK_IP;
    this.nic.onSend = (bytes, offset, length) =>
      this.sent.push(decodeSent(bytes.slice(offset, offset + length)));
    this.iface = new Interface(this.nic, {
      addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
      rng: new Rng(seed + 1),
      announce: false,
      ...options.iface,
    });
    if (options.tcp !== undefined) {
      const keys = new Rng(seed + 2);
      const isnKey = new Uint8Array(16);
      const cookieKey = new Uint8Array(16);
      keys.fill(isnKey);
      keys.fill(cookieKey);
      this.tcp = new TcpEndpoint({ rng: new Rng(seed + 3), isnKey, cookieKey, ...options.tcp });
      this.iface.attach(6, this.tcp);
    }
  }

  /** Delivers one frame to the stack and polls until idle. */
  inject(frame: Uint8Array): void {
    this.nic.put(frame, frame.length);
    this.settle();
  }

  /** Polls at the current time until the stack has no more work (bounded). */
  settle(): void {
    for (let i = 0; i < 1000; i++) {
      const worked = this.iface.poll(this.now);
      const at = this.iface.pollAt(this.now);
      if (!worked && (at === undefined || at > this.now)) return;
    }
    throw new Error(`The stack did not settle at ${this.now} ms within 1000 polls`);
  }

  /** Moves the clock to `time`, running every deadline on the way. */
  advance(time: number): void {
    for (let i = 0; i < 100_000; i++) {
      this.settle();
      const at = this.iface.pollAt(this.now);
      if (at === undefined || at > time) break;
      this.now = Math.max(this.now, at);
    }
    this.now = time;
    this.settle();
  }

  /** Returns and forgets the frames sent so far. */
  take(): SentFrame[] {
    return this.sent.splice(0);
  }

  /** Makes the peer known to the stack's ARP cache (a request from it to us). */
  learnPeer(ip = PEER_IP, mac = PEER_MAC): void {
    this.inject(
      arpFrame({ operation: 1, senderMac: mac, senderIp: ip, targetMac: 0, targetIp: STACK_IP }),
    );
    this.take();
  }
}

/** Decodes the outer layers of a sent frame. */
export function decodeSent(bytes: Uint8Array): SentFrame {
  const eth = new EthernetFrame(bytes);
  const out: SentFrame = {
    bytes,
    etherType: eth.payloadType,
    dstMac: eth.dst,
    src: 0,
    dst: 0,
    protocol: -1,
    payload: new Uint8Array(0),
  };
  if (out.etherType === EtherType.Ipv4) {
    const ip = new Ipv4Packet(bytes, eth.payloadOffset, bytes.length - eth.payloadOffset);
    out.src = ip.src;
    out.dst = ip.dst;
    out.protocol = ip.protocol;
    out.payload = bytes.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength);
  }
  return out;
}

/** An Ethernet frame from `src` to `dst` around `payload` (padded to 60 bytes). */
export function ethFrame(
  payload: Uint8Array,
  etherType: number,
  src = PEER_MAC,
  dst = STACK_MAC,
): Uint8Array {
  const repr = new EthernetRepr();
  repr.src = src;
  repr.dst = dst;
  repr.etherType = etherType;
  const bytes = new Uint8Array(Math.max(60, 14 + payload.length));
  repr.emit(new EthernetFrame(bytes));
  bytes.set(payload, 14);
  return bytes;
}

/** An ARP frame with the given fields (from the sender's MAC, to our MAC unless `to` is set). */
export function arpFrame(fields: Partial<ArpRepr>, to = STACK_MAC): Uint8Array {
  const repr = Object.assign(new ArpRepr(), fields);
  const body = new Uint8Array(28);
  repr.emit(new ArpPacket(body));
  return ethFrame(body, EtherType.Arp, repr.senderMac, to);
}

/** IPv4 header fields a test may set. */
export interface IpFields {
  src?: number;
  dst?: number;
  protocol: number;
  ident?: number;
  moreFragments?: boolean;
  fragmentOffset?: number;
  ttl?: number;
  /** Total length to claim instead of the real one. */
  totalLength?: number;
}

/** An Ethernet + IPv4 frame around `payload`. */
export function ipFrame(fields: IpFields, payload: Uint8Array, srcMac = PEER_MAC): Uint8Array {
  const repr = new Ipv4Repr();
  repr.src = fields.src ?? PEER_IP;
  repr.dst = fields.dst ?? STACK_IP;
  repr.protocol = fields.protocol;
  repr.ident = fields.ident ?? 1;
  repr.moreFragments = fields.moreFragments ?? false;
  repr.fragmentOffset = fields.fragmentOffset ?? 0;
  repr.ttl = fields.ttl ?? 64;
  repr.payloadLength = payload.length;
  const body = new Uint8Array(20 + payload.length);
  const view = new Ipv4Packet(body);
  repr.emit(view);
  if (fields.totalLength !== undefined) {
    view.totalLength = fields.totalLength;
    view.fillChecksum();
  }
  body.set(payload, 20);
  return ethFrame(body, EtherType.Ipv4, srcMac);
}

/** A UDP datagram (header + payload) with a valid checksum: the layer tests' builder. */
export { udpDatagram } from "../layer/frames.ts";

/** A TCP segment (header + payload) from `src` to `dst` with a valid checksum. */
export function tcpSegment(
  fields: Partial<TcpRepr> & { srcPort: number; dstPort: number },
  payload: Uint8Array = new Uint8Array(0),
  src = PEER_IP,
  dst = STACK_IP,
): Uint8Array {
  const repr = Object.assign(new TcpRepr(), { window: 65535 }, fields);
  const bytes = new Uint8Array(repr.headerLength + payload.length);
  bytes.set(payload, repr.headerLength);
  repr.emit(new TcpPacket(bytes), src, dst, "full");
  return bytes;
}

/** An ICMP error of `type`/`code` quoting `quoted` (an IPv4 header and at least 8 payload bytes). */
export function icmpError(type: number, code: number, quoted: Uint8Array, rest = 0): Uint8Array {
  const repr = new Icmpv4Repr();
  repr.type = type;
  repr.code = code;
  repr.rest = rest;
  repr.nextHopMtu = rest & 0xffff;
  repr.dataLength = quoted.length;
  const bytes = new Uint8Array(8 + quoted.length);
  bytes.set(quoted, 8);
  repr.emit(new Icmpv4Packet(bytes));
  return bytes;
}

/** The first `8 + extra` payload bytes of a datagram we might have sent, with its IPv4 header. */
export function quote(
  src: number,
  dst: number,
  protocol: number,
  transport: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(20 + transport.length);
  bytes[0] = 0x45;
  bytes[2] = (20 + transport.length) >>> 8;
  bytes[3] = 20 + transport.length;
  bytes[8] = 64;
  bytes[9] = protocol;
  writeIpv4(bytes, 12, src);
  writeIpv4(bytes, 16, dst);
  const c = internetChecksum(bytes, 0, 20);
  bytes[10] = c >>> 8;
  bytes[11] = c;
  bytes.set(transport, 20);
  return bytes;
}

/** A MAC written into a fresh 6-byte array (for assertions on raw bytes). */
export function macBytes(mac: number): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}

export { EtherType, IpProtocol };
