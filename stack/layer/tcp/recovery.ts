/**
 * Loss recovery: fast retransmit (RFC 6582 NewReno, RFC 6675 SACK), proportional rate reduction
 * (RFC 6937), and loss detection in the manner of RACK-TLP (RFC 8985): lost and lost-again segments
 * found by time, and the tail loss probe's timer.
 *
 * @module
 */

import { seqLt, seqSub } from "../../wire/seq.ts";
import type { TcpConnection } from "./connection.ts";
import { TcpState } from "./state.ts";

const WORST_DELAYED_ACK_MS = 200; // RFC 8985 §7.2 WCDelAckT
const MIN_PTO_MS = 10;

/**
 * Proportional rate reduction (RFC 6937) decides how much recovery may send per ACK: in proportion
 * to what the peer received while the pipe exceeds ssthresh, then slow start back up to it (PRR-SSRB).
 * This keeps the ACK clock going instead of RFC 6675's pause while pipe falls to the new cwnd.
 */
export function prrOnAck(c: TcpConnection, delivered: number): void {
  const t = c.tcb;
  const mss = t.opts.mss();
  t.prrDelivered += delivered;
  const pipe = t.sack.pipe(t.sndUna, t.sndMax, t.highRxt, mss);
  const ssthresh = t.cc.ssthresh;
  if (pipe > ssthresh) {
    const sndcnt = Math.ceil((t.prrDelivered * ssthresh) / Math.max(t.recoverFs, 1)) -
      t.prrOut;
    t.prrAllow = Math.max(0, sndcnt);
  } else {
    // ACKs handled in one poll each add their share before anything is sent.
    const limit = Math.max(t.prrDelivered - t.prrOut, delivered) + mss;
    t.prrAllow = Math.max(0, Math.min(ssthresh - pipe, t.prrAllow + limit));
  }
}

/** Fast retransmit: start loss recovery and resend the first unacknowledged segment. */
export function enterRecovery(c: TcpConnection, now: number): void {
  const t = c.tcb;
  const flight = seqSub(t.sndMax, t.sndUna);
  t.recoverFs = flight;
  t.prrDelivered = 0;
  t.prrOut = 0;
  t.prrAllow = 0;
  t.inRecovery = true;
  t.recover = t.sndMax;
  t.highRxt = t.sndUna;
  t.cc.onEnterRecovery(flight, now, t.opts.sackOk);
  t.timers.tlpAt = Infinity;
  t.rexmitHead = true;
  t.rttSeq = undefined;
  t.host.stats.fastRetransmits++;
  t.host.ready(c);
}

/**
 * Time-based loss detection in the manner of RACK (RFC 8985 §6.2), for the segment at SND.UNA: once
 * the peer SACKs later data, that segment is lost when it was sent more than an RTT plus a reordering
 * window (SRTT/4) ago. This starts recovery when too few segments are in flight for three duplicate
 * ACKs, and finds resent segments that were lost again. A timer covers the wait.
 */
export function rackDetect(c: TcpConnection, now: number): void {
  const t = c.tcb;
  t.timers.rackAt = Infinity;
  if (!t.opts.sackOk || t.sack.highestSacked === undefined) return;
  if (t.sndUna === t.sndMax || c.state === TcpState.Closed) return;
  const resent = t.inRecovery && seqLt(t.sndUna, t.highRxt);
  const sentAt = resent ? t.holeRexmitAt : t.sent?.lookup(t.sndUna);
  if (sentAt === undefined) return;
  const srtt = t.rtt.srtt ?? t.rtt.rto;
  const deadline = sentAt + srtt + Math.max(srtt / 4, 1);
  if (now < deadline) {
    t.timers.rackAt = deadline;
    return;
  }
  if (!t.inRecovery) {
    enterRecovery(c, now);
  } else if (resent) {
    retransmissionLost(c);
  }
}

/**
 * Lost-retransmission detection in the manner of RACK (RFC 8985 §6.2): while SACKs keep arriving, a
 * resent hole at SND.UNA that stays unacknowledged for longer than an RTT plus a reordering allowance
 * was lost again, so NextSeg may pick it once more.
 */
export function detectLostRetransmission(c: TcpConnection, now: number): void {
  const t = c.tcb;
  if (!t.inRecovery || t.holeRexmitAt === undefined) return;
  const srtt = t.rtt.srtt ?? t.rtt.rto;
  if (now - t.holeRexmitAt <= srtt * 1.25 + 2) return;
  if (!seqLt(t.sndUna, t.highRxt)) return;
  retransmissionLost(c);
}

/** The resent hole at SND.UNA was lost again: NextSeg may pick it once more (RFC 8985 §6.2). */
function retransmissionLost(c: TcpConnection): void {
  const t = c.tcb;
  t.highRxt = t.sndUna;
  t.holeRexmitAt = undefined;
  t.host.stats.lostRetransmits++;
  t.host.ready(c);
}

/**
 * Arms the tail loss probe (RFC 8985 §7.2): PTO = 2·SRTT, plus the peer's worst-case delayed-ACK
 * time when only one segment is out, and never later than the RTO. Only with SACK, which tells the
 * probe's ACK apart, and only outside recovery.
 */
export function armProbe(c: TcpConnection, now: number): void {
  const t = c.tcb;
  const flight = seqSub(t.sndMax, t.sndUna);
  if (!t.opts.sackOk || t.inRecovery || t.tlpOut || flight <= 0) {
    t.timers.tlpAt = Infinity;
    return;
  }
  const srtt = t.rtt.srtt;
  let pto = srtt === undefined ? 1000 : 2 * srtt;
  pto += flight <= t.opts.mss() ? WORST_DELAYED_ACK_MS : 2;
  pto = Math.max(pto, MIN_PTO_MS);
  const at = now + pto;
  t.timers.tlpAt = at < t.timers.rtoAt ? at : Infinity;
}
