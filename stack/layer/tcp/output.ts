/**
 * Output: what a connection sends when the endpoint polls it. SYN and SYN,ACK; then per segment, in
 * order of precedence, the tail loss probe, the fast retransmit of SND.UNA, SACK holes (RFC 6675 with
 * PRR), and new data within the peer's and the congestion window (sender SWS avoidance, Nagle, TSO
 * frames); then probes and bare ACKs. Each segment is built in place by the endpoint's `SegmentTx`.
 *
 * @module
 */

import { seqAdd, seqGt, seqLe, seqLt, seqMax, seqSub } from "../../wire/seq.ts";
import { TcpFlags, type TcpRepr } from "../../wire/tcp.ts";
import type { TcpConnection } from "./connection.ts";
import type { TcpIpSender } from "./ip.ts";
import { armProbe } from "./recovery.ts";
import { SendTimes } from "./send_times.ts";
import { TcpState } from "./state.ts";

// `ip.mtu` is already the IP payload size, so only the TCP header comes off it (RFC 9293 §3.7.1).
const TCP_HEADER = 20;
const SEGMENT_BUDGET = 512; // segments one connection may send per poll, to keep polls bounded

/** Sends every segment that is due; false when the IP layer had no buffer (retry on a later poll). */
export function transmit(c: TcpConnection, now: number, ip: TcpIpSender): boolean {
  const t = c.tcb;
  if (c.state === TcpState.Closed) return true;
  t.opts.ipMtu = ip.mtu;
  if (c.state === TcpState.SynSent || c.state === TcpState.SynReceived) {
    if (t.sndNxt === t.iss) {
      if (!sendSyn(c, ip, now)) return false;
    } else if (t.ackNow && c.state === TcpState.SynReceived) {
      if (!sendBare(c, ip, now, ackSeq(c))) return false;
    }
    t.ackNow = false;
    return true;
  }
  if (c.state === TcpState.TimeWait) {
    if (t.ackNow && !sendBare(c, ip, now, ackSeq(c))) return false;
    return true;
  }
  let sentAny = false;
  let budget = SEGMENT_BUDGET;
  for (; budget > 0; budget--) {
    const sent = sendNext(c, ip, now);
    if (sent < 0) return false;
    if (sent === 0) break;
    sentAny = true;
  }
  if (budget === 0) t.host.ready(c); // more may be due: continue on the next poll
  if (t.probe) {
    // A zero-window or keepalive probe: an old sequence number that the peer must acknowledge.
    if (!sendBare(c, ip, now, seqAdd(t.sndUna, -1))) return false;
    t.probe = false;
  }
  if (t.ackNow && !sentAny) {
    if (!sendBare(c, ip, now, ackSeq(c))) return false;
  }
  return true;
}

