/**
 * One TCP connection (RFC 9293 §3.10), as the endpoint and apps see it. It never reads a clock or
 * starts a timer: segments arrive with `now`, `transmit` sends what is due, `onTimer` runs the
 * retransmission, delayed-ACK, persist, keepalive and TIME-WAIT deadlines, and `deadline` says when it
 * next needs a poll. Its variables are its `Tcb` (`tcb.ts`); its state machine is in the modules that
 * work on both: `arrival.ts` (segment arrival), `ack.ts` (the ACK field), `recovery.ts` (loss
 * recovery), `output.ts` (transmission), `timeouts.ts` (deadlines) and `lifecycle.ts` (the state
 * changes they share).
 *
 * @module
 */

import { seqAdd, seqGt } from "../../wire/seq.ts";
import type { TcpRepr } from "../../wire/tcp.ts";
import { segmentArrives } from "./arrival.ts";
import type { TcpConfig } from "./config.ts";
import type { TcpHandler } from "./events.ts";
import type { TcpIpSender } from "./ip.ts";
import {
  armFinWait2,
  armKeepalive,
  becomeEstablished,
  closeWith,
  releaseBuffers,
  sendReset,
} from "./lifecycle.ts";
import { tsLt } from "./options.ts";
import { transmit } from "./output.ts";
import { SendBuffer } from "./send_buffer.ts";
import type { SegmentTx } from "./segment_tx.ts";
import { isSynchronized, TcpState } from "./state.ts";
import type { TcpStats } from "./stats.ts";
import { ConnEvent, Tcb } from "./tcb.ts";
import { onTimer } from "./timeouts.ts";

export { ConnEvent }; // defined beside the TCB, which its modules share

/** Why a connection ended abnormally. */
export type TcpCloseReason =
  | "refused"
  | "reset"
  | "timedOut"
  | "aborted"
  | "unreachable"
  | "addressInUse";

/** What a connection needs from its endpoint. */
export interface TcpHost {
  /** The shared segment builder. */
  readonly tx: SegmentTx;
  /** The endpoint's counters. */
  readonly stats: TcpStats;
  /** The connection has something to transmit now. */
  ready(conn: TcpConnection): void;
  /** Queues a bare control segment (a RST) that belongs to no connection state. */
  control(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    seq: number,
    ack: number,
    flags: number,
  ): void;
  /**
   * Challenge ACKs one connection may send per second (RFC 5961 §7). Counted per connection: a
   * counter shared by all connections would leak their state to an off-path attacker (CVE-2016-5696).
   */
  readonly challengeAckLimit: number;
}

/** A TCP connection: what the endpoint and apps see of it; its variables are in `tcb`. */
export class TcpConnection {
  /** The local IPv4 address (0 until an active open is bound at its first poll). */
  localAddr: number;
  /** The local port. */
  localPort: number;
  /** The remote IPv4 address. */
  readonly remoteAddr: number;
  /** The remote port. */
  readonly remotePort: number;
  /** The slot key in the endpoint (-1 while not in its tables). */
  key = -1;
  /** The current state. */
  state: TcpState = TcpState.Closed;
  /** Opened by a listener (passive open). */
  passive = false;
  /** Why the connection ended abnormally, once it has. */
  error: TcpCloseReason | undefined = undefined;
  /** The app's receiver of `in` events; the endpoint's handler when unset. */
  handler: TcpHandler | undefined = undefined;
  /** Free for the app layer above (the socket API keeps its wrapper here). */
  user: unknown = undefined;
  /** Pending `ConnEvent` bits (endpoint use). */
  events = 0;
  /** Queued in the endpoint's ready list (endpoint use). */
  queued = false;
  /** The deadline the endpoint's timer heap holds for this connection (endpoint use). */
  scheduledAt = Infinity;
  /** The listener that opened it, until accepted (endpoint use). */
  listenerPort = -1;
  /** The listener announced it with an `open` event (endpoint use). */
  openDelivered = false;
  /** Holds a slot of its listener's backlog: a SYN made it, not a cookie (endpoint use). */
  halfOpen = false;
  /** The app owns it: opened actively, or taken with `listener.accept()`. */
  accepted = false;
  /** The connection's variables, shared by the modules of its state machine (stack/layer/tcp/ only). */
  readonly tcb: Tcb;

