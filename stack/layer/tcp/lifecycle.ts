/**
 * The state changes that segment arrival, ACK processing, timers and app calls share: reaching
 * ESTABLISHED, TIME-WAIT and CLOSED, the keepalive and FIN-WAIT-2 deadlines, the RST a connection sends
 * on its own four-tuple, and the buffers a closing connection gives back.
 *
 * @module
 */

import { TcpFlags } from "../../wire/tcp.ts";
import { cubic } from "./congestion/cubic.ts";
import type { TcpCloseReason, TcpConnection } from "./connection.ts";
import { isSynchronized, TcpState } from "./state.ts";
import { ConnEvent } from "./tcb.ts";

/** Enters ESTABLISHED (or FIN-WAIT-1 when the app already closed): congestion control starts here. */
export function becomeEstablished(c: TcpConnection, now: number): void {
  const t = c.tcb;
  c.state = t.finQueued ? TcpState.FinWait1 : TcpState.Established;
  t.retries = 0;
  t.cc = (t.cfg.congestion ?? cubic)(t.opts.mss());
  t.cc.init(t.opts.mss(), now);
  t.sack.reset(t.sndUna);
  armKeepalive(c, now);
  c.events |= ConnEvent.In;
  if (t.finQueued) t.host.ready(c);
}

/** Restarts the keepalive idle time: the connection was active at `now` (RFC 9293 §3.8.4). */
export function armKeepalive(c: TcpConnection, now: number): void {
  const t = c.tcb;
  t.lastActivity = now;
  t.timers.keepProbes = 0;
  if (t.cfg.keepalive && isSynchronized(c.state) && c.state !== TcpState.TimeWait) {
    t.timers.keepAt = now + t.cfg.keepaliveIdleMs;
  }
}

/**
 * After a full close nobody will read, so FIN-WAIT-2 must not last forever when the peer never sends
 * its FIN (RFC 9293 §3.10.7.4 leaves it open; Linux times it out). `now` NaN keeps the base time.
 */
export function armFinWait2(c: TcpConnection, now: number): void {
  const t = c.tcb;
  if (!t.readShut) return;
  const base = Number.isNaN(now) ? t.lastActivity : now;
  t.timers.timeWaitAt = base + t.cfg.finWait2TimeoutMs;
}

/** Enters TIME-WAIT (RFC 9293 §3.10.7.4): the buffers go, the four-tuple stays taken for `timeWaitMs`. */
export function enterTimeWait(c: TcpConnection, now: number): void {
  const t = c.tcb;
  c.state = TcpState.TimeWait;
  releaseBuffers(c);
  t.timers.timeWaitAt = now + t.cfg.timeWaitMs;
  t.timers.rtoAt = Infinity;
  t.timers.persistAt = Infinity;
  t.timers.keepAt = Infinity;
  c.events |= ConnEvent.In;
}

/** Enters CLOSED, recording `reason` when it ended abnormally; the endpoint then drops it. */
export function closeWith(c: TcpConnection, reason: TcpCloseReason | undefined): void {
  const t = c.tcb;
  if (c.state === TcpState.Closed) return;
  c.state = TcpState.Closed;
  if (reason !== undefined && c.error === undefined) c.error = reason;
  t.timers.clear();
  releaseBuffers(c);
  t.ackNow = false;
  t.probe = false;
  c.events |= ConnEvent.Closed | ConnEvent.In;
  t.host.ready(c);
}

/** Drops buffers that a closing connection no longer needs. */
export function releaseBuffers(c: TcpConnection): void {
  const t = c.tcb;
  const closed = c.state === TcpState.Closed;
  const send = t.sendBuf;
  if (send !== undefined && (closed || (send.length === 0 && t.finQueued))) {
    t.sendBuf = undefined;
    t.sent = undefined;
  }
  const recv = t.recvBuf;
  if (recv !== undefined && recv.readable === 0 && (closed || t.finReceived)) {
    t.recvBuf = undefined;
  }
}

/** Sends the peer a bare RST with sequence number `seq` on this connection's four-tuple. */
export function sendReset(c: TcpConnection, seq: number): void {
  c.tcb.host.control(
    c.localAddr,
    c.localPort,
    c.remoteAddr,
    c.remotePort,
    seq,
    0,
    TcpFlags.RST,
  );
}
