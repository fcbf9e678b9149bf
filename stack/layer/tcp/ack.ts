/**
 * The ACK field of an accepted segment (RFC 9293 §3.10.7.4, fifth check, with RFC 5961 §5): new data
 * acknowledged, RTT samples, the congestion controller's ACK clock, duplicate ACKs, the send window,
 * and the state changes the ACK of our FIN brings.
 *
 * @module
 */

import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from "../../wire/seq.ts";
import { TcpFlags, type TcpRepr } from "../../wire/tcp.ts";
import { challengeAck, oowAckAllowed } from "./challenge_ack.ts";
import type { TcpConnection } from "./connection.ts";
import { armFinWait2, closeWith, enterTimeWait } from "./lifecycle.ts";
import { tsLt } from "./options.ts";
import {
  armProbe,
  detectLostRetransmission,
  enterRecovery,
  prrOnAck,
  rackDetect,
} from "./recovery.ts";
import { TcpState } from "./state.ts";
import { ConnEvent } from "./tcb.ts";

const STRETCH_ACK_SPLIT = 64; // most 2·SMSS parts one ACK is counted as

/** The fifth check of RFC 9293 §3.10.7.4 with RFC 5961 §5; false drops the segment. */
export function processAck(c: TcpConnection, seg: TcpRepr, payLen: number, now: number): boolean {
  const t = c.tcb;
  const stats = t.host.stats;
  const ack = seg.ack;
  if (seqGt(ack, t.sndMax)) {
    stats.dropAckUnsent++;
    // RFC 9293 §3.10.7.4 asks for an ACK; rate limited so that two stacks disagreeing about
    // SND.NXT cannot trade these ACKs forever (RFC 5961 §10).
    if (oowAckAllowed(c, now)) {
      t.ackNow = true;
      t.host.ready(c);
    }
    return false;
  }
  if (seqLt(ack, seqAdd(t.sndUna, -Math.max(t.maxSndWnd, 1)))) {
    // RFC 5961 §5.2: an ACK this far behind is injected, not late.
    stats.dropAckTooOld++;
    challengeAck(c, now);
    return false;
  }
  t.probesOut = 0; // the peer is alive (Linux resets icsk_probes_out on every ACK)
  const window = seg.window << t.opts.sndWscale;
  const flightBefore = seqSub(t.sndMax, t.sndUna);
  // RFC 5681 §2 duplicate ACK; with SACK a changed window does not disqualify it (RFC 6675 §2).
  const isDup = ack === t.sndUna && payLen === 0 &&
    (seg.flags & (TcpFlags.SYN | TcpFlags.FIN)) === 0 && flightBefore > 0 &&
    (window === t.sndWnd || t.opts.sackOk);

  const unaBefore = t.sndUna;
  const sackedBefore = t.sack.sackedBytes;
  if (seqGt(ack, t.sndUna)) newAck(c, seg, ack, flightBefore, now);

  if (t.opts.sackOk && c.state !== TcpState.Closed) {
    t.sack.update(t.sndUna, seg.sackBlocks, t.sndMax);
    if (seg.sackBlocks.length > 0) {
      detectLostRetransmission(c, now);
      rackDetect(c, now);
    }
    if (t.inRecovery) {
      const delivered = seqSub(t.sndUna, unaBefore) + t.sack.sackedBytes - sackedBefore;
      prrOnAck(c, Math.max(0, delivered));
    }
  }

  // Window update (RFC 9293 §3.10.7.4): only from a segment newer than the last one that set it.
  if (
    seqGe(ack, t.sndUna) &&
    (seqLt(t.sndWl1, seg.seq) || (t.sndWl1 === seg.seq && seqLe(t.sndWl2, ack)))
  ) {
    const opened = t.sndWnd === 0 && window > 0;
    t.sndWnd = window;
    t.sndWl1 = seg.seq;
    t.sndWl2 = ack;
    if (window > t.maxSndWnd) t.maxSndWnd = window;
    if (opened || window > 0) {
      t.timers.persistAt = Infinity;
      t.timers.persistBackoff = 0;
    }
    if (opened) t.host.ready(c);
  }

  if (isDup) dupAck(c, now);

  // State changes that the ACK of our FIN brings.
  const finAcked = t.finQueued && seqGt(t.sndUna, t.dataEnd());
  switch (c.state) {
    case TcpState.FinWait1:
      if (finAcked) {
        c.state = TcpState.FinWait2;
        c.events |= ConnEvent.In;
        armFinWait2(c, now);
      }
      break;
    case TcpState.Closing:
      if (finAcked) enterTimeWait(c, now);
      break;
    case TcpState.LastAck:
      if (finAcked) {
        closeWith(c, undefined);
        return false;
      }
      break;
    case TcpState.TimeWait:
      break;
  }
  return true;
}