  /** Creates a closed connection for a four-tuple; the endpoint opens it actively or passively. */
  constructor(
    host: TcpHost,
    config: TcpConfig,
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    tsOffset: number,
  ) {
    this.tcb = new Tcb(host, config, tsOffset);
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
  }

  // ---- Opening -------------------------------------------------------------------------------------

  /** Starts an active open (RFC 9293 §3.10.1): SYN-SENT, the SYN goes out on the next poll. */
  openActive(iss: number): void {
    const t = this.tcb;
    t.setIss(iss);
    this.state = TcpState.SynSent;
    t.host.ready(this);
  }

  /** Starts a passive open from a listener's SYN (RFC 9293 §3.10.7.2): SYN-RECEIVED. */
  openPassive(seg: TcpRepr, iss: number, now: number): void {
    const t = this.tcb;
    this.passive = true;
    t.setIss(iss);
    t.opts.negotiate(seg, now, true);
    t.irs = seg.seq;
    t.rcvNxt = seqAdd(seg.seq, 1);
    t.rcvWindow.reset(t.rcvNxt);
    t.sndWnd = seg.window; // RFC 7323 §2.2: the window in a SYN is never scaled
    t.maxSndWnd = t.sndWnd;
    t.sndWl1 = seg.seq;
    t.sndWl2 = iss;
    this.state = TcpState.SynReceived;
    t.host.ready(this);
  }

  /**
   * Opens a connection straight into ESTABLISHED from the ACK that returned a valid SYN cookie (RFC 4987
   * §3.6). The cookie carried the MSS; window scale and SACK-permitted come back in the echoed
   * timestamp when the peer uses timestamps (`options`), and are off otherwise.
   */
  openFromCookie(
    seg: TcpRepr,
    iss: number,
    mss: number,
    now: number,
    options?: { windowScale: number | undefined; sackPermitted: boolean },
  ): void {
    const t = this.tcb;
    this.passive = true;
    t.setIss(iss);
    t.sndUna = seqAdd(iss, 1);
    t.sndNxt = t.sndUna;
    t.sndMax = t.sndUna;
    t.irs = seqAdd(seg.seq, -1);
    t.rcvNxt = seg.seq;
    t.rcvWindow.reset(t.rcvNxt);
    t.opts.peerMss = mss;
    t.opts.offerWs = false;
    t.opts.sackOk = false;
    t.opts.tsOk = false;
    if (options !== undefined && seg.tsVal !== undefined && t.cfg.timestamps) {
      t.opts.tsOk = true;
      t.opts.tsRecent = seg.tsVal;
      t.opts.tsRecentAt = now;
      t.opts.lastAckSent = t.rcvNxt;
      t.opts.sackOk = options.sackPermitted && t.cfg.sack;
    }
    if (options?.windowScale !== undefined && t.cfg.windowScaling && t.opts.tsOk) {
      t.opts.sndWscale = options.windowScale;
    } else {
      t.opts.sndWscale = 0;
      t.opts.rcvWscale = 0;
    }
    t.sndWnd = seg.window << t.opts.sndWscale;
    t.maxSndWnd = t.sndWnd;
    t.sndWl1 = seg.seq;
    t.sndWl2 = seg.ack;
    becomeEstablished(this, now);
    this.events |= ConnEvent.Open;
  }

  /**
   * Whether a SYN may end this TIME-WAIT and open a new incarnation of the four-tuple (RFC 6191 §2):
   * its timestamp is newer than TS.Recent, or without timestamps its sequence number is past RCV.NXT.
   */
  reopenableBy(seg: TcpRepr): boolean {
    const t = this.tcb;
    if (this.state !== TcpState.TimeWait) return false;
    if (t.opts.tsOk && seg.tsVal !== undefined) return tsLt(t.opts.tsRecent, seg.tsVal);
    return seqGt(seg.seq, t.rcvNxt);
  }

  /** Ends the connection without sending anything (a TIME-WAIT giving way to a new SYN). */
  release(): void {
    closeWith(this, undefined);
  }

  // ---- Inspection ------------------------------------------------------------------------------------

