/**
 * The contract between the IPv6 layer and the transports above it, the IPv6 twin of
 * stack/layer/ipv4/contract.ts: what a transport receives, and how it sends.
 *
 * @module
 */

import type { Ipv6Address } from "../../wire/ipv6_address.ts";
import type { Ipv6Packet } from "../../wire/ipv6.ts";
import type { SendResult } from "../handler.ts";

/** An incoming packet as a transport sees it; reused, valid only during the call. */
export interface Ipv6Incoming {
  /** The source (an object reused while consecutive packets come from the same address). */
  src: Ipv6Address;
  dst: Ipv6Address;
  /** The upper-layer protocol (after the extension headers). */
  nextHeader: number;
  hopLimit: number;
  /** The upper-layer message: `bytes[offset .. offset + length)`. */
  bytes: Uint8Array;
  offset: number;
  length: number;
  /** The whole packet (for ICMPv6 errors quoting it). */
  packet: Ipv6Packet;
}

/** A transport's IPv6 Recv handler. */
export interface Ipv6TransportHandler {
  receive(packet: Ipv6Incoming, now: number): void;
}

/** Writes an upper-layer message in place at `bytes[offset ..]` for a packet from `src` to `dst`. */
export type Ipv6Fill = (
  bytes: Uint8Array,
  offset: number,
  src: Ipv6Address,
  dst: Ipv6Address,
) => void;

/** The IPv6 transmit side transports use. */
export interface Ipv6Sender {
  /**
   * Sends one packet whose upper-layer message `fill` writes in place. Returns "sent", "queued"
   * (waiting for neighbor discovery), "busy" (no NIC buffer or a full queue) or "unroutable".
   */
  send(
    dst: Ipv6Address,
    nextHeader: number,
    payloadLength: number,
    fill: Ipv6Fill,
    src?: Ipv6Address,
  ): SendResult;
  /** The own address used towards `dst` (RFC 6724, simplified), or undefined. */
  sourceFor(dst: Ipv6Address): Ipv6Address | undefined;
  /** The largest upper-layer message sent without fragmentation. */
  readonly mtu: number;
}