/** Sends one segment if one is due: 1 when sent, 0 when nothing is due, -1 when the IP layer is busy. */
function sendNext(c: TcpConnection, ip: TcpIpSender, now: number): number {
  const t = c.tcb;
  const mss = t.opts.mss();
  const dataEnd = t.dataEnd();
  let probeNew = false;
  if (t.tlpProbe) {
    t.tlpProbe = false;
    const peerRoom = seqSub(seqAdd(t.sndUna, t.sndWnd), t.sndNxt);
    if (seqLt(t.sndNxt, dataEnd) && peerRoom > 0 && t.sndNxt === t.sndMax) {
      probeNew = true; // RFC 8985 §7.3: a new segment is the best probe
    } else {
      const sent = sendLastSegment(c, ip, now, mss, dataEnd);
      if (sent !== 0) return sent;
    }
  }
  if (t.rexmitHead) {
    t.rexmitHead = false;
    const sentEnd = seqLt(t.sndMax, dataEnd) ? t.sndMax : dataEnd;
    const len = Math.min(mss, Math.max(0, seqSub(sentEnd, t.sndUna)));
    const fin = t.finQueued && seqGt(t.sndMax, dataEnd) &&
      seqAdd(t.sndUna, len) === dataEnd;
    if (len > 0 || fin) {
      const sent = sendData(c, ip, now, t.sndUna, len, fin);
      if (sent < 0) {
        t.rexmitHead = true;
        return -1;
      }
      t.highRxt = seqMax(t.highRxt, seqAdd(t.sndUna, sent + (fin ? 1 : 0)));
      t.host.stats.retransmits++;
      return 1;
    }
  }
  const cwnd = t.cc.cwnd;
  let ccRoom: number;
  if (t.inRecovery && t.opts.sackOk) {
    // RFC 6675 §5 with the amount PRR allows (RFC 6937 §3) in place of cwnd - pipe.
    ccRoom = t.prrAllow > 0 ? Math.max(t.prrAllow, mss) : 0;
    if (ccRoom <= 0) return 0;
    const hole = t.sack.nextSegmentToRetransmit(
      t.sndUna,
      t.sndMax,
      t.highRxt,
      mss,
    );
    if (hole !== undefined) {
      const sent = sendHole(c, ip, now, hole, mss, dataEnd);
      if (sent !== 0) return sent;
    }
  } else {
    // RFC 3042 limited transmit: the first two duplicate ACKs each release one new segment.
    const limited = t.inRecovery ? 0 : Math.min(t.dupAcks, 2) * mss;
    ccRoom = cwnd + limited - seqSub(t.sndNxt, t.sndUna);
  }
  // New data (or data again after a timeout, sndNxt < sndMax).
  const remaining = Math.max(0, seqSub(dataEnd, t.sndNxt));
  const finPending = t.finQueued && seqLe(t.sndNxt, dataEnd);
  if (remaining === 0 && !finPending) {
    if (t.inRecovery && t.opts.sackOk) {
      // RFC 6675 NextSeg rule 3: no new data, so resend a hole that is not yet deemed lost.
      const hole = t.sack.nextSegmentToRetransmit(
        t.sndUna,
        t.sndMax,
        t.highRxt,
        mss,
        true,
      );
      if (hole !== undefined) return sendHole(c, ip, now, hole, mss, dataEnd);
    }
    return 0;
  }
  const flight = seqSub(t.sndNxt, t.sndUna);
  const peerRoom = seqSub(seqAdd(t.sndUna, t.sndWnd), t.sndNxt);
  if (probeNew) ccRoom = Math.max(ccRoom, mss);
  let len = Math.min(mss, remaining, peerRoom, ccRoom);
  if (len < 0) len = 0;
  const retransmitting = seqLt(t.sndNxt, t.sndMax);
  if (len === mss && !retransmitting && !probeNew && !t.inRecovery) {
    len = tsoLength(c, mss, Math.min(remaining, peerRoom, ccRoom), remaining, finPending);
  }
  if (remaining > 0 && len === 0) {
    if (peerRoom <= 0 && flight === 0 && t.timers.persistAt === Infinity) {
      t.timers.persistAt = now + t.rtt.rto;
    }
    return 0;
  }
  if (len < remaining && len < mss && !probeNew) {
    // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): wait for a full segment or half the largest window.
    if (flight > 0 && len < (t.maxSndWnd >>> 1)) return 0;
    if (flight > 0 && ccRoom < peerRoom) return 0;
  }
  if (
    len === remaining && len > 0 && len < mss && !t.noDelay && flight > 0 &&
    !retransmitting && !finPending && !probeNew
  ) {
    return 0; // Nagle: a small segment waits while data is unacknowledged
  }
  if (flight === 0 && !retransmitting && now - t.lastDataSentAt > t.rtt.rto) {
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the initial window.
    if (t.lastDataSentAt !== -Infinity) t.cc.onIdleRestart?.(now, t.rtt.rto);
  }
  const fin = finPending && len === remaining;
  const seq = t.sndNxt;
  const sent = sendData(c, ip, now, seq, len, fin);
  if (sent < 0) return -1;
  const end = seqAdd(seq, sent + (fin && sent === len ? 1 : 0));
  t.sndNxt = end;
  if (retransmitting) t.host.stats.retransmits++;
  if (seqGt(end, t.sndMax)) {
    t.sndMax = end;
    if (!t.opts.tsOk && t.rttSeq === undefined && !retransmitting) {
      t.rttSeq = seq;
      t.rttStart = now;
    }
  }
  if (t.timers.rtoAt === Infinity || probeNew) t.timers.rtoAt = now + t.rtt.rto;
  if (!probeNew) armProbe(c, now);
  return 1;
}

/**
 * The payload of a new-data frame when the NIC does TSO (`NicCaps.tsoMaxBytes`): whole MSS multiples
 * within `room`, so the NIC's segments are what MSS-sized sends would have been. A shorter tail joins
 * only at the end of the data and only where Nagle would let it go at once (no Nagle or a FIN), the
 * way Linux's `tcp_mss_split_point` cuts it off. Only when the NIC's cut (the MTU less the headers)
 * is the MSS; `sendData` checks that against the real header.
 */
