/**
 * The ICMPv4 layer (RFC 792, RFC 1122 §3.2.2): answers echo requests, delivers echo replies to the ping
 * API, hands received errors to the transport they concern, and sends errors for the other layers
 * (port and protocol unreachable, reassembly time exceeded) under the RFC 1122 rules of when not to, and
 * rate-limited by a token bucket on the injected clock (RFC 1812 §4.3.2.8).
 *
 * @module
 */

import { isUnicastIpv4 } from "../../wire/address.ts";
import { isWireError } from "../../wire/error.ts";
import {
  ICMPV4_HEADER_LENGTH,
  Icmpv4Packet,
  Icmpv4Repr,
  Icmpv4Type,
  isIcmpv4Error,
} from "../../wire/icmpv4.ts";
import { IpProtocol, Ipv4Packet } from "../../wire/ipv4.ts";
import { copyBytes } from "../copy.ts";
import type { SendResult } from "../handler.ts";
import type { Ipv4Endpoint } from "../ipv4/endpoint.ts";
import type { Ipv4ErrorSink, Ipv4Incoming, TransportHandler } from "../ipv4/contract.ts";
import { countWireError, newLayerStats } from "../stats.ts";
import { TokenBucket } from "./token_bucket.ts";

/** An echo reply as `onEchoReply` gets it; reused, valid only during the call. */
export interface EchoReply {
  src: number;
  ident: number;
  seq: number;
  /** When the request was sent, if it was one of the last 256 sent by `ping`. */
  sentAt: number | undefined;
  /** The echo data. */
  bytes: Uint8Array;
  offset: number;
  length: number;
}

/** Options of `ping`. */
export interface PingOptions {
  ident: number;
  seq: number;
  /** Echo data bytes (default 56, like ping(8)); the first 8 carry the send time. */
  payloadLength?: number;
  now: number;
}

/** A handler for ICMP errors about one transport: the error and the quoted datagram it concerns. */
export type IcmpErrorHandler = (error: Icmpv4Repr, quoted: Ipv4Packet, now: number) => void;

/** Options of the ICMP layer. */
export interface IcmpOptions {
  /** Errors sent per second once the burst is spent (default 100). */
  errorRatePerSecond?: number;
  /** Errors sent back to back (default 20). */
  errorBurst?: number;
  /** Answer echo requests sent to a broadcast or multicast address (default false, RFC 1122 §3.2.2.6). */
  answerBroadcastEcho?: boolean;
}

/** RFC 1812 §4.3.2.3: an error quotes as much of the datagram as fits in 576 bytes. */
const MAX_ERROR_DATAGRAM = 576;
/** The echo data starts with the send time, as ping(8) does (for captures and other tools). */
const TIMESTAMP_LENGTH = 8;
const PING_SLOTS = 256;