  /** Bytes ready to `read`. */
  get readable(): number {
    return this.tcb.recvBuf?.readable ?? 0;
  }

  /** Bytes `write` accepts now (0 once the sending side is closed or the connection is not open). */
  get writable(): number {
    const t = this.tcb;
    if (t.finQueued || !canSend(this.state)) return 0;
    return t.sendBuf?.free ?? t.cfg.sendBufferSize;
  }

  /** Bytes written but not yet acknowledged by the peer. */
  get unacknowledged(): number {
    return this.tcb.sendBuf?.length ?? 0;
  }

  /** The peer sent FIN and every byte before it was read: `read` will only ever return 0. */
  get readClosed(): boolean {
    const t = this.tcb;
    return (t.finReceived || this.state === TcpState.Closed) && this.readable === 0;
  }

  /** The peer sent its FIN. */
  get finReceived(): boolean {
    return this.tcb.finReceived;
  }

  /** `closeWrite` or `close` was called. */
  get writeClosed(): boolean {
    return this.tcb.finQueued;
  }

  /** The earliest deadline of any timer, or Infinity. */
  get deadline(): number {
    return this.tcb.timers.deadline;
  }

  /** Sequence-space and option details, for tests and diagnostics. */
  get info(): TcpConnectionInfo {
    const t = this.tcb;
    return {
      iss: t.iss,
      irs: t.irs,
      sndUna: t.sndUna,
      sndNxt: t.sndNxt,
      sndMax: t.sndMax,
      sndWnd: t.sndWnd,
      rcvNxt: t.rcvNxt,
      rcvWnd: t.rcvWindow.size(t.rcvNxt),
      sndWscale: t.opts.sndWscale,
      rcvWscale: t.opts.rcvWscale,
      mss: t.opts.mss(),
      sack: t.opts.sackOk,
      timestamps: t.opts.tsOk,
      cwnd: t.cc.cwnd,
      ssthresh: t.cc.ssthresh,
      srtt: t.rtt.srtt,
      rto: t.rtt.rto,
      inRecovery: t.inRecovery,
      dupAcks: t.dupAcks,
      congestion: t.cc.name,
      rtoAt: t.timers.rtoAt,
      delayedAckAt: t.timers.delAckAt,
      persistAt: t.timers.persistAt,
      keepaliveAt: t.timers.keepAt,
      timeWaitAt: t.timers.timeWaitAt,
    };
  }

  /** The window scale this connection would announce in its SYN (RFC 7323 §2.3). */
  get offeredWindowScale(): number {
    return this.tcb.opts.rcvWscale;
  }

  /** Turns keepalive probes (RFC 9293 §3.8.4) on or off, like SO_KEEPALIVE. */
  setKeepAlive(keepalive: boolean): void {
    const t = this.tcb;
    if (t.cfg.keepalive === keepalive) return;
    t.cfg = { ...t.cfg, keepalive }; // listener connections share their settings object
    if (keepalive) armKeepalive(this, t.lastActivity);
    else t.timers.keepAt = Infinity;
    t.host.ready(this); // lets the endpoint re-arm its timer entry
  }

  /** Turns Nagle's algorithm off (true) or on (false), like TCP_NODELAY. */
  setNoDelay(noDelay: boolean): void {
    const t = this.tcb;
    t.noDelay = noDelay;
    if (noDelay) t.host.ready(this);
  }

  // ---- App calls ------------------------------------------------------------------------------------

  /** Queues bytes to send; returns how many fit in the send buffer. */
  write(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
    const t = this.tcb;
    if (t.finQueued || !canSend(this.state)) return 0;
    t.sendBuf ??= new SendBuffer(t.cfg.sendBufferSize);
    const n = t.sendBuf.write(bytes, offset, length);
    if (n > 0 && isSynchronized(this.state)) t.host.ready(this);
    if (t.sendBuf.free === 0) t.sendFull = true;
    return n;
  }

  /** Copies into the receive buffer what the app left unread of a lent segment (see `segmentArrives`). */
  settleReceive(): void {
    this.tcb.recvBuf?.settle();
  }