function tsoLength(
  c: TcpConnection,
  mss: number,
  room: number,
  remaining: number,
  finPending: boolean,
): number {
  const t = c.tcb;
  const tso = t.host.tx.tsoMaxBytes;
  if (tso <= mss || room <= mss) return mss;
  // A peer MSS below the MTU's: the NIC's cut would exceed it.
  if (t.opts.peerMss < t.opts.ipMtu - TCP_HEADER) return mss;
  const most = Math.min(room, tso);
  if (most === remaining && (t.noDelay || finPending)) return most;
  return most - most % mss;
}

/** The tail loss probe's resend (RFC 8985 §7.3): the last segment sent. 1 sent, 0 none, -1 busy. */
function sendLastSegment(
  c: TcpConnection,
  ip: TcpIpSender,
  now: number,
  mss: number,
  dataEnd: number,
): number {
  const t = c.tcb;
  const sentEnd = seqLt(t.sndMax, dataEnd) ? t.sndMax : dataEnd;
  const fin = t.finQueued && seqGt(t.sndMax, dataEnd);
  const start = seqMax(t.sndUna, seqAdd(sentEnd, -mss));
  const len = Math.max(0, seqSub(sentEnd, start));
  if (len === 0 && !fin) return 0;
  const sent = sendData(c, ip, now, start, len, fin);
  if (sent < 0) return -1;
  t.host.stats.retransmits++;
  t.timers.rtoAt = now + t.rtt.rto;
  return 1;
}

/** Retransmits the hole at `hole` up to the next SACKed range: 1 sent, 0 nothing, -1 busy. */
function sendHole(
  c: TcpConnection,
  ip: TcpIpSender,
  now: number,
  hole: number,
  mss: number,
  dataEnd: number,
): number {
  const t = c.tcb;
  const len = Math.min(
    t.sack.segmentLength(hole, t.sndMax, mss),
    Math.max(0, seqSub(dataEnd, hole)),
  );
  const fin = t.finQueued && seqAdd(hole, len) === dataEnd && seqGt(t.sndMax, dataEnd);
  if (len === 0 && !fin) return 0;
  const sent = sendData(c, ip, now, hole, len, fin);
  if (sent < 0) return -1;
  t.highRxt = seqAdd(hole, Math.max(1, sent + (fin ? 1 : 0)));
  t.host.stats.retransmits++;
  return 1;
}

/** Sends data [seq, seq+len) with an optional FIN; returns the payload length sent, or -1 when busy. */
function sendData(
  c: TcpConnection,
  ip: TcpIpSender,
  now: number,
  seq: number,
  len: number,
  fin: boolean,
): number {
  const t = c.tcb;
  const tx = t.host.tx;
  let flags = TcpFlags.ACK;
  const repr = tx.begin(c.localPort, c.remotePort, seq, t.rcvNxt, flags, 0);
  addOptions(c, repr, now);
  repr.window = windowField(c);
  // Options (SACK blocks) may leave less room than the MSS: never exceed the path MTU. A TSO frame
  // may, when the NIC's cut (the MTU less these headers) is exactly the MSS.
  const cap = t.opts.ipMtu - repr.headerLength;
  if (len > cap && !(len <= t.host.tx.tsoMaxBytes && cap === t.opts.mss())) {
    len = Math.min(cap, t.opts.mss());
    fin = false;
  }
  if (len > 0 && seqAdd(seq, len) === t.dataEnd()) flags |= TcpFlags.PSH;
  if (fin) flags |= TcpFlags.FIN;
  repr.flags = flags;
  const from = seqSub(seq, t.sndBufSeq);
  const result = tx.send(ip, c.localAddr, c.remoteAddr, t.sendBuf, from, len);
  if (result === "busy") return -1;
  if (t.inRecovery && t.opts.sackOk) {
    t.prrOut += len;
    t.prrAllow -= len;
  }
  if (len > 0) {
    t.lastDataSentAt = now;
    if (!seqLt(seq, t.sndMax)) {
      (t.sent ??= new SendTimes(1024)).record(seq, seqAdd(seq, len), now);
    }
  }
  if (seq === t.sndUna && seqLt(seq, t.sndMax) && t.inRecovery) {
    t.holeRexmitAt = now;
  }
  afterSend(c, now, len > 0);
  return len;
}

/**
 * The sequence number of a bare ACK, as Linux's `tcp_acceptable_seq`: SND.MAX rather than a SND.NXT
 * pulled back by a timeout (the peer may hold everything below SND.MAX, and an older number would be
 * unacceptable to it, RFC 9293 §3.10.7.4), but never past the right edge of the peer's window, which
 * a zero window would make unacceptable too.
 */
