/**
 * One TCP connection: the transmission control block and its state machine (RFC 9293 §3.10). It never
 * reads a clock or starts a timer: segments arrive with `now`, `transmit` sends what is due, `onTimer`
 * runs the retransmission, delayed-ACK, persist, keepalive and TIME-WAIT deadlines, and `deadline` says
 * when it next needs a poll.
 *
 * @module
 */

import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqSub } from "../../wire/seq.ts";
import { TcpFlags, type TcpRepr } from "../../wire/tcp.ts";
import type { TcpConfig } from "./config.ts";
import type { TcpHandler } from "./events.ts";
import type { CongestionController } from "./congestion/controller.ts";
import { cubic } from "./congestion/cubic.ts";
import type { TcpIpSender } from "./ip.ts";
import { RecvBuffer } from "./recv_buffer.ts";
import { RttEstimator } from "./rtt.ts";
import { SackScoreboard } from "./sack_scoreboard.ts";
import type { SegmentTx } from "./segment_tx.ts";
import { SendBuffer } from "./send_buffer.ts";
import { canReceiveData, isSynchronized, TcpState } from "./state.ts";
import { ConnOptions, DEFAULT_MSS, tsLt } from "./options.ts";
import { ReceiveWindow } from "./rcv_window.ts";
import { acceptable } from "./segment_check.ts";
import { ConnTimers } from "./timers.ts";
import { SendTimes } from "./send_times.ts";
import type { TcpStats } from "./stats.ts";

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

/** Event bits a connection raises for its endpoint to deliver. */
export const ConnEvent = {
  /** Data, window space or a state change for the app. */
  In: 1,
  /** A passively opened connection reached ESTABLISHED. */
  Open: 2,
  /** The connection reached CLOSED and must leave the tables. */
  Closed: 4,
} as const;

// `ip.mtu` is already the IP payload size, so only the TCP header comes off it (RFC 9293 §3.7.1).
const TCP_HEADER = 20;
const SEGMENT_BUDGET = 512;
const WORST_DELAYED_ACK_MS = 200; // RFC 8985 §7.2 WCDelAckT
const MIN_PTO_MS = 10;
const OOW_ACK_INTERVAL_MS = 500;
const STRETCH_ACK_SPLIT = 64; // most 2·SMSS parts one ACK is counted as // segments one connection may send per poll, to keep polls bounded