  /** Copies received bytes into `dst`; returns how many (0 when none are ready). */
  read(dst: Uint8Array, offset = 0, length = dst.length - offset): number {
    const t = this.tcb;
    const n = t.recvBuf?.read(dst, offset, length) ?? 0;
    if (this.state === TcpState.TimeWait || this.state === TcpState.Closed) releaseBuffers(this);
    if (n > 0 && isSynchronized(this.state) && !t.finReceived) this.#maybeWindowUpdate();
    return n;
  }

  /** Shuts the sending side: a FIN follows the queued data (RFC 9293 §3.10.4). */
  closeWrite(): void {
    const t = this.tcb;
    if (t.finQueued) return;
    switch (this.state) {
      case TcpState.SynSent:
        closeWith(this, undefined);
        return;
      case TcpState.SynReceived:
        // RFC 9293 §3.10.4: the FIN waits until the handshake completes.
        t.finQueued = true;
        return;
      case TcpState.Established:
        t.finQueued = true;
        this.state = TcpState.FinWait1;
        break;
      case TcpState.CloseWait:
        t.finQueued = true;
        this.state = TcpState.LastAck;
        break;
      default:
        return;
    }
    t.host.ready(this);
  }

  /**
   * Closes both directions. With unread data this aborts with RST, as Linux does (RFC 2525 §2.17);
   * otherwise it is `closeWrite`, and data arriving later is acknowledged and dropped.
   */
  close(): void {
    const t = this.tcb;
    if (this.state === TcpState.Closed) return;
    if (this.readable > 0 && isSynchronized(this.state)) {
      this.abort();
      return;
    }
    t.readShut = true;
    this.closeWrite();
    if (this.state === TcpState.FinWait2) armFinWait2(this, NaN);
  }

  /** Resets the connection (RFC 9293 §3.10.5 ABORT): RST to the peer, CLOSED here. */
  abort(): void {
    const t = this.tcb;
    if (this.state === TcpState.Closed) return;
    if (this.state !== TcpState.SynSent && this.state !== TcpState.TimeWait) {
      sendReset(this, t.sndNxt);
    }
    closeWith(this, "aborted");
  }

  #maybeWindowUpdate(): void {
    const t = this.tcb;
    // Send a window update once the window can grow by a useful amount (RFC 9293 §3.8.6.2.2).
    const grow = t.rcvWindow.growth(t.rcvNxt, t.recvFree(), t.opts.rcvWscale);
    const threshold = Math.min(t.cfg.recvBufferSize >>> 1, 2 * t.opts.ownMss);
    if (grow >= threshold) {
      t.ackNow = true;
      t.host.ready(this);
    }
  }

  // ---- Segment arrival, timers, transmission ----------------------------------------------------------

  /**
   * Processes one segment addressed to this connection; `bytes` holds its payload. With `lend`, in-order
   * data may stay in `bytes` for the app to read from (see `RecvBuffer`): the caller then calls
   * `settleReceive` before `bytes` changes.
   */
  segmentArrives(seg: TcpRepr, bytes: Uint8Array, now: number, lend = false): void {
    segmentArrives(this, seg, bytes, now, lend);
  }

  /** Runs every deadline that is due at `now`. */
  onTimer(now: number): void {
    onTimer(this, now);
  }

  /** Sends every segment that is due; false when the IP layer had no buffer (retry on a later poll). */
  transmit(now: number, ip: TcpIpSender): boolean {
    return transmit(this, now, ip);
  }
}

/** Sequence-space and option details of a connection. */
export interface TcpConnectionInfo {
  iss: number;
  irs: number;
  sndUna: number;
  sndNxt: number;
  sndMax: number;
  sndWnd: number;
  rcvNxt: number;
  rcvWnd: number;
  sndWscale: number;
  rcvWscale: number;
  mss: number;
  sack: boolean;
  timestamps: boolean;
  cwnd: number;
  ssthresh: number;
  srtt: number | undefined;
  rto: number;
  inRecovery: boolean;
  dupAcks: number;
  congestion: string;
  rtoAt: number;
  delayedAckAt: number;
  persistAt: number;
  keepaliveAt: number;
  timeWaitAt: number;
}

function canSend(state: TcpState): boolean {
  return state === TcpState.SynSent || state === TcpState.SynReceived ||
    state === TcpState.Established || state === TcpState.CloseWait;
}