function ackSeq(c: TcpConnection): number {
  const t = c.tcb;
  const windowEnd = seqAdd(t.sndUna, t.sndWnd);
  return seqLt(windowEnd, t.sndMax) ? windowEnd : t.sndMax;
}

/** Sends a segment without data (an ACK, window update or probe) at `seq`. */
function sendBare(c: TcpConnection, ip: TcpIpSender, now: number, seq: number): boolean {
  const t = c.tcb;
  const tx = t.host.tx;
  const repr = tx.begin(c.localPort, c.remotePort, seq, t.rcvNxt, TcpFlags.ACK, 0);
  addOptions(c, repr, now);
  repr.window = windowField(c);
  const result = tx.send(ip, c.localAddr, c.remoteAddr);
  if (result === "busy") return false;
  afterSend(c, now, false);
  return true;
}

/** Sends our SYN, or the SYN,ACK of a passive or simultaneous open, with the options we offer. */
function sendSyn(c: TcpConnection, ip: TcpIpSender, now: number): boolean {
  const t = c.tcb;
  const tx = t.host.tx;
  const synAck = c.state === TcpState.SynReceived;
  t.opts.ownMss = Math.min(t.cfg.maxMss, ip.mtu - TCP_HEADER);
  const repr = tx.begin(
    c.localPort,
    c.remotePort,
    t.iss,
    synAck ? t.rcvNxt : 0,
    synAck ? TcpFlags.SYN | TcpFlags.ACK : TcpFlags.SYN,
    Math.min(t.recvFree(), 0xffff),
  );
  repr.mss = t.opts.ownMss;
  if (t.opts.offerWs) repr.windowScale = t.opts.rcvWscale;
  const sack = synAck ? t.opts.sackOk : t.cfg.sack;
  const ts = synAck ? t.opts.tsOk : t.cfg.timestamps;
  repr.sackPermitted = sack;
  if (ts) {
    repr.tsVal = t.opts.tsNow(now);
    repr.tsEcr = synAck ? t.opts.tsRecent : 0;
  }
  const result = tx.send(ip, c.localAddr, c.remoteAddr);
  if (result === "busy") return false;
  t.host.stats.txSegments++;
  if (t.retries > 0) t.host.stats.retransmits++;
  t.sndNxt = seqAdd(t.iss, 1);
  t.sndMax = t.sndNxt;
  if (synAck) {
    t.rcvWindow.commitSyn(t.rcvNxt, repr.window);
    t.opts.lastAckSent = t.rcvNxt;
  }
  if (t.retries === 0 && t.rttSeq === undefined) {
    t.rttSeq = t.iss;
    t.rttStart = now;
  }
  if (t.timers.rtoAt === Infinity) t.timers.rtoAt = now + t.rtt.rto;
  return true;
}

/** Adds the timestamp (RFC 7323 §3) and the SACK blocks of out-of-order data (RFC 2018) to a segment. */
function addOptions(c: TcpConnection, repr: TcpRepr, now: number): void {
  const t = c.tcb;
  if (t.opts.tsOk) {
    repr.tsVal = t.opts.tsNow(now);
    repr.tsEcr = t.opts.tsRecent;
  }
  if (t.opts.sackOk && t.recvBuf !== undefined && t.recvBuf.outOfOrderBytes > 0) {
    const out = t.sackOut;
    out.length = 0;
    t.recvBuf.sackBlocks(t.rcvNxt, out);
    for (let i = 0; i < out.length; i++) repr.sackBlocks.push(out[i] >>> 0);
  }
}

/** Records that an ACK of rcvNxt with the pending window went out. */
function afterSend(c: TcpConnection, now: number, data: boolean): void {
  const t = c.tcb;
  const stats = t.host.stats;
  stats.txSegments++;
  if (data) stats.txDataSegments++;
  t.rcvWindow.commit();
  t.opts.lastAckSent = t.rcvNxt;
  t.ackNow = false;
  t.ackPending = 0;
  t.timers.delAckAt = Infinity;
  if (t.timers.keepAt !== Infinity && t.timers.keepProbes === 0 && data) {
    t.timers.keepAt = now + t.cfg.keepaliveIdleMs;
  }
}

/**
 * The window field to advertise (RFC 7323 §2.3 scaled), with receiver SWS avoidance: the right edge
 * only moves by at least min(half the buffer, one MSS), and never moves left (RFC 9293 §3.8.6.2.2).
 */
function windowField(c: TcpConnection): number {
  const t = c.tcb;
  const step = Math.min(t.cfg.recvBufferSize >>> 1, t.opts.ownMss);
  return t.rcvWindow.field(t.rcvNxt, t.recvFree(), t.opts.rcvWscale, step);
}
