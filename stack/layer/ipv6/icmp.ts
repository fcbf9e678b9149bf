/**
 * ICMPv6 for a host (RFC 4443): verifies checksums, answers echo requests (to unicast and multicast
 * destinations, replying from a unicast address, §4.2), reports echo replies to a callback, sends
 * pings, hands NDP messages to `Ndp` and MLD queries to `MldHost`, and sends error messages under the
 * rules of §2.4: never about an error, never to a multicast or unspecified source, rate-limited.
 *
 * @module
 */

import { isWireError } from "../../wire/error.ts";
import { Icmpv6Packet, Icmpv6Type } from "../../wire/icmpv6.ts";
import { IPV6_UNSPECIFIED, type Ipv6Address } from "../../wire/ipv6_address.ts";
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6Packet } from "../../wire/ipv6.ts";
import { MldQueryRepr } from "../../wire/mld.ts";
import { isNdpType } from "../../wire/ndp.ts";
import type { SendResult } from "../handler.ts";
import { TokenBucket } from "../icmp/token_bucket.ts";
import { newLayerStats } from "../stats.ts";
import type { Ipv6Incoming } from "./contract.ts";
import type { Ipv6Endpoint } from "./endpoint.ts";

/** An echo reply as `onEchoReply` sees it; valid only during the call. */
export interface Echo6Reply {
  src: Ipv6Address;
  ident: number;
  seq: number;
  /** The echoed data: `bytes[offset .. offset + length)`. */
  bytes: Uint8Array;
  offset: number;
  length: number;
}

/** An ICMPv6 error as `onError` sees it; valid only during the call. */
export interface Icmpv6ErrorReport {
  src: Ipv6Address;
  type: number;
  code: number;
  /** MTU (packet too big) or pointer (parameter problem). */
  param: number;
  /** The quoted packet (as much as came back). */
  quoted: Ipv6Packet;
}

/** Options of a ping. */
export interface Ping6Options {
  ident: number;
  seq: number;
  /** Bytes of data after the 8-byte header (default 56, as ping does). */
  payloadLength?: number;
}

/** The ICMPv6 endpoint of an IPv6 layer. */
export class Icmpv6Endpoint {
  /** Counters. */
  readonly stats = newLayerStats(
    "rxEchoRequests",
    "txEchoReplies",
    "rxEchoReplies",
    "txEchoRequests",
    "rxErrors",
    "txErrors",
    "dropErrorRate",
    "dropUnknownType",
  );
  /** Called for each echo reply. */
  onEchoReply: ((reply: Echo6Reply, now: number) => void) | undefined;
  /** Called for each error message received (for transports to act on). */
  onError: ((report: Icmpv6ErrorReport, now: number) => void) | undefined;
  #ip: Ipv6Endpoint;
  #view = new Icmpv6Packet();
  #txView = new Icmpv6Packet();
  #quoted = new Ipv6Packet();
  #bucket: TokenBucket;
  #mld = new MldQueryRepr();
  // The message being sent, read by the fill bound once.
  #txType = 0;
  #txCode = 0;
  #txParam = 0;
  #txData: Uint8Array = new Uint8Array(0);
  #txDataOffset = 0;
  #txDataLength = 0;
  #fill: (bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address) => void;
  #reply: Echo6Reply;

