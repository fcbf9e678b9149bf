/**
 * The contract between the IPv4 layer and the transports above it (stack/DESIGN.md): what a transport
 * receives, how it sends, and how the IPv4 layer reports errors through ICMP.
 *
 * @module
 */

import type { Ipv4Packet } from "../../wire/ipv4.ts";
import type { SendResult } from "../handler.ts";

/** An incoming datagram as a transport sees it; reused, valid only during the call. */
export interface Ipv4Incoming {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  /** The transport segment (the IP payload): `bytes[offset .. offset + length)`. */
  bytes: Uint8Array;
  offset: number;
  length: number;
  /** The whole datagram (for ICMP errors quoting it). */
  packet: Ipv4Packet;
  /**
   * True when the datagram was sent to a broadcast or multicast address, not to one of ours: TCP must
   * drop it (RFC 1122 §4.2.3.10) and nobody may answer from that address (§3.2.1.3).
   */
  broadcast: boolean;
}

/** A transport's Recv handler. */
export interface TransportHandler {
  receive(packet: Ipv4Incoming, now: number): void;
}

/** Writes a transport payload in place at `bytes[offset ..]` for a datagram from `src` to `dst`. */
export type Ipv4Fill = (bytes: Uint8Array, offset: number, src: number, dst: number) => void;

/** The IPv4 transmit side transports and Send handlers use. */
export interface Ipv4Sender {
  /**
   * Sends one datagram whose payload `fill` writes in place at bytes[offset..offset+payloadLength).
   * Returns "sent", "queued" (waiting for ARP, copied to a bounded queue; when the queue is full the
   * datagram is dropped and counted as `dropArpFull`, like a loss on the wire), "busy" (no NIC buffer:
   * try again on a later poll) or "unroutable".
   */
  send(
    dst: number,
    protocol: number,
    payloadLength: number,
    fill: Ipv4Fill,
    src?: number,
  ): SendResult;
  /** The own address used towards `dst`, or undefined when there is none. */
  sourceFor(dst: number): number | undefined;
  /** The largest IP payload sent without fragmentation. */
  readonly mtu: number;
}

/** Where the IPv4 layer sends its ICMP errors (the ICMP endpoint implements it). */
export interface Ipv4ErrorSink {
  /** Reports `offending` (a received datagram) to its source, rate-limited and filtered by RFC 1122. */
  sendError(type: number, code: number, offending: Ipv4Packet, now: number): void;
}
