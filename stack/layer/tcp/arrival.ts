/**
 * Segment arrival (RFC 9293 §3.10.7, "SEGMENT ARRIVES"): the checks in the RFC's order for SYN-SENT and
 * for the synchronized states, and what the accepted text and FIN do. The fifth check, the ACK field,
 * is `processAck` (`ack.ts`).
 *
 * @module
 */

import { seqAdd, seqGt, seqLe, seqLt, seqSub } from "../../wire/seq.ts";
import { TcpFlags, type TcpRepr } from "../../wire/tcp.ts";
import { processAck } from "./ack.ts";
import { challengeAck, oowAckAllowed } from "./challenge_ack.ts";
import type { TcpConnection } from "./connection.ts";
import {
  armKeepalive,
  becomeEstablished,
  closeWith,
  enterTimeWait,
  sendReset,
} from "./lifecycle.ts";
import { RecvBuffer } from "./recv_buffer.ts";
import { acceptable } from "./segment_check.ts";
import { canReceiveData, TcpState } from "./state.ts";
import { ConnEvent } from "./tcb.ts";

/**
 * Processes one segment addressed to this connection; `bytes` holds its payload. With `lend`, in-order
 * data may stay in `bytes` for the app to read from (see `RecvBuffer`): the caller then calls
 * `settleReceive` before `bytes` changes.
 */
export function segmentArrives(
  c: TcpConnection,
  seg: TcpRepr,
  bytes: Uint8Array,
  now: number,
  lend: boolean,
): void {
  const t = c.tcb;
  t.lend = lend;
  const stats = t.host.stats;
  if (c.state === TcpState.SynSent) {
    synSentArrives(c, seg, now);
    return;
  }
  if (c.state === TcpState.Closed) return;
  const flags = seg.flags;
  const rst = (flags & TcpFlags.RST) !== 0;
  const syn = (flags & TcpFlags.SYN) !== 0;
  let fin = (flags & TcpFlags.FIN) !== 0;
  let seq = seg.seq;
  let payOff = seg.payloadOffset;
  let payLen = seg.payloadLength;

  // PAWS (RFC 7323 §5.3): a timestamp older than TS.Recent marks an old duplicate.
  if (seg.tsVal !== undefined && !rst && t.opts.pawsRejects(seg.tsVal, now)) {
    stats.dropPaws++;
    if (payLen > 0 || fin || oowAckAllowed(c, now)) {
      t.ackNow = true;
      t.host.ready(c);
    }
    return;
  }

  // First check: is the sequence number acceptable (RFC 9293 §3.10.7.4)?
  const rcvWnd = Math.max(t.rcvWindow.size(t.rcvNxt), t.recvFree());
  const segLen = payLen + (syn ? 1 : 0) + (fin ? 1 : 0);
  // The right edge takes a bare ACK (as Linux), but not a RST: RFC 5961 §3.2 drops one that is not
  // strictly inside RCV.NXT .. RCV.NXT+RCV.WND-1, which a blind attacker would otherwise hit.
  const rstAtEdge = rst && rcvWnd > 0 && seq === seqAdd(t.rcvNxt, rcvWnd);
  if (rstAtEdge || !acceptable(seq, segLen, t.rcvNxt, rcvWnd)) {
    if (rcvWnd === 0 && seq === t.rcvNxt) {
      // A zero window still takes valid ACKs and RSTs: process the segment without its text.
      payLen = 0;
      fin = false;
    } else {
      if (!rst) {
        stats.dropOutOfWindow++;
        if (c.state === TcpState.TimeWait && fin) enterTimeWait(c, now);
        // Old data is always answered (the peer's recovery may wait for it); data beyond the
        // window's right edge is rate limited like a pure ACK, else a peer (or a spoofer) that
        // overruns the window draws one ACK per segment (RFC 5961 §10, Linux tcp_invalid_ratelimit).
        if (syn) challengeAck(c, now);
        else if ((segLen > 0 && seqLt(seq, t.rcvNxt)) || oowAckAllowed(c, now)) {
          t.ackNow = true;
          t.host.ready(c);
        }
      }
      return;
    }
  }
  // Trim to the window: drop what was already received and what lies beyond the right edge.
  if (seqLt(seq, t.rcvNxt)) {
    let drop = seqSub(t.rcvNxt, seq);
    if (syn) drop--;
    if (drop > payLen) {
      fin = fin && drop === payLen; // a retransmitted FIN alone stays meaningful
      drop = payLen;
    }
    payOff += drop;
    payLen -= drop;
    seq = t.rcvNxt;
  }
  const room = Math.max(0, rcvWnd - seqSub(seq, t.rcvNxt));
  if (payLen > room) {
    payLen = room;
    fin = false;
  }

  // Second check: RST (RFC 9293 §3.10.7.4, RFC 5961 §3.2: only an exact match resets).
  if (rst) {
    if (seg.seq === t.rcvNxt) {
      stats.rstReceived++;
      resetArrived(c);
    } else {
      challengeAck(c, now);
    }
    return;
  }
  // Fourth check: SYN in a synchronized state or SYN-RECEIVED gets a challenge ACK (RFC 5961 §4).
  if (syn) {
    challengeAck(c, now);
    return;
  }
  // Fifth check: the ACK field.
  if ((flags & TcpFlags.ACK) === 0) {
    stats.dropNoAck++;
    return;
  }
  t.opts.noteTimestamp(seq, seg.tsVal, now);
  if (c.state === TcpState.SynReceived) {
    if (seqLe(seg.ack, t.sndUna) || seqGt(seg.ack, t.sndMax)) {
      sendReset(c, seg.ack);
      return;
    }
    t.sndWnd = seg.window << t.opts.sndWscale;
    t.maxSndWnd = Math.max(t.maxSndWnd, t.sndWnd);
    t.sndWl1 = seg.seq;
    t.sndWl2 = seg.ack;
    ackSynAck(c, seg, now);
    becomeEstablished(c, now);
    if (c.passive) c.events |= ConnEvent.Open;
  }
  if (!processAck(c, seg, payLen, now)) return;
  armKeepalive(c, now);
  if ((c.state as TcpState) === TcpState.Closed) return;

  // Seventh: the segment text.
  if (payLen > 0) {
    if (canReceiveData(c.state)) receiveText(c, seq, bytes, payOff, payLen, now);
    else stats.dropAfterFin++;
  }
  // Eighth: FIN.
  if (fin) {
    const finSeq = seqAdd(seq, payLen);
    if (seqGt(finSeq, t.rcvNxt)) {
      t.pendingFin = finSeq;
      t.ackNow = true;
    } else if (finSeq === t.rcvNxt && !t.finReceived) {
      finArrived(c, now);
    } else {
      t.ackNow = true; // a retransmitted FIN: acknowledge it again
    }
  }
  if (t.pendingFin === t.rcvNxt && !t.finReceived) finArrived(c, now);
  if (t.ackNow) t.host.ready(c);
}

