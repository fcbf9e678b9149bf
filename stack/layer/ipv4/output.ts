/**
 * The IPv4 output path below routing: writes the header in place in a NIC buffer and lets the caller
 * fill the payload behind it, fragments datagrams larger than the MTU (RFC 791 §3.2), builds datagrams
 * for the loopback queue, and sends the datagrams that waited for ARP. Fills are bound once, and the
 * datagram being sent lives in fields, so that sending allocates nothing per packet.
 *
 * @module
 */

import { EtherType } from "../../wire/ethernet.ts";
import {
  IPV4_DEFAULT_TTL,
  IPV4_HEADER_LENGTH,
  IPV4_MAX_TOTAL_LENGTH,
  Ipv4Packet,
  Ipv4Repr,
} from "../../wire/ipv4.ts";
import { TCP_PROTOCOL } from "../../wire/tcp.ts";
import type { EthTx } from "../eth/endpoint.ts";
import type { SendResult } from "../handler.ts";
import type { LayerStats } from "../stats.ts";
import type { Ipv4Fill } from "./contract.ts";

const TCP_MAX_HEADER = 60;

/** A datagram waiting for ARP: its payload copied out of the caller's hands. */
export class PendingDatagram {
  /** Bytes held, for the ARP queue's budget. */
  readonly size: number;
  /** Creates a pending datagram. */
  constructor(
    readonly src: number,
    readonly dst: number,
    readonly protocol: number,
    readonly payload: Uint8Array,
  ) {
    this.size = payload.length + IPV4_HEADER_LENGTH;
  }
}

/** The counters the output path keeps (a subset of the IPv4 layer's). */
export type Ipv4OutputStats = LayerStats & {
  txFragments: number;
  txBusy: number;
  dropTooBig: number;
  dropUnresolved: number;
  loopback: number;
};

/** Writes IPv4 datagrams into Ethernet frames. */
export class Ipv4Output {
  /** TTL of sent datagrams. */
  ttl = IPV4_DEFAULT_TTL;
  /**
   * The NIC's TCP segmentation offload (`NicCaps.tsoMaxBytes`, 0 for none): a TCP datagram over the MTU
   * is then a TSO frame that the NIC cuts into segments, so it goes whole rather than fragmented.
   */
  tsoMaxBytes = 0;
  #eth: EthTx;
  #stats: Ipv4OutputStats;
  #ident: number;
  #scratch: Uint8Array | undefined;
  #view = new Ipv4Packet();
  #repr = new Ipv4Repr();
  #fill: Ipv4Fill = noFill;
  #source: Uint8Array = new Uint8Array(0);
  #sourceOffset = 0;
  #frameFill: (bytes: Uint8Array, offset: number, length: number) => void;
  #fragmentFill: (bytes: Uint8Array, offset: number, length: number) => void;
  #copyFill: Ipv4Fill;

