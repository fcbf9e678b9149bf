/**
 * The UDP layer (RFC 768, RFC 1122 §4.1): binds ports to handlers, checks datagrams (length and
 * checksum, unless the NIC verified it), answers datagrams to closed ports with ICMP port unreachable
 * (RFC 1122 §4.1.3.1; the ICMP layer rate-limits it), and sends datagrams with one copy into the NIC
 * buffer, or none when a Send handler writes the payload in place.
 *
 * @module
 */

import { isWireError } from "../../wire/error.ts";
import type { Ipv6Address } from "../../wire/ipv6_address.ts";
import { Icmpv4Type, Icmpv4Unreachable } from "../../wire/icmpv4.ts";
import { IpProtocol } from "../../wire/ipv4.ts";
import { UDP_HEADER_LENGTH, UdpPacket, UdpRepr } from "../../wire/udp.ts";
import { Rng } from "../../util/rng.ts";
import {
  addHandler,
  runSenders,
  sendersPollAt,
  type SendHandler,
  type SendResult,
} from "../handler.ts";
import type { Ipv4Endpoint } from "../ipv4/endpoint.ts";
import type { Ipv4Incoming, TransportHandler } from "../ipv4/contract.ts";
import { countWireError, newLayerStats } from "../stats.ts";
import { UdpPayload } from "./payload.ts";

/** A received datagram as a port handler sees it; reused, valid only during the call. */
export interface UdpIncoming {
  src: number;
  srcPort: number;
  dst: number;
  dstPort: number;
  /** The payload: `bytes[offset .. offset + length)`. */
  bytes: Uint8Array;
  offset: number;
  length: number;
  /** Set when the datagram came over IPv6 (`src` and `dst` are then 0); reply with `iface.udp6`. */
  src6?: Ipv6Address;
  /** The IPv6 destination, with `src6`. */
  dst6?: Ipv6Address;
}

/** A port handler. */
export type UdpHandler = (datagram: UdpIncoming, now: number) => void;

/** Writes `length` payload bytes in place at `bytes[offset ..]`. */
export type UdpFill = (bytes: Uint8Array, offset: number, length: number) => void;

/** A bound port; `close` frees it. */
export interface UdpBinding {
  readonly port: number;
  close(): void;
}

/** The UDP transmit side Send handlers get. */
export interface UdpTx {
  /** Sends `data` as one datagram. */
  send(srcPort: number, dst: number, dstPort: number, data: Uint8Array, src?: number): SendResult;
  /** Sends one datagram whose `length`-byte payload `fill` writes in place. */
  sendWith(
    srcPort: number,
    dst: number,
    dstPort: number,
    length: number,
    fill: UdpFill,
    src?: number,
  ): SendResult;
}

/** Options of the UDP layer. */
export interface UdpOptions {
  /** The NIC verified received checksums. */
  rxChecksumVerified?: boolean;
  /** The NIC completes sent checksums from the pseudo-header sum. */
  txChecksumOffload?: boolean;
  /** Picks ephemeral ports. */
  rng?: Rng;
}

/** Ephemeral ports (RFC 6335 §6). */
const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_FIRST;
/** The largest UDP payload in one IPv4 datagram. */
const MAX_PAYLOAD = 65535 - 20 - UDP_HEADER_LENGTH;