/** RFC 9293 §3.10.7.3: SYN-SENT. */
function synSentArrives(c: TcpConnection, seg: TcpRepr, now: number): void {
  const t = c.tcb;
  const flags = seg.flags;
  const hasAck = (flags & TcpFlags.ACK) !== 0;
  if (hasAck && (seqLe(seg.ack, t.iss) || seqGt(seg.ack, t.sndMax))) {
    if ((flags & TcpFlags.RST) === 0) {
      sendReset(c, seg.ack);
    }
    return;
  }
  if ((flags & TcpFlags.RST) !== 0) {
    if (hasAck) {
      t.host.stats.rstReceived++;
      closeWith(c, "refused");
    }
    return;
  }
  if ((flags & TcpFlags.SYN) === 0) return;
  t.opts.negotiate(seg, now, false);
  t.irs = seg.seq;
  t.rcvNxt = seqAdd(seg.seq, 1);
  t.rcvWindow.reset(t.rcvNxt);
  t.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
  t.maxSndWnd = t.sndWnd;
  t.sndWl1 = seg.seq;
  t.sndWl2 = seg.ack;
  if (t.opts.tsOk) t.opts.lastAckSent = t.rcvNxt;
  if (hasAck) {
    ackSynAck(c, seg, now);
    t.sndUna = seg.ack;
    if (seqLt(t.sndNxt, t.sndUna)) t.sndNxt = t.sndUna;
    t.timers.rtoAt = Infinity;
    becomeEstablished(c, now);
    t.ackNow = true;
  } else {
    // Simultaneous open (RFC 9293 §3.5, Figure 8): answer with SYN,ACK from the same ISS.
    c.state = TcpState.SynReceived;
    t.sndNxt = t.iss;
  }
  t.host.ready(c);
}

