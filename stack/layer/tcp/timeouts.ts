/**
 * What a connection does when its deadlines (`ConnTimers`) fall due: delayed ACK, retransmission timeout
 * (RFC 6298) with go-back-N, RACK's reordering window, tail loss probe, zero-window probe, keepalive,
 * and the end of TIME-WAIT or FIN-WAIT-2.
 *
 * @module
 */

import { seqSub } from "../../wire/seq.ts";
import type { TcpConnection } from "./connection.ts";
import { closeWith, sendReset } from "./lifecycle.ts";
import { rackDetect } from "./recovery.ts";
import { isSynchronized, TcpState } from "./state.ts";

/** Runs every deadline that is due at `now`. */
export function onTimer(c: TcpConnection, now: number): void {
  const t = c.tcb;
  if (t.timers.timeWaitAt <= now) {
    closeWith(c, undefined);
    return;
  }
  if (t.timers.delAckAt <= now) {
    t.timers.delAckAt = Infinity;
    t.ackNow = true;
    t.host.ready(c);
  }
  if (t.timers.rtoAt <= now) retransmitTimeout(c, now);
  if (t.timers.rackAt <= now) rackDetect(c, now);
  if (t.timers.tlpAt <= now) {
    t.timers.tlpAt = Infinity;
    if (!t.inRecovery && t.sndMax !== t.sndUna) {
      t.tlpProbe = true;
      t.tlpOut = true;
      t.host.stats.tailLossProbes++;
      t.host.ready(c);
    }
  }
  if (t.timers.persistAt <= now) {
    // RFC 9293 §3.8.6.1: probe the zero window, backing off like the RTO, while the peer answers.
    // Like Linux's tcp_probe_timer, a peer that stops answering times out after maxRetries probes,
    // and a connection the app closed (an orphan) is reset after orphanRetries probes whatever the
    // peer answers, so that no peer can pin its buffers with a window held at zero.
    const orphan = t.readShut && t.finQueued;
    if (
      t.probesOut >= t.cfg.maxRetries ||
      (orphan && t.timers.persistBackoff >= t.cfg.orphanRetries)
    ) {
      t.host.stats.timeouts++;
      if (orphan) {
        sendReset(c, t.sndNxt);
      }
      closeWith(c, "timedOut");
      return;
    }
    t.probesOut++;
    t.probe = true;
    t.timers.persistBackoff = Math.min(t.timers.persistBackoff + 1, 16);
    t.timers.persistAt = now +
      Math.min(t.rtt.rto * 2 ** t.timers.persistBackoff, t.cfg.maxRtoMs);
    t.host.stats.windowProbes++;
    t.host.ready(c);
  }
  if (t.timers.keepAt <= now) {
    if (t.timers.keepProbes >= t.cfg.keepaliveProbes) {
      closeWith(c, "timedOut");
      return;
    }
    t.timers.keepProbes++;
    t.probe = true;
    t.timers.keepAt = now + t.cfg.keepaliveIntervalMs;
    t.host.stats.keepaliveProbes++;
    t.host.ready(c);
  }
}

/** The retransmission timer expired (RFC 6298 §5.4-§5.7): back off and resend from SND.UNA. */
function retransmitTimeout(c: TcpConnection, now: number): void {
  const t = c.tcb;
  if (t.sndUna === t.sndMax) {
    t.timers.rtoAt = Infinity;
    return;
  }
  t.retries++;
  const limit = c.state === TcpState.SynSent
    ? t.cfg.synRetries
    : c.state === TcpState.SynReceived
    ? t.cfg.synAckRetries
    : t.cfg.maxRetries;
  if (t.retries > limit) {
    t.host.stats.timeouts++;
    closeWith(c, c.passive && c.state === TcpState.SynReceived ? undefined : "timedOut");
    return;
  }
  t.host.stats.rtoExpired++;
  t.rtt.backoff();
  if (isSynchronized(c.state)) {
    t.cc.onRetransmitTimeout(seqSub(t.sndMax, t.sndUna), now);
  }
  // Go back N: resend from the oldest unacknowledged byte, and start no fast recovery for losses from
  // before this point (RFC 6582 §3.2 step 1 uses `recover` for that).
  t.inRecovery = false;
  t.dupAcks = 0;
  t.rexmitHead = false;
  t.recover = t.sndMax;
  t.sack.reset(t.sndUna);
  t.sndNxt = t.sndUna;
  t.highRxt = t.sndUna;
  t.rttSeq = undefined;
  t.rexmitTs = t.opts.tsNow(now);
  t.timers.tlpAt = Infinity;
  t.timers.rackAt = Infinity;
  t.tlpProbe = false;
  t.timers.rtoAt = now + t.rtt.rto;
  t.host.ready(c);
}
