/**
 * A connection's negotiated options: MSS (RFC 9293 §3.7.1, RFC 6691), window scaling (RFC 7323 §2),
 * timestamps for RTTM and PAWS (RFC 7323 §3–5) and SACK-permitted (RFC 2018 §2).
 *
 * @module
 */

import type { TcpRepr } from "../../wire/tcp.ts";
import type { TcpConfig } from "./config.ts";

/** The MSS assumed when the peer sends none (RFC 9293 §3.7.1). */
export const DEFAULT_MSS = 536;
// `ipMtu` is the IP payload size (the IP layer's `mtu`), so only the TCP header comes off it (RFC 6691).
const TCP_HEADER = 20;
const TS_OPTION = 12;
/** RFC 7323 §5.5: a TS.Recent idle for more than 24 days is no longer valid for PAWS. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** Timestamp comparison with the same wrapping rule as sequence numbers (RFC 7323 §5.2). */
export function tsLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** The window scale that lets a buffer of `bytes` be advertised in full (RFC 7323 §2.3). */
export function windowScaleFor(bytes: number): number {
  let scale = 0;
  while (scale < 14 && bytes >>> scale > 0xffff) scale++;
  return scale;
}

/** What both ends agreed on in the handshake, plus the timestamp state. */
export class ConnOptions {
  /** Offer window scaling in our SYN (passive opens only when the peer did). */
  offerWs: boolean;
  /** The peer's shift applied to windows it sends. */
  sndWscale = 0;
  /** Our shift applied to windows we send. */
  rcvWscale: number;
  /** The peer's MSS option. */
  peerMss = DEFAULT_MSS;
  /** The MSS we announced. */
  ownMss = DEFAULT_MSS;
  /** The IP layer's MTU (largest IP payload) at the last poll. */
  ipMtu = 1480;
  /** Timestamps in use. */
  tsOk = false;
  /** Per-connection offset of our TSval clock (RFC 7323 §5.4). */
  readonly tsOffset: number;
  /** TS.Recent: the peer's TSval to echo. */
  tsRecent = 0;
  /** When TS.Recent was last set. */
  tsRecentAt = 0;
  /** RCV.NXT in the last ACK we sent (RFC 7323 §4.3). */
  lastAckSent = 0;
  /** SACK in use. */
  sackOk = false;
  #config: TcpConfig;

  /** Options for a connection with `config`; `tsOffset` randomises its timestamps. */
  constructor(config: TcpConfig, tsOffset: number) {
    this.#config = config;
    this.tsOffset = tsOffset >>> 0;
    this.rcvWscale = config.windowScaling ? windowScaleFor(config.recvBufferSize) : 0;
    this.offerWs = config.windowScaling;
  }

  /** Adopts the options of the peer's SYN. */
  negotiate(seg: TcpRepr, now: number, passive: boolean): void {
    const config = this.#config;
    this.peerMss = seg.mss !== undefined && seg.mss > 0 ? seg.mss : DEFAULT_MSS;
    if (config.windowScaling && seg.windowScale !== undefined) {
      this.sndWscale = seg.windowScale;
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
      if (passive) this.offerWs = false;
    }
    this.sackOk = config.sack && seg.sackPermitted;
    this.tsOk = config.timestamps && seg.tsVal !== undefined;
    if (this.tsOk) {
      this.tsRecent = seg.tsVal!;
      this.tsRecentAt = now;
    }
  }

  /** Payload bytes per segment: the smaller MSS, less the timestamp option (RFC 6691). */
  mss(): number {
    const base = Math.min(this.peerMss, this.ipMtu - TCP_HEADER);
    return Math.max(64, base - (this.tsOk ? TS_OPTION : 0));
  }

  /** Our TSval at `now` (1 ms ticks). */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /**
   * PAWS (RFC 7323 §5.3): true when `tsVal` is older than TS.Recent, so the segment is an old duplicate.
   * A TS.Recent idle for 24 days is dropped instead.
   */
  pawsRejects(tsVal: number, now: number): boolean {
    if (!this.tsOk || !tsLt(tsVal, this.tsRecent)) return false;
    if (now - this.tsRecentAt > PAWS_IDLE_MS) {
      this.tsRecent = tsVal;
      return false;
    }
    return true;
  }

  /** RFC 7323 §4.3: remember the TSval of the segment that our next ACK acknowledges. */
  noteTimestamp(seq: number, tsVal: number | undefined, now: number): void {
    if (!this.tsOk || tsVal === undefined || ((seq - this.lastAckSent) | 0) > 0) return;
    if (!tsLt(tsVal, this.tsRecent)) {
      this.tsRecent = tsVal;
      this.tsRecentAt = now;
    }
  }
}