/** Takes an RTT sample from the ACK of our SYN, unless the SYN was retransmitted (Karn). */
function ackSynAck(c: TcpConnection, seg: TcpRepr, now: number): void {
  const t = c.tcb;
  if (t.opts.tsOk && seg.tsEcr !== undefined && seg.tsEcr !== 0) {
    const rtt = seqSub(t.opts.tsNow(now), seg.tsEcr);
    if (rtt >= 0) t.rtt.sample(rtt);
  } else if (t.rttSeq !== undefined && t.retries === 0) {
    t.rtt.sample(now - t.rttStart);
  }
  t.rttSeq = undefined;
  t.retries = 0;
  t.rtt.resetBackoff();
}

/** An acceptable RST (second check of RFC 9293 §3.10.7.4): where the connection goes. */
function resetArrived(c: TcpConnection): void {
  switch (c.state) {
    case TcpState.SynReceived:
      // A passive open returns to LISTEN, which for us means forgetting it (RFC 9293 §3.10.7.4).
      closeWith(c, c.passive ? undefined : "refused");
      return;
    case TcpState.Closing:
    case TcpState.LastAck:
    case TcpState.TimeWait:
      closeWith(c, undefined);
      return;
    default:
      closeWith(c, "reset");
  }
}

/** The seventh check: queues in-window text and decides between an immediate and a delayed ACK. */
function receiveText(
  c: TcpConnection,
  seq: number,
  bytes: Uint8Array,
  off: number,
  len: number,
  now: number,
): void {
  const t = c.tcb;
  if (t.readShut) {
    // After close() nobody reads: acknowledge in-order data and drop it.
    if (seq === t.rcvNxt) t.rcvNxt = seqAdd(t.rcvNxt, len);
    t.ackNow = true;
    return;
  }
  const offset = seqSub(seq, t.rcvNxt);
  const recv = t.recvBuf ??= new RecvBuffer(
    t.cfg.recvBufferSize,
    t.cfg.maxOutOfOrderHoles,
  );
  const hadHoles = recv.outOfOrderBytes > 0;
  const refused = recv.refused;
  const n = recv.write(offset, bytes, off, len, t.lend);
  if (recv.refused !== refused) t.host.stats.dropOutOfOrderFull++;
  if (n > 0) {
    t.rcvNxt = seqAdd(t.rcvNxt, n);
    c.events |= ConnEvent.In;
  }
  // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at once out of order, or when a hole fills.
  if (offset > 0 || hadHoles || recv.outOfOrderBytes > 0) {
    t.ackNow = true;
    if (offset > 0) t.host.stats.rxOutOfOrder++;
    return;
  }
  t.ackPending += n;
  if (t.ackPending >= 2 * t.opts.ownMss) t.ackNow = true;
  else if (t.timers.delAckAt === Infinity) t.timers.delAckAt = now + t.cfg.delayedAckMs;
}

/** The eighth check: the peer's FIN, in sequence, closes its direction (RFC 9293 §3.10.7.4). */
function finArrived(c: TcpConnection, now: number): void {
  const t = c.tcb;
  t.finReceived = true;
  t.pendingFin = undefined;
  t.rcvNxt = seqAdd(t.rcvNxt, 1);
  t.ackNow = true;
  c.events |= ConnEvent.In;
  switch (c.state) {
    case TcpState.SynReceived:
    case TcpState.Established:
      c.state = TcpState.CloseWait;
      break;
    case TcpState.FinWait1:
      if (t.finQueued && seqGt(t.sndUna, t.dataEnd())) enterTimeWait(c, now);
      else c.state = TcpState.Closing; // simultaneous close (RFC 9293 Figure 13)
      break;
    case TcpState.FinWait2:
      enterTimeWait(c, now);
      break;
  }
}
