/**
 * The ACKs a connection sends in answer to segments it does not accept, and their rate limits: challenge
 * ACKs (RFC 5961 §3-§5, at most `challengeAckLimit` a second per connection, §7) and ACKs to
 * out-of-window segments (at most one per 500 ms, as Linux's tcp_invalid_ratelimit).
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";

const OOW_ACK_INTERVAL_MS = 500;

/**
 * Rate limit for ACKs answering out-of-window segments without data (Linux's tcp_invalid_ratelimit):
 * two stacks that disagree about the window must not trade such ACKs forever. Data segments are always
 * answered, since the peer's recovery may depend on it.
 */
export function oowAckAllowed(c: TcpConnection, now: number): boolean {
  const t = c.tcb;
  if (now - t.lastOowAckAt < OOW_ACK_INTERVAL_MS) {
    t.host.stats.oowAcksSuppressed++;
    return false;
  }
  t.lastOowAckAt = now;
  return true;
}

/** Asks for an ACK that tells the peer our sequence numbers, within RFC 5961 §7's rate limit. */
export function challengeAck(c: TcpConnection, now: number): void {
  const t = c.tcb;
  const stats = t.host.stats;
  const second = Math.floor(now / 1000);
  if (second !== t.challengeSecond) {
    t.challengeSecond = second;
    t.challengeCount = 0;
  }
  if (t.challengeCount++ < t.host.challengeAckLimit) {
    stats.challengeAcks++;
    t.ackNow = true;
    t.host.ready(c);
  } else {
    stats.challengeAcksSuppressed++;
  }
}