  /** Creates the endpoint; errors are limited to `errorRate` per second with a burst of 10. */
  constructor(ip: Ipv6Endpoint, errorRate: number) {
    this.#ip = ip;
    this.#bucket = new TokenBucket(errorRate, 10);
    this.#fill = (bytes, offset, src, dst) => this.#write(bytes, offset, src, dst);
    this.#reply = {
      src: IPV6_UNSPECIFIED,
      ident: 0,
      seq: 0,
      bytes: EMPTY,
      offset: 0,
      length: 0,
    };
  }

  /** Handles one ICMPv6 message. */
  receive(packet: Ipv6Incoming, now: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    const view = this.#view.wrap(packet.bytes, packet.offset, packet.length);
    const error = view.check();
    if (error !== undefined) {
      if (error.code === "truncated") stats.dropTruncated++;
      else stats.dropMalformed++;
      return;
    }
    if (!view.verifyChecksum(packet.src, packet.dst)) {
      stats.dropChecksum++;
      return;
    }
    const type = view.type;
    if (type === Icmpv6Type.EchoRequest) {
      stats.rxEchoRequests++;
      this.#echo(packet, view, now);
    } else if (type === Icmpv6Type.EchoReply) {
      stats.rxEchoReplies++;
      const reply = this.#reply;
      reply.src = packet.src;
      reply.ident = view.ident;
      reply.seq = view.seq;
      reply.bytes = view.bytes;
      reply.offset = view.dataOffset;
      reply.length = view.dataLength;
      this.onEchoReply?.(reply, now);
    } else if (isNdpType(type)) {
      this.#ip.ndp.receive(packet, view, now);
    } else if (type === Icmpv6Type.MldQuery) {
      const repr = MldQueryRepr.parse(view, this.#mld);
      if (isWireError(repr) || !packet.src.isLinkLocal) stats.dropMalformed++;
      else this.#ip.mld.query(repr, packet.hopLimit, now);
    } else if (type < 128) {
      stats.rxErrors++;
      const quoted = this.#quoted.wrap(view.bytes, view.dataOffset, view.dataLength);
      if (type === Icmpv6Type.PacketTooBig && view.dataLength >= IPV6_HEADER_LENGTH) {
        // RFC 8201 §4: only about a packet we sent, so that a forged message cannot shrink other paths.
        if (this.#ip.hasAddress(quoted.src)) this.#ip.setPathMtu(quoted.dst, view.param, now);
      }
      if (view.dataLength >= IPV6_HEADER_LENGTH) {
        this.onError?.(
          { src: packet.src, type, code: view.code, param: view.param, quoted },
          now,
        );
      }
    } else {
      // RFC 4443 §2.4(b): unknown informational messages are silently discarded.
      stats.dropUnknownType++;
    }
  }

  /** Sends an echo request to `dst`. */
  ping(dst: Ipv6Address, options: Ping6Options): SendResult {
    const length = options.payloadLength ?? 56;
    this.#txType = Icmpv6Type.EchoRequest;
    this.#txCode = 0;
    this.#txParam = ((options.ident & 0xffff) << 16 | (options.seq & 0xffff)) >>> 0;
    this.#txData = EMPTY;
    this.#txDataLength = length;
    const result = this.#ip.send(dst, 58, 8 + length, this.#fill);
    if (result === "sent" || result === "queued") this.stats.txEchoRequests++;
    return result;
  }

  /**
   * Sends an error about `offending` (RFC 4443 §2.4): `param` is the MTU or the pointer. Errors about
   * multicast destinations are only sent when `evenMulticast` (parameter problem code 2, §2.4(e.3)).
   */
  sendError(
    type: number,
    code: number,
    param: number,
    offending: Ipv6Packet,
    now: number,
    evenMulticast: boolean,
  ): void {
    const bytes = offending.bytes;
    const at = offending.offset;
    if (offending.length < IPV6_HEADER_LENGTH) return;
    const src = offending.src;
    const dst = offending.dst;
    // §2.4(e): not to a source that does not identify one node, not about multicast (with exceptions).
    if (src.isUnspecified || src.isMulticast) return;
    if (dst.isMulticast && !evenMulticast && type !== Icmpv6Type.PacketTooBig) return;
    // §2.4(e.1): never about an error message (or a redirect); a quick look at the first header suffices
    // for the packets a host sends errors about.
    if (bytes[at + 6] === 58 && offending.length > IPV6_HEADER_LENGTH) {
      const t = bytes[at + IPV6_HEADER_LENGTH];
      if (t < 128 || t === Icmpv6Type.Redirect) return;
    }
    if (!this.#bucket.take(now)) {
      this.stats.dropErrorRate++;
      return;
    }
    // §2.4(c): quote as much as fits in the minimum MTU.
    const max = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - 8;
    const length = Math.min(offending.length, IPV6_HEADER_LENGTH + offending.payloadLength, max);
    this.#txType = type;
    this.#txCode = code;
    this.#txParam = param >>> 0;
    this.#txData = bytes;
    this.#txDataOffset = at;
    this.#txDataLength = length;
    const from = this.#ip.hasAddress(dst) ? dst : this.#ip.sourceFor(src);
    const result = this.#ip.send(src, 58, 8 + length, this.#fill, from);
    this.#txData = EMPTY;
    if (result === "sent" || result === "queued") this.stats.txErrors++;
  }

  #echo(packet: Ipv6Incoming, view: Icmpv6Packet, now: number): void {
    const src = packet.src;
    if (src.isUnspecified || src.isMulticast) return;
    // §4.2: a reply to a multicast request comes from a unicast address of ours.
    const from = packet.dst.isMulticast ? this.#ip.sourceFor(src) : packet.dst;
    if (from === undefined) return;
    this.#txType = Icmpv6Type.EchoReply;
    this.#txCode = 0;
    this.#txParam = view.param;
    this.#txData = view.bytes;
    this.#txDataOffset = view.dataOffset;
    this.#txDataLength = view.dataLength;
    const result = this.#ip.send(src, 58, view.length, this.#fill, from);
    this.#txData = EMPTY;
    if (result === "sent" || result === "queued") this.stats.txEchoReplies++;
    void now;
  }

  #write(bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): void {
    const length = 8 + this.#txDataLength;
    const view = this.#txView.wrap(bytes, offset, length);
    view.type = this.#txType;
    view.code = this.#txCode;
    view.param = this.#txParam;
    const data = offset + 8;
    if (this.#txData === EMPTY) {
      // Ping data: a counting pattern, as ping(8) fills it.
      for (let i = 0; i < this.#txDataLength; i++) bytes[data + i] = i & 0xff;
    } else {
      bytes.set(
        this.#txData.subarray(this.#txDataOffset, this.#txDataOffset + this.#txDataLength),
        data,
      );
    }
    view.fillChecksum(src, dst);
    this.stats.txPackets++;
  }
}

const EMPTY = new Uint8Array(0);