/** A TCP connection (the TCB). */
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

  #host: TcpHost;
  #cfg: TcpConfig;
  // Buffers are allocated on first use and dropped once a closing connection has emptied them, so idle
  // and TIME-WAIT connections cost little memory.
  #send: SendBuffer | undefined = undefined;
  #recv: RecvBuffer | undefined = undefined;
  /** The segment being processed may be lent to the receive buffer. */
  #lend = false;
  #rtt: RttEstimator;
  #cc: CongestionController;
  #sack = new SackScoreboard();
  #t = new ConnTimers();
  #sent: SendTimes | undefined = undefined; // allocated with the first data sent
  #o: ConnOptions;
  #w = new ReceiveWindow();
  #sackOut: number[] = [];

  // Send sequence space (RFC 9293 §3.3.1); sndMax is the highest sequence number sent so far.
  #iss = 0;
  #sndUna = 0;
  #sndNxt = 0;
  #sndMax = 0;
  #sndWnd = 0;
  #sndWl1 = 0;
  #sndWl2 = 0;
  #maxSndWnd = 0;
  #sndBufSeq = 0; // the sequence number of the send buffer's first byte
  #finQueued = false;
  // Receive sequence space.
  #irs = 0;
  #rcvNxt = 0;
  #pendingFin: number | undefined = undefined;
  #finReceived = false;
  #readShut = false;
  // RTT timing without timestamps (Karn's rule: never time a retransmitted segment).
  #rttSeq: number | undefined = undefined;
  #rttStart = 0;
  #rexmitTs: number | undefined = undefined; // TSval of the last timeout's resend
  // Loss recovery (RFC 6582 NewReno, RFC 6675 SACK).
  #dupAcks = 0;
  #inRecovery = false;
  #recover = 0;
  #highRxt = 0;
  #holeRexmitAt: number | undefined = undefined;
  #recoverFs = 0; // RFC 6937 RecoverFS, prr_delivered, prr_out, and the bytes it allows now
  #prrDelivered = 0;
  #prrOut = 0;
  #prrAllow = 0; // when the hole at SND.UNA was last resent
  #rexmitHead = false;
  // Deadlines.
  #tlpProbe = false;
  #tlpOut = false; // a probe is unacknowledged: no second one
  #lastActivity = 0;
  #lastDataSentAt = -Infinity;
  #retries = 0;
  // Pending output.
  #ackNow = false;
  #challengeSecond = -1;
  #lastOowAckAt = -Infinity;
  #challengeCount = 0;
  #ackPending = 0;
  #probe = false;
  /** The app filled the send buffer since the last ACK: it may grow (`#expandSendBuffer`). */
  #sendFull = false;
  #probesOut = 0; // zero-window probes since the last acceptable ACK
  #noDelay: boolean;

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
    this.#host = host;
    this.#cfg = config;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.#noDelay = config.noDelay;
    this.#rtt = new RttEstimator({
      initialRtoMs: config.initialRtoMs,
      minRtoMs: config.minRtoMs,
      maxRtoMs: config.maxRtoMs,
    });
    this.#cc = (config.congestion ?? cubic)(DEFAULT_MSS);
    this.#o = new ConnOptions(config, tsOffset);
  }

  // ---- Opening -------------------------------------------------------------------------------------

  /** Starts an active open (RFC 9293 §3.10.1): SYN-SENT, the SYN goes out on the next poll. */
  openActive(iss: number): void {
    this.#setIss(iss);
    this.state = TcpState.SynSent;
    this.#host.ready(this);
  }

  /** Starts a passive open from a listener's SYN (RFC 9293 §3.10.7.2): SYN-RECEIVED. */
  openPassive(seg: TcpRepr, iss: number, now: number): void {
    this.passive = true;
    this.#setIss(iss);
    this.#o.negotiate(seg, now, true);
    this.#irs = seg.seq;
    this.#rcvNxt = seqAdd(seg.seq, 1);
    this.#w.reset(this.#rcvNxt);
    this.#sndWnd = seg.window; // RFC 7323 §2.2: the window in a SYN is never scaled
    this.#maxSndWnd = this.#sndWnd;
    this.#sndWl1 = seg.seq;
    this.#sndWl2 = iss;
    this.state = TcpState.SynReceived;
    this.#host.ready(this);
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
    this.passive = true;
    this.#setIss(iss);
    this.#sndUna = seqAdd(iss, 1);
    this.#sndNxt = this.#sndUna;
    this.#sndMax = this.#sndUna;
    this.#irs = seqAdd(seg.seq, -1);
    this.#rcvNxt = seg.seq;
    this.#w.reset(this.#rcvNxt);
    this.#o.peerMss = mss;
    this.#o.offerWs = false;
    this.#o.sackOk = false;
    this.#o.tsOk = false;
    if (options !== undefined && seg.tsVal !== undefined && this.#cfg.timestamps) {
      this.#o.tsOk = true;
      this.#o.tsRecent = seg.tsVal;
      this.#o.tsRecentAt = now;
      this.#o.lastAckSent = this.#rcvNxt;
      this.#o.sackOk = options.sackPermitted && this.#cfg.sack;
    }
    if (options?.windowScale !== undefined && this.#cfg.windowScaling && this.#o.tsOk) {
      this.#o.sndWscale = options.windowScale;
    } else {
      this.#o.sndWscale = 0;
      this.#o.rcvWscale = 0;
    }
    this.#sndWnd = seg.window << this.#o.sndWscale;
    this.#maxSndWnd = this.#sndWnd;
    this.#sndWl1 = seg.seq;
    this.#sndWl2 = seg.ack;
    this.#becomeEstablished(now);
    this.events |= ConnEvent.Open;
  }

  #setIss(iss: number): void {
    this.#iss = iss >>> 0;
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#iss;
    this.#sndMax = this.#iss;
    this.#sndBufSeq = seqAdd(this.#iss, 1);
    this.#recover = this.#iss;
  }

  #becomeEstablished(now: number): void {
    this.state = this.#finQueued ? TcpState.FinWait1 : TcpState.Established;
    this.#retries = 0;
    this.#cc = (this.#cfg.congestion ?? cubic)(this.#o.mss());
    this.#cc.init(this.#o.mss(), now);
    this.#sack.reset(this.#sndUna);
    this.#armKeepalive(now);
    this.events |= ConnEvent.In;
    if (this.#finQueued) this.#host.ready(this);
  }

  /**
   * Whether a SYN may end this TIME-WAIT and open a new incarnation of the four-tuple (RFC 6191 §2):
   * its timestamp is newer than TS.Recent, or without timestamps its sequence number is past RCV.NXT.
   */
  reopenableBy(seg: TcpRepr): boolean {
    if (this.state !== TcpState.TimeWait) return false;
    if (this.#o.tsOk && seg.tsVal !== undefined) return tsLt(this.#o.tsRecent, seg.tsVal);
    return seqGt(seg.seq, this.#rcvNxt);
  }

  /** Ends the connection without sending anything (a TIME-WAIT giving way to a new SYN). */
  release(): void {
    this.#closeWith(undefined);
  }

  // ---- Inspection ------------------------------------------------------------------------------------

  /** Bytes ready to `read`. */
  get readable(): number {
    return this.#recv?.readable ?? 0;
  }

  /** Bytes `write` accepts now (0 once the sending side is closed or the connection is not open). */
  get writable(): number {
    if (this.#finQueued || !canSend(this.state)) return 0;
    return this.#send?.free ?? this.#cfg.sendBufferSize;
  }

  /** Bytes written but not yet acknowledged by the peer. */
  get unacknowledged(): number {
    return this.#send?.length ?? 0;
  }

  /** The peer sent FIN and every byte before it was read: `read` will only ever return 0. */
  get readClosed(): boolean {
    return (this.#finReceived || this.state === TcpState.Closed) && this.readable === 0;
  }

  /** The peer sent its FIN. */
  get finReceived(): boolean {
    return this.#finReceived;
  }

  /** `closeWrite` or `close` was called. */
  get writeClosed(): boolean {
    return this.#finQueued;
  }

  /** The earliest deadline of any timer, or Infinity. */
  get deadline(): number {
    return this.#t.deadline;
  }

  /** Sequence-space and option details, for tests and diagnostics. */
  get info(): TcpConnectionInfo {
    return {
      iss: this.#iss,
      irs: this.#irs,
      sndUna: this.#sndUna,
      sndNxt: this.#sndNxt,
      sndMax: this.#sndMax,
      sndWnd: this.#sndWnd,
      rcvNxt: this.#rcvNxt,
      rcvWnd: this.#w.size(this.#rcvNxt),
      sndWscale: this.#o.sndWscale,
      rcvWscale: this.#o.rcvWscale,
      mss: this.#o.mss(),
      sack: this.#o.sackOk,
      timestamps: this.#o.tsOk,
      cwnd: this.#cc.cwnd,
      ssthresh: this.#cc.ssthresh,
      srtt: this.#rtt.srtt,
      rto: this.#rtt.rto,
      inRecovery: this.#inRecovery,
      dupAcks: this.#dupAcks,
      congestion: this.#cc.name,
      rtoAt: this.#t.rtoAt,
      delayedAckAt: this.#t.delAckAt,
      persistAt: this.#t.persistAt,
      keepaliveAt: this.#t.keepAt,
      timeWaitAt: this.#t.timeWaitAt,
    };
  }

  /** The window scale this connection would announce in its SYN (RFC 7323 §2.3). */
  get offeredWindowScale(): number {
    return this.#o.rcvWscale;
  }

  /** Turns keepalive probes (RFC 9293 §3.8.4) on or off, like SO_KEEPALIVE. */
  setKeepAlive(keepalive: boolean): void {
    if (this.#cfg.keepalive === keepalive) return;
    this.#cfg = { ...this.#cfg, keepalive }; // listener connections share their settings object
    if (keepalive) this.#armKeepalive(this.#lastActivity);
    else this.#t.keepAt = Infinity;
    this.#host.ready(this); // lets the endpoint re-arm its timer entry
  }

  /** Turns Nagle's algorithm off (true) or on (false), like TCP_NODELAY. */
  setNoDelay(noDelay: boolean): void {
    this.#noDelay = noDelay;
    if (noDelay) this.#host.ready(this);
  }

  // ---- App calls ------------------------------------------------------------------------------------

  /** Queues bytes to send; returns how many fit in the send buffer. */
  write(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
    if (this.#finQueued || !canSend(this.state)) return 0;
    this.#send ??= new SendBuffer(this.#cfg.sendBufferSize);
    const n = this.#send.write(bytes, offset, length);
    if (n > 0 && isSynchronized(this.state)) this.#host.ready(this);
    if (this.#send.free === 0) this.#sendFull = true;
    return n;
  }

  /** Copies into the receive buffer what the app left unread of a lent segment (see `segmentArrives`). */
  settleReceive(): void {
    this.#recv?.settle();
  }

  /** Copies received bytes into `dst`; returns how many (0 when none are ready). */
  read(dst: Uint8Array, offset = 0, length = dst.length - offset): number {
    const n = this.#recv?.read(dst, offset, length) ?? 0;
    if (this.state === TcpState.TimeWait || this.state === TcpState.Closed) this.#releaseBuffers();
    if (n > 0 && isSynchronized(this.state) && !this.#finReceived) this.#maybeWindowUpdate();
    return n;
  }

  /** Shuts the sending side: a FIN follows the queued data (RFC 9293 §3.10.4). */
  closeWrite(): void {
    if (this.#finQueued) return;
    switch (this.state) {
      case TcpState.SynSent:
        this.#closeWith(undefined);
        return;
      case TcpState.SynReceived:
        // RFC 9293 §3.10.4: the FIN waits until the handshake completes.
        this.#finQueued = true;
        return;
      case TcpState.Established:
        this.#finQueued = true;
        this.state = TcpState.FinWait1;
        break;
      case TcpState.CloseWait:
        this.#finQueued = true;
        this.state = TcpState.LastAck;
        break;
      default:
        return;
    }
    this.#host.ready(this);
  }

  /**
   * Closes both directions. With unread data this aborts with RST, as Linux does (RFC 2525 §2.17);
   * otherwise it is `closeWrite`, and data arriving later is acknowledged and dropped.
   */
  close(): void {
    if (this.state === TcpState.Closed) return;
    if (this.readable > 0 && isSynchronized(this.state)) {
      this.abort();
      return;
    }
    this.#readShut = true;
    this.closeWrite();
    if (this.state === TcpState.FinWait2) this.#armFinWait2(NaN);
  }

  /**
   * After a full close nobody will read, so FIN-WAIT-2 must not last forever when the peer never sends
   * its FIN (RFC 9293 §3.10.7.4 leaves it open; Linux times it out). `now` NaN keeps the base time.
   */
  #armFinWait2(now: number): void {
    if (!this.#readShut) return;
    const base = Number.isNaN(now) ? this.#lastActivity : now;
    this.#t.timeWaitAt = base + this.#cfg.finWait2TimeoutMs;
  }

  /** Sends the peer a bare RST with sequence number `seq` on this connection's four-tuple. */
  #sendReset(seq: number): void {
    this.#host.control(
      this.localAddr,
      this.localPort,
      this.remoteAddr,
      this.remotePort,
      seq,
      0,
      TcpFlags.RST,
    );
  }

  /** Resets the connection (RFC 9293 §3.10.5 ABORT): RST to the peer, CLOSED here. */
  abort(): void {
    if (this.state === TcpState.Closed) return;
    if (this.state !== TcpState.SynSent && this.state !== TcpState.TimeWait) {
      this.#sendReset(this.#sndNxt);
    }
    this.#closeWith("aborted");
  }

  #maybeWindowUpdate(): void {
    // Send a window update once the window can grow by a useful amount (RFC 9293 §3.8.6.2.2).
    const grow = this.#w.growth(this.#rcvNxt, this.#recvFree(), this.#o.rcvWscale);
    const threshold = Math.min(this.#cfg.recvBufferSize >>> 1, 2 * this.#o.ownMss);
    if (grow >= threshold) {
      this.#ackNow = true;
      this.#host.ready(this);
    }
  }

  #closeWith(reason: TcpCloseReason | undefined): void {
    if (this.state === TcpState.Closed) return;
    this.state = TcpState.Closed;
    if (reason !== undefined && this.error === undefined) this.error = reason;
    this.#t.clear();
    this.#releaseBuffers();
    this.#ackNow = false;
    this.#probe = false;
    this.events |= ConnEvent.Closed | ConnEvent.In;
    this.#host.ready(this);
  }

  // ---- Segment arrival (RFC 9293 §3.10.7) -----------------------------------------------------------

  /**
   * Processes one segment addressed to this connection; `bytes` holds its payload. With `lend`, in-order
   * data may stay in `bytes` for the app to read from (see `RecvBuffer`): the caller then calls
   * `settleReceive` before `bytes` changes.
   */
  segmentArrives(seg: TcpRepr, bytes: Uint8Array, now: number, lend = false): void {
    this.#lend = lend;
    const stats = this.#host.stats;
    if (this.state === TcpState.SynSent) {
      this.#synSentArrives(seg, now);
      return;
    }
    if (this.state === TcpState.Closed) return;
    const flags = seg.flags;
    const rst = (flags & TcpFlags.RST) !== 0;
    const syn = (flags & TcpFlags.SYN) !== 0;
    let fin = (flags & TcpFlags.FIN) !== 0;
    let seq = seg.seq;
    let payOff = seg.payloadOffset;
    let payLen = seg.payloadLength;

    // PAWS (RFC 7323 §5.3): a timestamp older than TS.Recent marks an old duplicate.
    if (seg.tsVal !== undefined && !rst && this.#o.pawsRejects(seg.tsVal, now)) {
      stats.dropPaws++;
      if (payLen > 0 || fin || this.#oowAckAllowed(now)) {
        this.#ackNow = true;
        this.#host.ready(this);
      }
      return;
    }

    // First check: is the sequence number acceptable (RFC 9293 §3.10.7.4)?
    const rcvWnd = Math.max(this.#w.size(this.#rcvNxt), this.#recvFree());
    const segLen = payLen + (syn ? 1 : 0) + (fin ? 1 : 0);
    // The right edge takes a bare ACK (as Linux), but not a RST: RFC 5961 §3.2 drops one that is not
    // strictly inside RCV.NXT .. RCV.NXT+RCV.WND-1, which a blind attacker would otherwise hit.
    const rstAtEdge = rst && rcvWnd > 0 && seq === seqAdd(this.#rcvNxt, rcvWnd);
    if (rstAtEdge || !acceptable(seq, segLen, this.#rcvNxt, rcvWnd)) {
      if (rcvWnd === 0 && seq === this.#rcvNxt) {
        // A zero window still takes valid ACKs and RSTs: process the segment without its text.
        payLen = 0;
        fin = false;
      } else {
        if (!rst) {
          stats.dropOutOfWindow++;
          if (this.state === TcpState.TimeWait && fin) this.#enterTimeWait(now);
          // Old data is always answered (the peer's recovery may wait for it); data beyond the
          // window's right edge is rate limited like a pure ACK, else a peer (or a spoofer) that
          // overruns the window draws one ACK per segment (RFC 5961 §10, Linux tcp_invalid_ratelimit).
          if (syn) this.#challengeAck(now);
          else if ((segLen > 0 && seqLt(seq, this.#rcvNxt)) || this.#oowAckAllowed(now)) {
            this.#ackNow = true;
            this.#host.ready(this);
          }
        }
        return;
      }
    }
    // Trim to the window: drop what was already received and what lies beyond the right edge.
    if (seqLt(seq, this.#rcvNxt)) {
      let drop = seqSub(this.#rcvNxt, seq);
      if (syn) drop--;
      if (drop > payLen) {
        fin = fin && drop === payLen; // a retransmitted FIN alone stays meaningful
        drop = payLen;
      }
      payOff += drop;
      payLen -= drop;
      seq = this.#rcvNxt;
    }
    const room = Math.max(0, rcvWnd - seqSub(seq, this.#rcvNxt));
    if (payLen > room) {
      payLen = room;
      fin = false;
    }

    // Second check: RST (RFC 9293 §3.10.7.4, RFC 5961 §3.2: only an exact match resets).
    if (rst) {
      if (seg.seq === this.#rcvNxt) {
        stats.rstReceived++;
        this.#resetArrived();
      } else {
        this.#challengeAck(now);
      }
      return;
    }
    // Fourth check: SYN in a synchronized state or SYN-RECEIVED gets a challenge ACK (RFC 5961 §4).
    if (syn) {
      this.#challengeAck(now);
      return;
    }
    // Fifth check: the ACK field.
    if ((flags & TcpFlags.ACK) === 0) {
      stats.dropNoAck++;
      return;
    }
    this.#o.noteTimestamp(seq, seg.tsVal, now);
    if (this.state === TcpState.SynReceived) {
      if (seqLe(seg.ack, this.#sndUna) || seqGt(seg.ack, this.#sndMax)) {
        this.#sendReset(seg.ack);
        return;
      }
      this.#sndWnd = seg.window << this.#o.sndWscale;
      this.#maxSndWnd = Math.max(this.#maxSndWnd, this.#sndWnd);
      this.#sndWl1 = seg.seq;
      this.#sndWl2 = seg.ack;
      this.#ackSynAck(seg, now);
      this.#becomeEstablished(now);
      if (this.passive) this.events |= ConnEvent.Open;
    }
    if (!this.#processAck(seg, payLen, now)) return;
    this.#armKeepalive(now);
    if ((this.state as TcpState) === TcpState.Closed) return;

    // Seventh: the segment text.
    if (payLen > 0) {
      if (canReceiveData(this.state)) this.#receiveText(seq, bytes, payOff, payLen, now);
      else stats.dropAfterFin++;
    }
    // Eighth: FIN.
    if (fin) {
      const finSeq = seqAdd(seq, payLen);
      if (seqGt(finSeq, this.#rcvNxt)) {
        this.#pendingFin = finSeq;
        this.#ackNow = true;
      } else if (finSeq === this.#rcvNxt && !this.#finReceived) {
        this.#finArrived(now);
      } else {
        this.#ackNow = true; // a retransmitted FIN: acknowledge it again
      }
    }
    if (this.#pendingFin === this.#rcvNxt && !this.#finReceived) this.#finArrived(now);
    if (this.#ackNow) this.#host.ready(this);
  }

  /** RFC 9293 §3.10.7.3: SYN-SENT. */
  #synSentArrives(seg: TcpRepr, now: number): void {
    const flags = seg.flags;
    const hasAck = (flags & TcpFlags.ACK) !== 0;
    if (hasAck && (seqLe(seg.ack, this.#iss) || seqGt(seg.ack, this.#sndMax))) {
      if ((flags & TcpFlags.RST) === 0) {
        this.#sendReset(seg.ack);
      }
      return;
    }
    if ((flags & TcpFlags.RST) !== 0) {
      if (hasAck) {
        this.#host.stats.rstReceived++;
        this.#closeWith("refused");
      }
      return;
    }
    if ((flags & TcpFlags.SYN) === 0) return;
    this.#o.negotiate(seg, now, false);
    this.#irs = seg.seq;
    this.#rcvNxt = seqAdd(seg.seq, 1);
    this.#w.reset(this.#rcvNxt);
    this.#sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.#maxSndWnd = this.#sndWnd;
    this.#sndWl1 = seg.seq;
    this.#sndWl2 = seg.ack;
    if (this.#o.tsOk) this.#o.lastAckSent = this.#rcvNxt;
    if (hasAck) {
      this.#ackSynAck(seg, now);
      this.#sndUna = seg.ack;
      if (seqLt(this.#sndNxt, this.#sndUna)) this.#sndNxt = this.#sndUna;
      this.#t.rtoAt = Infinity;
      this.#becomeEstablished(now);
      this.#ackNow = true;
    } else {
      // Simultaneous open (RFC 9293 §3.5, Figure 8): answer with SYN,ACK from the same ISS.
      this.state = TcpState.SynReceived;
      this.#sndNxt = this.#iss;
    }
    this.#host.ready(this);
  }

  /** Takes an RTT sample from the ACK of our SYN, unless the SYN was retransmitted (Karn). */
  #ackSynAck(seg: TcpRepr, now: number): void {
    if (this.#o.tsOk && seg.tsEcr !== undefined && seg.tsEcr !== 0) {
      const rtt = seqSub(this.#o.tsNow(now), seg.tsEcr);
      if (rtt >= 0) this.#rtt.sample(rtt);
    } else if (this.#rttSeq !== undefined && this.#retries === 0) {
      this.#rtt.sample(now - this.#rttStart);
    }
    this.#rttSeq = undefined;
    this.#retries = 0;
    this.#rtt.resetBackoff();
  }

  #resetArrived(): void {
    switch (this.state) {
      case TcpState.SynReceived:
        // A passive open returns to LISTEN, which for us means forgetting it (RFC 9293 §3.10.7.4).
        this.#closeWith(this.passive ? undefined : "refused");
        return;
      case TcpState.Closing:
      case TcpState.LastAck:
      case TcpState.TimeWait:
        this.#closeWith(undefined);
        return;
      default:
        this.#closeWith("reset");
    }
  }

  /**
   * Rate limit for ACKs answering out-of-window segments without data (Linux's tcp_invalid_ratelimit):
   * two stacks that disagree about the window must not trade such ACKs forever. Data segments are always
   * answered, since the peer's recovery may depend on it.
   */
  #oowAckAllowed(now: number): boolean {
    if (now - this.#lastOowAckAt < OOW_ACK_INTERVAL_MS) {
      this.#host.stats.oowAcksSuppressed++;
      return false;
    }
    this.#lastOowAckAt = now;
    return true;
  }

  #challengeAck(now: number): void {
    const stats = this.#host.stats;
    const second = Math.floor(now / 1000);
    if (second !== this.#challengeSecond) {
      this.#challengeSecond = second;
      this.#challengeCount = 0;
    }
    if (this.#challengeCount++ < this.#host.challengeAckLimit) {
      stats.challengeAcks++;
      this.#ackNow = true;
      this.#host.ready(this);
    } else {
      stats.challengeAcksSuppressed++;
    }
  }

  /** The fifth check of RFC 9293 §3.10.7.4 with RFC 5961 §5; false drops the segment. */
  #processAck(seg: TcpRepr, payLen: number, now: number): boolean {
    const stats = this.#host.stats;
    const ack = seg.ack;
    if (seqGt(ack, this.#sndMax)) {
      stats.dropAckUnsent++;
      // RFC 9293 §3.10.7.4 asks for an ACK; rate limited so that two stacks disagreeing about
      // SND.NXT cannot trade these ACKs forever (RFC 5961 §10).
      if (this.#oowAckAllowed(now)) {
        this.#ackNow = true;
        this.#host.ready(this);
      }
      return false;
    }
    if (seqLt(ack, seqAdd(this.#sndUna, -Math.max(this.#maxSndWnd, 1)))) {
      // RFC 5961 §5.2: an ACK this far behind is injected, not late.
      stats.dropAckTooOld++;
      this.#challengeAck(now);
      return false;
    }
    this.#probesOut = 0; // the peer is alive (Linux resets icsk_probes_out on every ACK)
    const window = seg.window << this.#o.sndWscale;
    const flightBefore = seqSub(this.#sndMax, this.#sndUna);
    // RFC 5681 §2 duplicate ACK; with SACK a changed window does not disqualify it (RFC 6675 §2).
    const isDup = ack === this.#sndUna && payLen === 0 &&
      (seg.flags & (TcpFlags.SYN | TcpFlags.FIN)) === 0 && flightBefore > 0 &&
      (window === this.#sndWnd || this.#o.sackOk);

    const unaBefore = this.#sndUna;
    const sackedBefore = this.#sack.sackedBytes;
    if (seqGt(ack, this.#sndUna)) this.#newAck(seg, ack, flightBefore, now);

    if (this.#o.sackOk && this.state !== TcpState.Closed) {
      this.#sack.update(this.#sndUna, seg.sackBlocks, this.#sndMax);
      if (seg.sackBlocks.length > 0) {
        this.#detectLostRetransmission(now);
        this.#rackDetect(now);
      }
      if (this.#inRecovery) {
        const delivered = seqSub(this.#sndUna, unaBefore) + this.#sack.sackedBytes - sackedBefore;
        this.#prrOnAck(Math.max(0, delivered));
      }
    }

    // Window update (RFC 9293 §3.10.7.4): only from a segment newer than the last one that set it.
    if (
      seqGe(ack, this.#sndUna) &&
      (seqLt(this.#sndWl1, seg.seq) || (this.#sndWl1 === seg.seq && seqLe(this.#sndWl2, ack)))
    ) {
      const opened = this.#sndWnd === 0 && window > 0;
      this.#sndWnd = window;
      this.#sndWl1 = seg.seq;
      this.#sndWl2 = ack;
      if (window > this.#maxSndWnd) this.#maxSndWnd = window;
      if (opened || window > 0) {
        this.#t.persistAt = Infinity;
        this.#t.persistBackoff = 0;
      }
      if (opened) this.#host.ready(this);
    }

    if (isDup) this.#dupAck(now);

    // State changes that the ACK of our FIN brings.
    const finAcked = this.#finQueued && seqGt(this.#sndUna, this.#dataEnd());
    switch (this.state) {
      case TcpState.FinWait1:
        if (finAcked) {
          this.state = TcpState.FinWait2;
          this.events |= ConnEvent.In;
          this.#armFinWait2(now);
        }
        break;
      case TcpState.Closing:
        if (finAcked) this.#enterTimeWait(now);
        break;
      case TcpState.LastAck:
        if (finAcked) {
          this.#closeWith(undefined);
          return false;
        }
        break;
      case TcpState.TimeWait:
        break;
    }
    return true;
  }

  #newAck(seg: TcpRepr, ack: number, flightBefore: number, now: number): void {
    let acked = seqSub(ack, this.#sndUna);
    const dataAcked = Math.max(
      0,
      Math.min(seqSub(ack, this.#sndBufSeq), this.#send?.length ?? 0),
    );
    if (dataAcked > 0) {
      this.#send!.consume(dataAcked);
      this.#sndBufSeq = seqAdd(this.#sndBufSeq, dataAcked);
      this.events |= ConnEvent.In;
    }
    this.#sndUna = ack;
    if (seqLt(this.#sndNxt, ack)) this.#sndNxt = ack;
    if (seqLt(this.#highRxt, ack)) this.#highRxt = ack;

    // RTT measurement (RFC 7323 §4 with timestamps, else one timed segment under Karn's rule).
    let rttSample: number | undefined = undefined;
    if (this.#o.tsOk && seg.tsEcr !== undefined && seg.tsEcr !== 0) {
      // After a timeout the peer may echo the timestamp of a segment older than our last resend (it
      // does not update TS.Recent from duplicates): such an echo measures the loss, not the path.
      const stale = this.#rexmitTs !== undefined && tsLt(seg.tsEcr, this.#rexmitTs);
      const rtt = seqSub(this.#o.tsNow(now), seg.tsEcr);
      if (rtt >= 0 && !stale) rttSample = rtt;
      if (!stale) this.#rexmitTs = undefined;
    } else if (this.#rttSeq !== undefined && seqGt(ack, this.#rttSeq)) {
      rttSample = now - this.#rttStart;
      this.#rttSeq = undefined;
    }
    if (rttSample !== undefined) this.#rtt.sample(rttSample);
    this.#rtt.resetBackoff();
    this.#retries = 0;

    if (this.#inRecovery) {
      if (seqGe(ack, this.#recover)) {
        this.#inRecovery = false;
        this.#holeRexmitAt = undefined;
        this.#cc.onExitRecovery(now);
      } else {
        // A partial ACK (RFC 6582 §3.2 step 5): the next hole is lost too.
        this.#cc.onRecoveryAck(acked, now);
        if (!this.#o.sackOk) this.#rexmitHead = true;
        if (this.#holeRexmitAt !== undefined) this.#holeRexmitAt = now;
        this.#host.ready(this);
      }
    } else {
      if (seqLe(ack, this.#iss)) acked = 0;
      // A stretch ACK (a receiver that batches, GRO, or a lost ACK) counts as the ACKs of every second
      // segment it stands for, so that slow start still doubles per round trip, as in Linux, while each
      // call stays within RFC 3465's per-ACK limit of 2·SMSS.
      const step = 2 * this.#o.mss();
      let calls = 0;
      for (; acked > step && calls < STRETCH_ACK_SPLIT; calls++) {
        this.#cc.onAck(step, flightBefore, now, calls === 0 ? rttSample : undefined);
        acked -= step;
      }
      this.#cc.onAck(acked, flightBefore, now, calls === 0 ? rttSample : undefined);
    }
    if (this.#sendFull) this.#expandSendBuffer();
    this.#dupAcks = 0;
    this.#tlpOut = false;
    this.#t.rtoAt = this.#sndUna === this.#sndMax ? Infinity : now + this.#rtt.rto;
    this.#armProbe(now);
    if ((this.#send?.length ?? 0) > 0 || this.#finQueued) this.#host.ready(this);
  }

  /**
   * Grows a send buffer the app keeps full to twice what the congestion and peer windows let fly, as
   * Linux's tcp_sndbuf_expand: with a buffer no larger than the window, every byte is in flight and
   * the app can only refill once ACKs come back, so the link idles for part of each round trip.
   */
  #expandSendBuffer(): void {
    this.#sendFull = false;
    const send = this.#send;
    const max = this.#cfg.sendBufferMax;
    if (send === undefined || send.capacity >= max) return;
    const want = 2 * Math.min(this.#cc.cwnd, this.#sndWnd);
    let size = send.capacity;
    while (size < want && size < max) size *= 2;
    if (size > send.capacity) send.resize(Math.min(size, max));
  }

  #dupAck(now: number): void {
    this.#dupAcks++;
    const mss = this.#o.mss();
    if (!this.#inRecovery) {
      const lost = this.#dupAcks >= 3 ||
        (this.#o.sackOk && this.#sack.isLost(this.#sndUna, mss));
      // RFC 6582 §3.2 step 2: no new recovery for losses from before the last one ended (without
      // SACK; the scoreboard tells real losses from duplicates of go-back-N resends).
      if (
        lost &&
        (this.#o.sackOk || seqGt(this.#sndUna, this.#recover) || this.#recover === this.#iss)
      ) {
        this.#enterRecovery(now);
      }
    } else {
      if (!this.#o.sackOk) this.#cc.onDuplicateAck?.(now); // RFC 6582 §3.2 step 3
      this.#host.ready(this);
    }
  }

  /**
   * Proportional rate reduction (RFC 6937) decides how much recovery may send per ACK: in proportion
   * to what the peer received while the pipe exceeds ssthresh, then slow start back up to it (PRR-SSRB).
   * This keeps the ACK clock going instead of RFC 6675's pause while pipe falls to the new cwnd.
   */
  #prrOnAck(delivered: number): void {
    const mss = this.#o.mss();
    this.#prrDelivered += delivered;
    const pipe = this.#sack.pipe(this.#sndUna, this.#sndMax, this.#highRxt, mss);
    const ssthresh = this.#cc.ssthresh;
    if (pipe > ssthresh) {
      const sndcnt = Math.ceil((this.#prrDelivered * ssthresh) / Math.max(this.#recoverFs, 1)) -
        this.#prrOut;
      this.#prrAllow = Math.max(0, sndcnt);
    } else {
      // ACKs handled in one poll each add their share before anything is sent.
      const limit = Math.max(this.#prrDelivered - this.#prrOut, delivered) + mss;
      this.#prrAllow = Math.max(0, Math.min(ssthresh - pipe, this.#prrAllow + limit));
    }
  }

  /** Fast retransmit: start loss recovery and resend the first unacknowledged segment. */
  #enterRecovery(now: number): void {
    const flight = seqSub(this.#sndMax, this.#sndUna);
    this.#recoverFs = flight;
    this.#prrDelivered = 0;
    this.#prrOut = 0;
    this.#prrAllow = 0;
    this.#inRecovery = true;
    this.#recover = this.#sndMax;
    this.#highRxt = this.#sndUna;
    this.#cc.onEnterRecovery(flight, now, this.#o.sackOk);
    this.#t.tlpAt = Infinity;
    this.#rexmitHead = true;
    this.#rttSeq = undefined;
    this.#host.stats.fastRetransmits++;
    this.#host.ready(this);
  }

  /**
   * Time-based loss detection in the manner of RACK (RFC 8985 §6.2), for the segment at SND.UNA: once
   * the peer SACKs later data, that segment is lost when it was sent more than an RTT plus a reordering
   * window (SRTT/4) ago. This starts recovery when too few segments are in flight for three duplicate
   * ACKs, and finds resent segments that were lost again. A timer covers the wait.
   */
  #rackDetect(now: number): void {
    this.#t.rackAt = Infinity;
    if (!this.#o.sackOk || this.#sack.highestSacked === undefined) return;
    if (this.#sndUna === this.#sndMax || this.state === TcpState.Closed) return;
    const resent = this.#inRecovery && seqLt(this.#sndUna, this.#highRxt);
    const sentAt = resent ? this.#holeRexmitAt : this.#sent?.lookup(this.#sndUna);
    if (sentAt === undefined) return;
    const srtt = this.#rtt.srtt ?? this.#rtt.rto;
    const deadline = sentAt + srtt + Math.max(srtt / 4, 1);
    if (now < deadline) {
      this.#t.rackAt = deadline;
      return;
    }
    if (!this.#inRecovery) {
      this.#enterRecovery(now);
    } else if (resent) {
      this.#highRxt = this.#sndUna;
      this.#holeRexmitAt = undefined;
      this.#host.stats.lostRetransmits++;
      this.#host.ready(this);
    }
  }

  /**
   * Lost-retransmission detection in the manner of RACK (RFC 8985 §6.2): while SACKs keep arriving, a
   * resent hole at SND.UNA that stays unacknowledged for longer than an RTT plus a reordering allowance
   * was lost again, so NextSeg may pick it once more.
   */
  #detectLostRetransmission(now: number): void {
    if (!this.#inRecovery || this.#holeRexmitAt === undefined) return;
    const srtt = this.#rtt.srtt ?? this.#rtt.rto;
    if (now - this.#holeRexmitAt <= srtt * 1.25 + 2) return;
    if (!seqLt(this.#sndUna, this.#highRxt)) return;
    this.#highRxt = this.#sndUna;
    this.#holeRexmitAt = undefined;
    this.#host.stats.lostRetransmits++;
    this.#host.ready(this);
  }

  #receiveText(seq: number, bytes: Uint8Array, off: number, len: number, now: number): void {
    if (this.#readShut) {
      // After close() nobody reads: acknowledge in-order data and drop it.
      if (seq === this.#rcvNxt) this.#rcvNxt = seqAdd(this.#rcvNxt, len);
      this.#ackNow = true;
      return;
    }
    const offset = seqSub(seq, this.#rcvNxt);
    const recv = this.#recv ??= new RecvBuffer(
      this.#cfg.recvBufferSize,
      this.#cfg.maxOutOfOrderHoles,
    );
    const hadHoles = recv.outOfOrderBytes > 0;
    const refused = recv.refused;
    const n = recv.write(offset, bytes, off, len, this.#lend);
    if (recv.refused !== refused) this.#host.stats.dropOutOfOrderFull++;
    if (n > 0) {
      this.#rcvNxt = seqAdd(this.#rcvNxt, n);
      this.events |= ConnEvent.In;
    }
    // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at once out of order, or when a hole fills.
    if (offset > 0 || hadHoles || recv.outOfOrderBytes > 0) {
      this.#ackNow = true;
      if (offset > 0) this.#host.stats.rxOutOfOrder++;
      return;
    }
    this.#ackPending += n;
    if (this.#ackPending >= 2 * this.#o.ownMss) this.#ackNow = true;
    else if (this.#t.delAckAt === Infinity) this.#t.delAckAt = now + this.#cfg.delayedAckMs;
  }

  #finArrived(now: number): void {
    this.#finReceived = true;
    this.#pendingFin = undefined;
    this.#rcvNxt = seqAdd(this.#rcvNxt, 1);
    this.#ackNow = true;
    this.events |= ConnEvent.In;
    switch (this.state) {
      case TcpState.SynReceived:
      case TcpState.Established:
        this.state = TcpState.CloseWait;
        break;
      case TcpState.FinWait1:
        if (this.#finQueued && seqGt(this.#sndUna, this.#dataEnd())) this.#enterTimeWait(now);
        else this.state = TcpState.Closing; // simultaneous close (RFC 9293 Figure 13)
        break;
      case TcpState.FinWait2:
        this.#enterTimeWait(now);
        break;
    }
  }

  #enterTimeWait(now: number): void {
    this.state = TcpState.TimeWait;
    this.#releaseBuffers();
    this.#t.timeWaitAt = now + this.#cfg.timeWaitMs;
    this.#t.rtoAt = Infinity;
    this.#t.persistAt = Infinity;
    this.#t.keepAt = Infinity;
    this.events |= ConnEvent.In;
  }

  #armKeepalive(now: number): void {
    this.#lastActivity = now;
    this.#t.keepProbes = 0;
    if (this.#cfg.keepalive && isSynchronized(this.state) && this.state !== TcpState.TimeWait) {
      this.#t.keepAt = now + this.#cfg.keepaliveIdleMs;
    }
  }

  // ---- Timers ---------------------------------------------------------------------------------------

  /** Runs every deadline that is due at `now`. */
  onTimer(now: number): void {
    if (this.#t.timeWaitAt <= now) {
      this.#closeWith(undefined);
      return;
    }
    if (this.#t.delAckAt <= now) {
      this.#t.delAckAt = Infinity;
      this.#ackNow = true;
      this.#host.ready(this);
    }
    if (this.#t.rtoAt <= now) this.#retransmitTimeout(now);
    if (this.#t.rackAt <= now) this.#rackDetect(now);
    if (this.#t.tlpAt <= now) {
      this.#t.tlpAt = Infinity;
      if (!this.#inRecovery && this.#sndMax !== this.#sndUna) {
        this.#tlpProbe = true;
        this.#tlpOut = true;
        this.#host.stats.tailLossProbes++;
        this.#host.ready(this);
      }
    }
    if (this.#t.persistAt <= now) {
      // RFC 9293 §3.8.6.1: probe the zero window, backing off like the RTO, while the peer answers.
      // Like Linux's tcp_probe_timer, a peer that stops answering times out after maxRetries probes,
      // and a connection the app closed (an orphan) is reset after orphanRetries probes whatever the
      // peer answers, so that no peer can pin its buffers with a window held at zero.
      const orphan = this.#readShut && this.#finQueued;
      if (
        this.#probesOut >= this.#cfg.maxRetries ||
        (orphan && this.#t.persistBackoff >= this.#cfg.orphanRetries)
      ) {
        this.#host.stats.timeouts++;
        if (orphan) {
          this.#sendReset(this.#sndNxt);
        }
        this.#closeWith("timedOut");
        return;
      }
      this.#probesOut++;
      this.#probe = true;
      this.#t.persistBackoff = Math.min(this.#t.persistBackoff + 1, 16);
      this.#t.persistAt = now +
        Math.min(this.#rtt.rto * 2 ** this.#t.persistBackoff, this.#cfg.maxRtoMs);
      this.#host.stats.windowProbes++;
      this.#host.ready(this);
    }
    if (this.#t.keepAt <= now) {
      if (this.#t.keepProbes >= this.#cfg.keepaliveProbes) {
        this.#closeWith("timedOut");
        return;
      }
      this.#t.keepProbes++;
      this.#probe = true;
      this.#t.keepAt = now + this.#cfg.keepaliveIntervalMs;
      this.#host.stats.keepaliveProbes++;
      this.#host.ready(this);
    }
  }

  #retransmitTimeout(now: number): void {
    if (this.#sndUna === this.#sndMax) {
      this.#t.rtoAt = Infinity;
      return;
    }
    this.#retries++;
    const limit = this.state === TcpState.SynSent
      ? this.#cfg.synRetries
      : this.state === TcpState.SynReceived
      ? this.#cfg.synAckRetries
      : this.#cfg.maxRetries;
    if (this.#retries > limit) {
      this.#host.stats.timeouts++;
      this.#closeWith(this.passive && this.state === TcpState.SynReceived ? undefined : "timedOut");
      return;
    }
    this.#host.stats.rtoExpired++;
    this.#rtt.backoff();
    if (isSynchronized(this.state)) {
      this.#cc.onRetransmitTimeout(seqSub(this.#sndMax, this.#sndUna), now);
    }
    // Go back N: resend from the oldest unacknowledged byte, and start no fast recovery for losses from
    // before this point (RFC 6582 §3.2 step 1 uses `recover` for that).
    this.#inRecovery = false;
    this.#dupAcks = 0;
    this.#rexmitHead = false;
    this.#recover = this.#sndMax;
    this.#sack.reset(this.#sndUna);
    this.#sndNxt = this.#sndUna;
    this.#highRxt = this.#sndUna;
    this.#rttSeq = undefined;
    this.#rexmitTs = this.#o.tsNow(now);
    this.#t.tlpAt = Infinity;
    this.#t.rackAt = Infinity;
    this.#tlpProbe = false;
    this.#t.rtoAt = now + this.#rtt.rto;
    this.#host.ready(this);
  }

  // ---- Transmission ---------------------------------------------------------------------------------

  /** Sends every segment that is due; false when the IP layer had no buffer (retry on a later poll). */
  transmit(now: number, ip: TcpIpSender): boolean {
    if (this.state === TcpState.Closed) return true;
    this.#o.ipMtu = ip.mtu;
    if (this.state === TcpState.SynSent || this.state === TcpState.SynReceived) {
      if (this.#sndNxt === this.#iss) {
        if (!this.#sendSyn(ip, now)) return false;
      } else if (this.#ackNow && this.state === TcpState.SynReceived) {
        if (!this.#sendBare(ip, now, this.#ackSeq())) return false;
      }
      this.#ackNow = false;
      return true;
    }
    if (this.state === TcpState.TimeWait) {
      if (this.#ackNow && !this.#sendBare(ip, now, this.#ackSeq())) return false;
      return true;
    }
    let sentAny = false;
    let budget = SEGMENT_BUDGET;
    for (; budget > 0; budget--) {
      const sent = this.#sendNext(ip, now);
      if (sent < 0) return false;
      if (sent === 0) break;
      sentAny = true;
    }
    if (budget === 0) this.#host.ready(this); // more may be due: continue on the next poll
    if (this.#probe) {
      // A zero-window or keepalive probe: an old sequence number that the peer must acknowledge.
      if (!this.#sendBare(ip, now, seqAdd(this.#sndUna, -1))) return false;
      this.#probe = false;
    }
    if (this.#ackNow && !sentAny) {
      if (!this.#sendBare(ip, now, this.#ackSeq())) return false;
    }
    return true;
  }

  /** Sends one segment if one is due: 1 when sent, 0 when nothing is due, -1 when the IP layer is busy. */
  #sendNext(ip: TcpIpSender, now: number): number {
    const mss = this.#o.mss();
    const dataEnd = this.#dataEnd();
    let probeNew = false;
    if (this.#tlpProbe) {
      this.#tlpProbe = false;
      const peerRoom = seqSub(seqAdd(this.#sndUna, this.#sndWnd), this.#sndNxt);
      if (seqLt(this.#sndNxt, dataEnd) && peerRoom > 0 && this.#sndNxt === this.#sndMax) {
        probeNew = true; // RFC 8985 §7.3: a new segment is the best probe
      } else {
        const sent = this.#sendLastSegment(ip, now, mss, dataEnd);
        if (sent !== 0) return sent;
      }
    }
    if (this.#rexmitHead) {
      this.#rexmitHead = false;
      const sentEnd = seqLt(this.#sndMax, dataEnd) ? this.#sndMax : dataEnd;
      const len = Math.min(mss, Math.max(0, seqSub(sentEnd, this.#sndUna)));
      const fin = this.#finQueued && seqGt(this.#sndMax, dataEnd) &&
        seqAdd(this.#sndUna, len) === dataEnd;
      if (len > 0 || fin) {
        const sent = this.#sendData(ip, now, this.#sndUna, len, fin);
        if (sent < 0) {
          this.#rexmitHead = true;
          return -1;
        }
        this.#highRxt = seqMax(this.#highRxt, seqAdd(this.#sndUna, sent + (fin ? 1 : 0)));
        this.#host.stats.retransmits++;
        return 1;
      }
    }
    const cwnd = this.#cc.cwnd;
    let ccRoom: number;
    if (this.#inRecovery && this.#o.sackOk) {
      // RFC 6675 §5 with the amount PRR allows (RFC 6937 §3) in place of cwnd - pipe.
      ccRoom = this.#prrAllow > 0 ? Math.max(this.#prrAllow, mss) : 0;
      if (ccRoom <= 0) return 0;
      const hole = this.#sack.nextSegmentToRetransmit(
        this.#sndUna,
        this.#sndMax,
        this.#highRxt,
        mss,
      );
      if (hole !== undefined) {
        const sent = this.#sendHole(ip, now, hole, mss, dataEnd);
        if (sent !== 0) return sent;
      }
    } else {
      // RFC 3042 limited transmit: the first two duplicate ACKs each release one new segment.
      const limited = this.#inRecovery ? 0 : Math.min(this.#dupAcks, 2) * mss;
      ccRoom = cwnd + limited - seqSub(this.#sndNxt, this.#sndUna);
    }
    // New data (or data again after a timeout, sndNxt < sndMax).
    const remaining = Math.max(0, seqSub(dataEnd, this.#sndNxt));
    const finPending = this.#finQueued && seqLe(this.#sndNxt, dataEnd);
    if (remaining === 0 && !finPending) {
      if (this.#inRecovery && this.#o.sackOk) {
        // RFC 6675 NextSeg rule 3: no new data, so resend a hole that is not yet deemed lost.
        const hole = this.#sack.nextSegmentToRetransmit(
          this.#sndUna,
          this.#sndMax,
          this.#highRxt,
          mss,
          true,
        );
        if (hole !== undefined) return this.#sendHole(ip, now, hole, mss, dataEnd);
      }
      return 0;
    }
    const flight = seqSub(this.#sndNxt, this.#sndUna);
    const peerRoom = seqSub(seqAdd(this.#sndUna, this.#sndWnd), this.#sndNxt);
    if (probeNew) ccRoom = Math.max(ccRoom, mss);
    let len = Math.min(mss, remaining, peerRoom, ccRoom);
    if (len < 0) len = 0;
    const retransmitting = seqLt(this.#sndNxt, this.#sndMax);
    if (len === mss && !retransmitting && !probeNew && !this.#inRecovery) {
      len = this.#tsoLength(mss, Math.min(remaining, peerRoom, ccRoom), remaining, finPending);
    }
    if (remaining > 0 && len === 0) {
      if (peerRoom <= 0 && flight === 0 && this.#t.persistAt === Infinity) {
        this.#t.persistAt = now + this.#rtt.rto;
      }
      return 0;
    }
    if (len < remaining && len < mss && !probeNew) {
      // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): wait for a full segment or half the largest window.
      if (flight > 0 && len < (this.#maxSndWnd >>> 1)) return 0;
      if (flight > 0 && ccRoom < peerRoom) return 0;
    }
    if (
      len === remaining && len > 0 && len < mss && !this.#noDelay && flight > 0 &&
      !retransmitting && !finPending && !probeNew
    ) {
      return 0; // Nagle: a small segment waits while data is unacknowledged
    }
    if (flight === 0 && !retransmitting && now - this.#lastDataSentAt > this.#rtt.rto) {
      // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the initial window.
      if (this.#lastDataSentAt !== -Infinity) this.#cc.onIdleRestart?.(now, this.#rtt.rto);
    }
    const fin = finPending && len === remaining;
    const seq = this.#sndNxt;
    const sent = this.#sendData(ip, now, seq, len, fin);
    if (sent < 0) return -1;
    const end = seqAdd(seq, sent + (fin && sent === len ? 1 : 0));
    this.#sndNxt = end;
    if (retransmitting) this.#host.stats.retransmits++;
    if (seqGt(end, this.#sndMax)) {
      this.#sndMax = end;
      if (!this.#o.tsOk && this.#rttSeq === undefined && !retransmitting) {
        this.#rttSeq = seq;
        this.#rttStart = now;
      }
    }
    if (this.#t.rtoAt === Infinity || probeNew) this.#t.rtoAt = now + this.#rtt.rto;
    if (!probeNew) this.#armProbe(now);
    return 1;
  }

  /**
   * The payload of a new-data frame when the NIC does TSO (`NicCaps.tsoMaxBytes`): whole MSS multiples
   * within `room`, so the NIC's segments are what MSS-sized sends would have been. A shorter tail joins
   * only at the end of the data and only where Nagle would let it go at once (no Nagle or a FIN), the
   * way Linux's `tcp_mss_split_point` cuts it off. Only when the NIC's cut (the MTU less the headers)
   * is the MSS; `#sendData` checks that against the real header.
   */
  #tsoLength(mss: number, room: number, remaining: number, finPending: boolean): number {
    const tso = this.#host.tx.tsoMaxBytes;
    if (tso <= mss || room <= mss) return mss;
    // A peer MSS below the MTU's: the NIC's cut would exceed it.
    if (this.#o.peerMss < this.#o.ipMtu - TCP_HEADER) return mss;
    const most = Math.min(room, tso);
    if (most === remaining && (this.#noDelay || finPending)) return most;
    return most - most % mss;
  }

  /** The tail loss probe's resend (RFC 8985 §7.3): the last segment sent. 1 sent, 0 none, -1 busy. */
  #sendLastSegment(ip: TcpIpSender, now: number, mss: number, dataEnd: number): number {
    const sentEnd = seqLt(this.#sndMax, dataEnd) ? this.#sndMax : dataEnd;
    const fin = this.#finQueued && seqGt(this.#sndMax, dataEnd);
    const start = seqMax(this.#sndUna, seqAdd(sentEnd, -mss));
    const len = Math.max(0, seqSub(sentEnd, start));
    if (len === 0 && !fin) return 0;
    const sent = this.#sendData(ip, now, start, len, fin);
    if (sent < 0) return -1;
    this.#host.stats.retransmits++;
    this.#t.rtoAt = now + this.#rtt.rto;
    return 1;
  }

  /**
   * Arms the tail loss probe (RFC 8985 §7.2): PTO = 2·SRTT, plus the peer's worst-case delayed-ACK
   * time when only one segment is out, and never later than the RTO. Only with SACK, which tells the
   * probe's ACK apart, and only outside recovery.
   */
  #armProbe(now: number): void {
    const flight = seqSub(this.#sndMax, this.#sndUna);
    if (!this.#o.sackOk || this.#inRecovery || this.#tlpOut || flight <= 0) {
      this.#t.tlpAt = Infinity;
      return;
    }
    const srtt = this.#rtt.srtt;
    let pto = srtt === undefined ? 1000 : 2 * srtt;
    pto += flight <= this.#o.mss() ? WORST_DELAYED_ACK_MS : 2;
    pto = Math.max(pto, MIN_PTO_MS);
    const at = now + pto;
    this.#t.tlpAt = at < this.#t.rtoAt ? at : Infinity;
  }

  /** Retransmits the hole at `hole` up to the next SACKed range: 1 sent, 0 nothing, -1 busy. */
  #sendHole(ip: TcpIpSender, now: number, hole: number, mss: number, dataEnd: number): number {
    const len = Math.min(
      this.#sack.segmentLength(hole, this.#sndMax, mss),
      Math.max(0, seqSub(dataEnd, hole)),
    );
    const fin = this.#finQueued && seqAdd(hole, len) === dataEnd && seqGt(this.#sndMax, dataEnd);
    if (len === 0 && !fin) return 0;
    const sent = this.#sendData(ip, now, hole, len, fin);
    if (sent < 0) return -1;
    this.#highRxt = seqAdd(hole, Math.max(1, sent + (fin ? 1 : 0)));
    this.#host.stats.retransmits++;
    return 1;
  }

  /** Sends data [seq, seq+len) with an optional FIN; returns the payload length sent, or -1 when busy. */
  #sendData(ip: TcpIpSender, now: number, seq: number, len: number, fin: boolean): number {
    const tx = this.#host.tx;
    let flags = TcpFlags.ACK;
    const repr = tx.begin(this.localPort, this.remotePort, seq, this.#rcvNxt, flags, 0);
    this.#addOptions(repr, now);
    repr.window = this.#windowField();
    // Options (SACK blocks) may leave less room than the MSS: never exceed the path MTU. A TSO frame
    // may, when the NIC's cut (the MTU less these headers) is exactly the MSS.
    const cap = this.#o.ipMtu - repr.headerLength;
    if (len > cap && !(len <= this.#host.tx.tsoMaxBytes && cap === this.#o.mss())) {
      len = Math.min(cap, this.#o.mss());
      fin = false;
    }
    if (len > 0 && seqAdd(seq, len) === this.#dataEnd()) flags |= TcpFlags.PSH;
    if (fin) flags |= TcpFlags.FIN;
    repr.flags = flags;
    const from = seqSub(seq, this.#sndBufSeq);
    const result = tx.send(ip, this.localAddr, this.remoteAddr, this.#send, from, len);
    if (result === "busy") return -1;
    if (this.#inRecovery && this.#o.sackOk) {
      this.#prrOut += len;
      this.#prrAllow -= len;
    }
    if (len > 0) {
      this.#lastDataSentAt = now;
      if (!seqLt(seq, this.#sndMax)) {
        (this.#sent ??= new SendTimes(1024)).record(seq, seqAdd(seq, len), now);
      }
    }
    if (seq === this.#sndUna && seqLt(seq, this.#sndMax) && this.#inRecovery) {
      this.#holeRexmitAt = now;
    }
    this.#afterSend(now, len > 0);
    return len;
  }

  /**
   * The sequence number of a bare ACK, as Linux's `tcp_acceptable_seq`: SND.MAX rather than a SND.NXT
   * pulled back by a timeout (the peer may hold everything below SND.MAX, and an older number would be
   * unacceptable to it, RFC 9293 §3.10.7.4), but never past the right edge of the peer's window, which
   * a zero window would make unacceptable too.
   */
  #ackSeq(): number {
    const windowEnd = seqAdd(this.#sndUna, this.#sndWnd);
    return seqLt(windowEnd, this.#sndMax) ? windowEnd : this.#sndMax;
  }

  /** Sends a segment without data (an ACK, window update or probe) at `seq`. */
  #sendBare(ip: TcpIpSender, now: number, seq: number): boolean {
    const tx = this.#host.tx;
    const repr = tx.begin(this.localPort, this.remotePort, seq, this.#rcvNxt, TcpFlags.ACK, 0);
    this.#addOptions(repr, now);
    repr.window = this.#windowField();
    const result = tx.send(ip, this.localAddr, this.remoteAddr);
    if (result === "busy") return false;
    this.#afterSend(now, false);
    return true;
  }

  #sendSyn(ip: TcpIpSender, now: number): boolean {
    const tx = this.#host.tx;
    const synAck = this.state === TcpState.SynReceived;
    this.#o.ownMss = Math.min(this.#cfg.maxMss, ip.mtu - TCP_HEADER);
    const repr = tx.begin(
      this.localPort,
      this.remotePort,
      this.#iss,
      synAck ? this.#rcvNxt : 0,
      synAck ? TcpFlags.SYN | TcpFlags.ACK : TcpFlags.SYN,
      Math.min(this.#recvFree(), 0xffff),
    );
    repr.mss = this.#o.ownMss;
    if (this.#o.offerWs) repr.windowScale = this.#o.rcvWscale;
    const sack = synAck ? this.#o.sackOk : this.#cfg.sack;
    const ts = synAck ? this.#o.tsOk : this.#cfg.timestamps;
    repr.sackPermitted = sack;
    if (ts) {
      repr.tsVal = this.#o.tsNow(now);
      repr.tsEcr = synAck ? this.#o.tsRecent : 0;
    }
    const result = tx.send(ip, this.localAddr, this.remoteAddr);
    if (result === "busy") return false;
    this.#host.stats.txSegments++;
    if (this.#retries > 0) this.#host.stats.retransmits++;
    this.#sndNxt = seqAdd(this.#iss, 1);
    this.#sndMax = this.#sndNxt;
    if (synAck) {
      this.#w.commitSyn(this.#rcvNxt, repr.window);
      this.#o.lastAckSent = this.#rcvNxt;
    }
    if (this.#retries === 0 && this.#rttSeq === undefined) {
      this.#rttSeq = this.#iss;
      this.#rttStart = now;
    }
    if (this.#t.rtoAt === Infinity) this.#t.rtoAt = now + this.#rtt.rto;
    return true;
  }

  #addOptions(repr: TcpRepr, now: number): void {
    if (this.#o.tsOk) {
      repr.tsVal = this.#o.tsNow(now);
      repr.tsEcr = this.#o.tsRecent;
    }
    if (this.#o.sackOk && this.#recv !== undefined && this.#recv.outOfOrderBytes > 0) {
      const out = this.#sackOut;
      out.length = 0;
      this.#recv.sackBlocks(this.#rcvNxt, out);
      for (let i = 0; i < out.length; i++) repr.sackBlocks.push(out[i] >>> 0);
    }
  }

  /** Records that an ACK of rcvNxt with the pending window went out. */
  #afterSend(now: number, data: boolean): void {
    const stats = this.#host.stats;
    stats.txSegments++;
    if (data) stats.txDataSegments++;
    this.#w.commit();
    this.#o.lastAckSent = this.#rcvNxt;
    this.#ackNow = false;
    this.#ackPending = 0;
    this.#t.delAckAt = Infinity;
    if (this.#t.keepAt !== Infinity && this.#t.keepProbes === 0 && data) {
      this.#t.keepAt = now + this.#cfg.keepaliveIdleMs;
    }
  }

  /**
   * The window field to advertise (RFC 7323 §2.3 scaled), with receiver SWS avoidance: the right edge
   * only moves by at least min(half the buffer, one MSS), and never moves left (RFC 9293 §3.8.6.2.2).
   */
  #windowField(): number {
    const step = Math.min(this.#cfg.recvBufferSize >>> 1, this.#o.ownMss);
    return this.#w.field(this.#rcvNxt, this.#recvFree(), this.#o.rcvWscale, step);
  }

  /** Free receive-buffer space (all of it before the buffer exists). */
  #recvFree(): number {
    return this.#recv?.window ?? this.#cfg.recvBufferSize;
  }

  /** Drops buffers that a closing connection no longer needs. */
  #releaseBuffers(): void {
    const closed = this.state === TcpState.Closed;
    const send = this.#send;
    if (send !== undefined && (closed || (send.length === 0 && this.#finQueued))) {
      this.#send = undefined;
      this.#sent = undefined;
    }
    const recv = this.#recv;
    if (recv !== undefined && recv.readable === 0 && (closed || this.#finReceived)) {
      this.#recv = undefined;
    }
  }

  /** The sequence number just past the last byte the app wrote (where FIN goes). */
  #dataEnd(): number {
    return seqAdd(this.#sndBufSeq, this.#send?.length ?? 0);
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