  /** Creates the output path over `eth`, counting into `stats`, numbering datagrams from `ident`. */
  constructor(eth: EthTx, stats: Ipv4OutputStats, ident: number) {
    this.#eth = eth;
    this.#stats = stats;
    this.#ident = ident & 0xffff;
    this.#frameFill = (bytes, offset) => {
      this.#repr.emit(this.#view.wrap(bytes, offset, IPV4_HEADER_LENGTH));
      this.#fill(bytes, offset + IPV4_HEADER_LENGTH, this.#repr.src, this.#repr.dst);
    };
    this.#fragmentFill = (bytes, offset) => {
      const repr = this.#repr;
      repr.emit(this.#view.wrap(bytes, offset, IPV4_HEADER_LENGTH));
      const from = this.#sourceOffset + repr.fragmentOffset;
      bytes.set(
        this.#source.subarray(from, from + repr.payloadLength),
        offset + IPV4_HEADER_LENGTH,
      );
    };
    this.#copyFill = (bytes, offset) => bytes.set(this.#source, offset);
  }

  /** The largest IP payload sent without fragmentation. */
  get mtu(): number {
    return this.#eth.mtu - IPV4_HEADER_LENGTH;
  }

  /** Sends a datagram to `mac`, fragmenting it when it exceeds the MTU. */
  transmit(
    mac: number,
    src: number,
    dst: number,
    protocol: number,
    payloadLength: number,
    fill: Ipv4Fill,
    now: number,
  ): SendResult {
    const repr = this.#prepare(src, dst, protocol);
    if (payloadLength <= this.mtu || this.#isTsoFrame(protocol, payloadLength)) {
      repr.payloadLength = payloadLength;
      this.#fill = fill;
      const sent = this.#eth.send(
        mac,
        EtherType.Ipv4,
        IPV4_HEADER_LENGTH + payloadLength,
        this.#frameFill,
        now,
      );
      this.#fill = noFill;
      if (!sent) {
        this.#stats.txBusy++;
        return "busy";
      }
      this.#stats.txPackets++;
      return "sent";
    }
    // The payload is written whole once, then each fragment copies its share.
    const scratch = this.#scratch ??= new Uint8Array(IPV4_MAX_TOTAL_LENGTH);
    fill(scratch, 0, src, dst);
    return this.#sendFragments(mac, scratch, payloadLength, now);
  }

  /** Builds a whole datagram in a new buffer, for the loopback queue. */
  build(src: number, dst: number, protocol: number, payloadLength: number, fill: Ipv4Fill) {
    const datagram = new Uint8Array(IPV4_HEADER_LENGTH + payloadLength);
    const repr = this.#prepare(src, dst, protocol);
    repr.payloadLength = payloadLength;
    repr.emit(this.#view.wrap(datagram, 0, IPV4_HEADER_LENGTH));
    fill(datagram, IPV4_HEADER_LENGTH, src, dst);
    this.#stats.loopback++;
    this.#stats.txPackets++;
    return datagram;
  }

  /** Sends the datagrams that waited for `mac`; those the NIC refuses are counted as lost. */
  sendPending(mac: number, items: PendingDatagram[], now: number): void {
    for (const item of items) {
      this.#source = item.payload;
      const length = item.payload.length;
      const result = this.transmit(
        mac,
        item.src,
        item.dst,
        item.protocol,
        length,
        this.#copyFill,
        now,
      );
      if (result === "busy") this.#stats.dropUnresolved++;
    }
  }

  /** RFC 791 §3.2: every fragment but the last carries a multiple of 8 bytes. */
  #sendFragments(mac: number, source: Uint8Array, payloadLength: number, now: number): SendResult {
    const repr = this.#repr;
    const chunk = Math.floor(this.mtu / 8) * 8;
    if (chunk <= 0) {
      this.#stats.dropTooBig++;
      return "unroutable";
    }
    this.#source = source;
    this.#sourceOffset = 0;
    for (let at = 0; at < payloadLength; at += chunk) {
      const length = Math.min(chunk, payloadLength - at);
      repr.fragmentOffset = at;
      repr.payloadLength = length;
      repr.moreFragments = at + length < payloadLength;
      const sent = this.#eth.send(
        mac,
        EtherType.Ipv4,
        IPV4_HEADER_LENGTH + length,
        this.#fragmentFill,
        now,
      );
      if (!sent) {
        // The fragments already sent are wasted; the receiver's reassembly timeout frees them.
        this.#stats.txBusy++;
        return "busy";
      }
      this.#stats.txFragments++;
    }
    this.#stats.txPackets++;
    return "sent";
  }

  /** A TCP datagram within the NIC's TSO limit (its TCP header is at most 60 bytes). */
  #isTsoFrame(protocol: number, payloadLength: number): boolean {
    return protocol === TCP_PROTOCOL && this.tsoMaxBytes > 0 &&
      payloadLength <= this.tsoMaxBytes + TCP_MAX_HEADER &&
      payloadLength <= IPV4_MAX_TOTAL_LENGTH - IPV4_HEADER_LENGTH;
  }

  /** Fills the shared repr for a new, unfragmented datagram with a fresh identification. */
  #prepare(src: number, dst: number, protocol: number): Ipv4Repr {
    const repr = this.#repr;
    repr.src = src;
    repr.dst = dst;
    repr.protocol = protocol;
    repr.ttl = this.ttl;
    repr.ident = this.#ident;
    repr.dontFragment = false;
    repr.moreFragments = false;
    repr.fragmentOffset = 0;
    this.#ident = (this.#ident + 1) & 0xffff;
    return repr;
  }
}

function noFill(): void {}
