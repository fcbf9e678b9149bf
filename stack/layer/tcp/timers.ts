/**
 * A connection's deadlines. Nothing here runs by itself: the endpoint polls at `deadline` and the
 * connection handles whichever are due.
 *
 * @module
 */

/** The deadlines of one connection, Infinity when not armed. */
export class ConnTimers {
  /** Retransmission timeout (RFC 6298). */
  rtoAt = Infinity;
  /** Tail loss probe timeout (RFC 8985 §7). */
  tlpAt = Infinity;
  /** RACK reordering-window timeout (RFC 8985 §6.2). */
  rackAt = Infinity;
  /** Delayed ACK (RFC 9293 §3.8.6.3). */
  delAckAt = Infinity;
  /** Zero-window probe (RFC 9293 §3.8.6.1). */
  persistAt = Infinity;
  /** Probes sent since the window closed, for the backoff. */
  persistBackoff = 0;
  /** Keepalive probe (RFC 9293 §3.8.4). */
  keepAt = Infinity;
  /** Unanswered keepalive probes. */
  keepProbes = 0;
  /** TIME-WAIT's 2MSL, or FIN-WAIT-2's limit after a full close. */
  timeWaitAt = Infinity;

  /** The earliest armed deadline, or Infinity. */
  get deadline(): number {
    return Math.min(
      this.rtoAt,
      this.tlpAt,
      this.rackAt,
      this.delAckAt,
      this.persistAt,
      this.keepAt,
      this.timeWaitAt,
    );
  }

  /** Disarms everything (the connection closed). */
  clear(): void {
    this.rtoAt = Infinity;
    this.tlpAt = Infinity;
    this.rackAt = Infinity;
    this.delAckAt = Infinity;
    this.persistAt = Infinity;
    this.keepAt = Infinity;
    this.timeWaitAt = Infinity;
  }
}