/** The ICMP endpoint of an interface. */
export class IcmpEndpoint implements TransportHandler, Ipv4ErrorSink {
  /** Counters. */
  readonly stats = newLayerStats(
    "rxEchoRequests",
    "rxEchoReplies",
    "rxErrors",
    "rxOther",
    "txEchoRequests",
    "txEchoReplies",
    "txErrors",
    "errorsRateLimited",
    "errorsSuppressed",
    "ignoredBroadcastEcho",
    "txBusy",
  );
  /** Called for each echo reply received. */
  onEchoReply: ((reply: EchoReply, now: number) => void) | undefined;
  /** A raw Recv handler: called for every valid ICMP message before the layer acts on it. */
  onMessage: ((message: Icmpv4Repr, packet: Ipv4Incoming, now: number) => void) | undefined;
  #ip: Ipv4Endpoint;
  #bucket: TokenBucket;
  #answerBroadcast: boolean;
  #errorHandlers: (IcmpErrorHandler | undefined)[] = new Array(256).fill(undefined);
  #view = new Icmpv4Packet();
  #txView = new Icmpv4Packet();
  #rx = new Icmpv4Repr();
  #tx = new Icmpv4Repr();
  #quoted = new Ipv4Packet();
  #reply: EchoReply = {
    src: 0,
    ident: 0,
    seq: 0,
    sentAt: undefined,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
  };
  // The message being sent: header in #tx, data copied from #dataBytes (or a ping pattern).
  #dataBytes: Uint8Array = new Uint8Array(0);
  #dataOffset = 0;
  #dataLength = 0;
  #pingAt = 0;
  #fill: (bytes: Uint8Array, offset: number) => void;
  #stamp = new DataView(new ArrayBuffer(TIMESTAMP_LENGTH));
  // The last pings sent, by seq modulo 256, so that replies get their send time without trusting data.
  #sentIdent = new Int32Array(PING_SLOTS).fill(-1);
  #sentSeq = new Int32Array(PING_SLOTS);
  #sentAt = new Float64Array(PING_SLOTS);

  /** Creates the layer and registers it with `ip` for protocol 1. */
  constructor(ip: Ipv4Endpoint, options: IcmpOptions = {}) {
    this.#ip = ip;
    this.#bucket = new TokenBucket(options.errorRatePerSecond ?? 100, options.errorBurst ?? 20);
    this.#answerBroadcast = options.answerBroadcastEcho ?? false;
    this.#fill = (bytes, offset) => this.#write(bytes, offset);
    ip.register(IpProtocol.Icmp, this);
    ip.errors = this;
  }

  /** Routes ICMP errors quoting datagrams of `protocol` to `handler`; returns its remover. */
  onErrorFor(protocol: number, handler: IcmpErrorHandler): () => void {
    this.#errorHandlers[protocol & 0xff] = handler;
    return () => {
      if (this.#errorHandlers[protocol & 0xff] === handler) {
        this.#errorHandlers[protocol & 0xff] = undefined;
      }
    };
  }

  /** Handles one ICMP message. */
  receive(packet: Ipv4Incoming, now: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    const view = this.#view.wrap(packet.bytes, packet.offset, packet.length);
    const repr = Icmpv4Repr.parse(view, this.#rx);
    if (isWireError(repr)) {
      countWireError(stats, repr);
      return;
    }
    this.onMessage?.(repr, packet, now);
    switch (repr.type) {
      case Icmpv4Type.EchoRequest:
        stats.rxEchoRequests++;
        this.#answerEcho(packet, repr, now);
        return;
      case Icmpv4Type.EchoReply:
        stats.rxEchoReplies++;
        this.#deliverReply(packet, repr, now);
        return;
      default:
        if (isIcmpv4Error(repr.type)) {
          stats.rxErrors++;
          const quoted = this.#quoted.wrap(packet.bytes, repr.dataOffset, repr.dataLength);
          this.#errorHandlers[quoted.protocol]?.(repr, quoted, now);
        } else {
          stats.rxOther++;
        }
    }
  }

  /** Sends an echo request whose first 8 data bytes carry `now`, so replies report their round trip. */
  ping(dst: number, options: PingOptions): SendResult {
    const length = Math.max(0, Math.min(options.payloadLength ?? 56, 65_000));
    const tx = this.#tx;
    tx.type = Icmpv4Type.EchoRequest;
    tx.code = 0;
    tx.ident = options.ident & 0xffff;
    tx.seq = options.seq & 0xffff;
    this.#dataBytes = EMPTY;
    this.#dataLength = length;
    this.#pingAt = options.now;
    const result = this.#ip.send(dst, IpProtocol.Icmp, ICMPV4_HEADER_LENGTH + length, this.#fill);
    if (result === "sent" || result === "queued") {
      this.stats.txEchoRequests++;
      const slot = tx.seq & (PING_SLOTS - 1);
      this.#sentIdent[slot] = tx.ident;
      this.#sentSeq[slot] = tx.seq;
      this.#sentAt[slot] = options.now;
    }
    this.#count(result);
    return result;
  }

  /**
   * Sends an error about `offending` to its source unless RFC 1122 §3.2.2 forbids it (about an ICMP
   * error, a broadcast or multicast, a non-initial fragment, or a source that is no host) or the rate
   * limit is spent; both are counted.
   */
  sendError(type: number, code: number, offending: Ipv4Packet, now: number): void {
    const stats = this.stats;
    const src = offending.src;
    const dst = offending.dst;
    const headerLength = offending.headerLength;
    const available = Math.min(offending.totalLength, offending.length) - headerLength;
    if (
      !isUnicastIpv4(src) || this.#ip.isBroadcast(src) || !isUnicastIpv4(dst) ||
      this.#ip.isBroadcast(dst) || offending.fragmentOffset !== 0 || available < 0 ||
      (offending.protocol === IpProtocol.Icmp &&
        (available < 1 || isIcmpv4Error(offending.bytes[offending.payloadOffset])))
    ) {
      stats.errorsSuppressed++;
      return;
    }
    if (!this.#bucket.take(now)) {
      stats.errorsRateLimited++;
      return;
    }
    const limit = MAX_ERROR_DATAGRAM - 20 - ICMPV4_HEADER_LENGTH;
    const quote = Math.min(headerLength + available, limit);
    const tx = this.#tx;
    tx.type = type;
    tx.code = code;
    tx.rest = 0;
    tx.nextHopMtu = 0;
    tx.pointer = 0;
    this.#dataBytes = offending.bytes;
    this.#dataOffset = offending.offset;
    this.#dataLength = quote;
    const from = this.#ip.hasAddress(dst) ? dst : undefined;
    const result = this.#ip.send(
      src,
      IpProtocol.Icmp,
      ICMPV4_HEADER_LENGTH + quote,
      this.#fill,
      from,
    );
    if (result === "sent" || result === "queued") stats.txErrors++;
    this.#count(result);
  }

  #answerEcho(packet: Ipv4Incoming, repr: Icmpv4Repr, now: number): void {
    if (!this.#ip.hasAddress(packet.dst) && !this.#answerBroadcast) {
      this.stats.ignoredBroadcastEcho++;
      return;
    }
    const tx = this.#tx;
    tx.type = Icmpv4Type.EchoReply;
    tx.code = 0;
    tx.ident = repr.ident;
    tx.seq = repr.seq;
    this.#dataBytes = packet.bytes;
    this.#dataOffset = repr.dataOffset;
    this.#dataLength = repr.dataLength;
    const from = this.#ip.hasAddress(packet.dst) ? packet.dst : undefined;
    const result = this.#ip.send(
      packet.src,
      IpProtocol.Icmp,
      ICMPV4_HEADER_LENGTH + repr.dataLength,
      this.#fill,
      from,
    );
    if (result === "sent" || result === "queued") this.stats.txEchoReplies++;
    this.#count(result);
    void now;
  }

  #deliverReply(packet: Ipv4Incoming, repr: Icmpv4Repr, now: number): void {
    const handler = this.onEchoReply;
    if (handler === undefined) return;
    const reply = this.#reply;
    reply.src = packet.src;
    reply.ident = repr.ident;
    reply.seq = repr.seq;
    reply.bytes = packet.bytes;
    reply.offset = repr.dataOffset;
    reply.length = repr.dataLength;
    reply.sentAt = undefined;
    const slot = repr.seq & (PING_SLOTS - 1);
    if (this.#sentIdent[slot] === repr.ident && this.#sentSeq[slot] === repr.seq) {
      reply.sentAt = this.#sentAt[slot];
    }
    handler(reply, now);
  }

  /** Writes the message being sent (header in `#tx`, data from `#dataBytes` or a ping pattern). */
  #write(bytes: Uint8Array, offset: number): void {
    const length = this.#dataLength;
    const data = offset + ICMPV4_HEADER_LENGTH;
    if (this.#dataBytes === EMPTY) {
      for (let i = 0; i < length; i++) bytes[data + i] = (i + 0x10) & 0xff;
      if (length >= TIMESTAMP_LENGTH) {
        this.#stamp.setFloat64(0, this.#pingAt);
        for (let i = 0; i < TIMESTAMP_LENGTH; i++) bytes[data + i] = this.#stamp.getUint8(i);
      }
    } else {
      copyBytes(this.#dataBytes, this.#dataOffset, bytes, data, length);
    }
    this.#tx.dataLength = length;
    this.#tx.emit(this.#txView.wrap(bytes, offset, ICMPV4_HEADER_LENGTH + length));
  }

  #count(result: SendResult): void {
    if (result === "sent" || result === "queued") this.stats.txPackets++;
    else if (result === "busy") this.stats.txBusy++;
  }
}

const EMPTY = new Uint8Array(0);