/** SND.UNA advances to `ack`: frees acknowledged data, samples the RTT, clocks congestion control. */
function newAck(
  c: TcpConnection,
  seg: TcpRepr,
  ack: number,
  flightBefore: number,
  now: number,
): void {
  const t = c.tcb;
  let acked = seqSub(ack, t.sndUna);
  const dataAcked = Math.max(
    0,
    Math.min(seqSub(ack, t.sndBufSeq), t.sendBuf?.length ?? 0),
  );
  if (dataAcked > 0) {
    t.sendBuf!.consume(dataAcked);
    t.sndBufSeq = seqAdd(t.sndBufSeq, dataAcked);
    c.events |= ConnEvent.In;
  }
  t.sndUna = ack;
  if (seqLt(t.sndNxt, ack)) t.sndNxt = ack;
  if (seqLt(t.highRxt, ack)) t.highRxt = ack;

  // RTT measurement (RFC 7323 §4 with timestamps, else one timed segment under Karn's rule).
  let rttSample: number | undefined = undefined;
  if (t.opts.tsOk && seg.tsEcr !== undefined && seg.tsEcr !== 0) {
    // After a timeout the peer may echo the timestamp of a segment older than our last resend (it
    // does not update TS.Recent from duplicates): such an echo measures the loss, not the path.
    const stale = t.rexmitTs !== undefined && tsLt(seg.tsEcr, t.rexmitTs);
    const rtt = seqSub(t.opts.tsNow(now), seg.tsEcr);
    if (rtt >= 0 && !stale) rttSample = rtt;
    if (!stale) t.rexmitTs = undefined;
  } else if (t.rttSeq !== undefined && seqGt(ack, t.rttSeq)) {
    rttSample = now - t.rttStart;
    t.rttSeq = undefined;
  }
  if (rttSample !== undefined) t.rtt.sample(rttSample);
  t.rtt.resetBackoff();
  t.retries = 0;

  if (t.inRecovery) {
    if (seqGe(ack, t.recover)) {
      t.inRecovery = false;
      t.holeRexmitAt = undefined;
      t.cc.onExitRecovery(now);
    } else {
      // A partial ACK (RFC 6582 §3.2 step 5): the next hole is lost too.
      t.cc.onRecoveryAck(acked, now);
      if (!t.opts.sackOk) t.rexmitHead = true;
      if (t.holeRexmitAt !== undefined) t.holeRexmitAt = now;
      t.host.ready(c);
    }
  } else {
    if (seqLe(ack, t.iss)) acked = 0;
    // A stretch ACK (a receiver that batches, GRO, or a lost ACK) counts as the ACKs of every second
    // segment it stands for, so that slow start still doubles per round trip, as in Linux, while each
    // call stays within RFC 3465's per-ACK limit of 2·SMSS.
    const step = 2 * t.opts.mss();
    let calls = 0;
    for (; acked > step && calls < STRETCH_ACK_SPLIT; calls++) {
      t.cc.onAck(step, flightBefore, now, calls === 0 ? rttSample : undefined);
      acked -= step;
    }
    t.cc.onAck(acked, flightBefore, now, calls === 0 ? rttSample : undefined);
  }
  if (t.sendFull) expandSendBuffer(c);
  t.dupAcks = 0;
  t.tlpOut = false;
  t.timers.rtoAt = t.sndUna === t.sndMax ? Infinity : now + t.rtt.rto;
  armProbe(c, now);
  if ((t.sendBuf?.length ?? 0) > 0 || t.finQueued) t.host.ready(c);
}

/**
 * Grows a send buffer the app keeps full to twice what the congestion and peer windows let fly, as
 * Linux's tcp_sndbuf_expand: with a buffer no larger than the window, every byte is in flight and
 * the app can only refill once ACKs come back, so the link idles for part of each round trip.
 */
function expandSendBuffer(c: TcpConnection): void {
  const t = c.tcb;
  t.sendFull = false;
  const send = t.sendBuf;
  const max = t.cfg.sendBufferMax;
  if (send === undefined || send.capacity >= max) return;
  const want = 2 * Math.min(t.cc.cwnd, t.sndWnd);
  let size = send.capacity;
  while (size < want && size < max) size *= 2;
  if (size > send.capacity) send.resize(Math.min(size, max));
}

/** A duplicate ACK (RFC 5681 §2): counts towards fast retransmit, or clocks out more in recovery. */
function dupAck(c: TcpConnection, now: number): void {
  const t = c.tcb;
  t.dupAcks++;
  const mss = t.opts.mss();
  if (!t.inRecovery) {
    const lost = t.dupAcks >= 3 ||
      (t.opts.sackOk && t.sack.isLost(t.sndUna, mss));
    // RFC 6582 §3.2 step 2: no new recovery for losses from before the last one ended (without
    // SACK; the scoreboard tells real losses from duplicates of go-back-N resends).
    if (
      lost &&
      (t.opts.sackOk || seqGt(t.sndUna, t.recover) || t.recover === t.iss)
    ) {
      enterRecovery(c, now);
    }
  } else {
    if (!t.opts.sackOk) t.cc.onDuplicateAck?.(now); // RFC 6582 §3.2 step 3
    t.host.ready(c);
  }
}