/** The UDP endpoint of an interface. */
export class UdpEndpoint implements TransportHandler, UdpTx {
  /** Counters. */
  readonly stats = newLayerStats("rxDelivered", "dropNoPort", "dropTooBig", "txBusy");
  #ip: Ipv4Endpoint;
  #ports = new Map<number, UdpHandler>();
  #senders: SendHandler<UdpTx>[] = [];
  #rxVerified: boolean;
  #txOffload: boolean;
  #rng: Rng;
  #view = new UdpPacket();
  #txView = new UdpPacket();
  #rx = new UdpRepr();
  #tx = new UdpRepr();
  #incoming: UdpIncoming = {
    src: 0,
    srcPort: 0,
    dst: 0,
    dstPort: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
  };
  #payload = new UdpPayload();
  #fill: (bytes: Uint8Array, offset: number, src: number, dst: number) => void;

  /** Creates the layer and registers it with `ip` for protocol 17. */
  constructor(ip: Ipv4Endpoint, options: UdpOptions = {}) {
    this.#ip = ip;
    this.#rxVerified = options.rxChecksumVerified ?? false;
    this.#txOffload = options.txChecksumOffload ?? false;
    this.#rng = options.rng ?? Rng.fromCrypto();
    this.#fill = (bytes, offset, src, dst) => this.#write(bytes, offset, src, dst);
    ip.register(IpProtocol.Udp, this);
  }

  /**
   * Binds `port` (0 picks a free ephemeral port) to `handler`. Throws when the port is taken or out of
   * range: that is a programming error, not network input.
   */
  bind(port: number, handler: UdpHandler): UdpBinding {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Cannot bind UDP port ${port}: it is not in 0..65535`);
    }
    if (port === 0) port = this.#ephemeral();
    if (this.#ports.has(port)) throw new Error(`Cannot bind UDP port ${port}: it is in use`);
    this.#ports.set(port, handler);
    const ports = this.#ports;
    return {
      port,
      close() {
        if (ports.get(port) === handler) ports.delete(port);
      },
    };
  }

  /** True when `port` is bound. */
  isBound(port: number): boolean {
    return this.#ports.has(port);
  }

  /** Adds a Send handler called on every poll; the returned function removes it. */
  addSender(handler: SendHandler<UdpTx>): () => void {
    return addHandler(this.#senders, handler);
  }

  /** Handles one datagram. */
  receive(packet: Ipv4Incoming, now: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    const view = this.#view.wrap(packet.bytes, packet.offset, packet.length);
    const repr = UdpRepr.parse(view, packet.src, packet.dst, !this.#rxVerified, this.#rx);
    if (isWireError(repr)) {
      countWireError(stats, repr);
      return;
    }
    const handler = this.#ports.get(repr.dstPort);
    if (handler === undefined) {
      stats.dropNoPort++;
      // Only a datagram addressed to us alone earns an error (RFC 1122 §4.1.3.1); ICMP filters the rest.
      this.#ip.errors?.sendError(
        Icmpv4Type.DestinationUnreachable,
        Icmpv4Unreachable.PortUnreachable,
        packet.packet,
        now,
      );
      return;
    }
    const incoming = this.#incoming;
    incoming.src = packet.src;
    incoming.srcPort = repr.srcPort;
    incoming.dst = packet.dst;
    incoming.dstPort = repr.dstPort;
    incoming.bytes = packet.bytes;
    incoming.offset = repr.payloadOffset;
    incoming.length = repr.payloadLength;
    stats.rxDelivered++;
    handler(incoming, now);
  }

  /** Hands a datagram decoded by another IP layer (IPv6) to its port's handler; false when closed. */
  deliver(datagram: UdpIncoming, now: number): boolean {
    const handler = this.#ports.get(datagram.dstPort);
    if (handler === undefined) return false;
    this.stats.rxDelivered++;
    handler(datagram, now);
    return true;
  }

  /** Sends `data` as one datagram (copied once, into the NIC buffer). */
  send(srcPort: number, dst: number, dstPort: number, data: Uint8Array, src?: number): SendResult {
    this.#payload.copy(data);
    const result = this.#send(srcPort, dst, dstPort, data.length, src);
    this.#payload.clear();
    return result;
  }

  /** Sends one datagram whose payload `fill` writes in place (no copy). */
  sendWith(
    srcPort: number,
    dst: number,
    dstPort: number,
    length: number,
    fill: UdpFill,
    src?: number,
  ): SendResult {
    this.#payload.fillWith(fill);
    const result = this.#send(srcPort, dst, dstPort, length, src);
    this.#payload.clear();
    return result;
  }

  /** Calls the Send handlers; true when any sent. */
  poll(now: number): boolean {
    return this.#senders.length > 0 && runSenders(this.#senders, this, now);
  }

  /** The earliest Send handler deadline. */
  pollAt(now: number): number | undefined {
    return sendersPollAt(this.#senders, now, undefined);
  }

  #send(srcPort: number, dst: number, dstPort: number, length: number, src?: number): SendResult {
    if (length < 0 || length > MAX_PAYLOAD) {
      this.stats.dropTooBig++;
      return "unroutable";
    }
    const tx = this.#tx;
    tx.srcPort = srcPort & 0xffff;
    tx.dstPort = dstPort & 0xffff;
    tx.payloadLength = length;
    const result = this.#ip.send(dst, IpProtocol.Udp, UDP_HEADER_LENGTH + length, this.#fill, src);
    if (result === "sent" || result === "queued") this.stats.txPackets++;
    else if (result === "busy") this.stats.txBusy++;
    return result;
  }

  #write(bytes: Uint8Array, offset: number, src: number, dst: number): void {
    const tx = this.#tx;
    this.#payload.write(bytes, offset + UDP_HEADER_LENGTH, tx.payloadLength);
    const length = UDP_HEADER_LENGTH + tx.payloadLength;
    // The NIC can only complete a checksum of a datagram it sends whole; fragments and loopback need it all.
    const offload = this.#txOffload && length <= this.#ip.mtu && !this.#ip.hasAddress(dst);
    tx.emit(this.#txView.wrap(bytes, offset, length), src, dst, offload ? "pseudo" : "full");
  }

  #ephemeral(): number {
    const start = this.#rng.below(EPHEMERAL_COUNT);
    for (let i = 0; i < EPHEMERAL_COUNT; i++) {
      const port = EPHEMERAL_FIRST + ((start + i) % EPHEMERAL_COUNT);
      if (!this.#ports.has(port)) return port;
    }
    throw new Error("Cannot bind UDP port 0: every ephemeral port is in use");
  }
}
