/**
 * The pluggable congestion-control interface: the connection reports ACKs, losses and timeouts, and
 * reads back the congestion window (`cwnd`) and slow-start threshold (`ssthresh`), both in bytes.
 *
 * Recovery follows one model for every controller. On entry (`onEnterRecovery`) the controller sets
 * `ssthresh` to its post-loss window. Then:
 * - a sender without SACK uses RFC 6582 (NewReno) window inflation: `cwnd = ssthresh + 3*SMSS` on
 *   entry, `onDuplicateAck` adds SMSS per further duplicate ACK, `onRecoveryAck` deflates it by the
 *   newly acknowledged bytes on a partial ACK, and the sender compares FlightSize with `cwnd`;
 * - a SACK sender (`onEnterRecovery(..., true)`) uses RFC 6675 §5: `cwnd = ssthresh` and the sender
 *   compares its `pipe` estimate with `cwnd`; it does not call `onDuplicateAck`, and partial ACKs leave
 *   `cwnd` unchanged.
 * `onExitRecovery` (the ACK covering the recovery point) sets `cwnd = ssthresh` in both cases.
 *
 * @module
 */

/** A congestion controller for one connection; all windows are in bytes, times in ms. */
export interface CongestionController {
  /** The algorithm's name ("newreno", "cubic"). */
  readonly name: string;
  /** The congestion window in bytes. */
  readonly cwnd: number;
  /** The slow-start threshold in bytes. */
  readonly ssthresh: number;
  /** Starts (or restarts) with the initial window for this sender MSS. */
  init(mss: number, now: number): void;
  /**
   * New data was acknowledged outside recovery. `inFlightBefore` is FlightSize before this ACK: the
   * window only grows while the sender actually uses it (RFC 7661 §4.3, RFC 9438 §5.8).
   */
  onAck(ackedBytes: number, inFlightBefore: number, now: number, rttMs?: number): void;
  /** Fast retransmit: three duplicate ACKs or an RFC 6675 loss; `inFlight` is FlightSize. */
  onEnterRecovery(inFlight: number, now: number, sack?: boolean): void;
  /** A further duplicate ACK in non-SACK recovery (RFC 5681 §3.2 step 4: inflate by SMSS). */
  onDuplicateAck?(now: number): void;
  /** A partial ACK in recovery (RFC 6582 §3.2 step 5). */
  onRecoveryAck(ackedBytes: number, now: number): void;
  /** Recovery ended with a full ACK (RFC 6582 §3.2 step 6). */
  onExitRecovery(now: number): void;
  /** The retransmission timer expired: `cwnd` = 1 SMSS (RFC 5681 §3.1, eq. 4 for ssthresh). */
  onRetransmitTimeout(inFlight: number, now: number): void;
  /** The connection was idle for more than an RTO (RFC 5681 §4.1): restart from the initial window. */
  onIdleRestart?(now: number, rtoMs: number): void;
}

/** Makes a controller for a connection whose sender MSS is `mss`. */
export type CongestionFactory = (mss: number) => CongestionController;

/** The "arbitrarily high" initial ssthresh (RFC 5681 §3.1). */
export const INITIAL_SSTHRESH = 0x7fffffff;

/** The initial window of RFC 6928 §2 (about ten segments), as Linux uses. */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/**
 * Whether the sender is limited by `cwnd` rather than by the application, so that growing the window
 * is justified (RFC 7661 §4.3). In slow start half a window in flight is enough, as in Linux's
 * `tcp_is_cwnd_limited`, since the window doubles each round trip; later a few segments of slack.
 */
export function isCwndLimited(
  cwnd: number,
  ssthresh: number,
  inFlightBefore: number,
  mss: number,
): boolean {
  if (cwnd < ssthresh && 2 * inFlightBefore >= cwnd) return true;
  return inFlightBefore + 3 * mss >= cwnd;
}

/**
 * cwnd on entering recovery: ssthresh + 3*SMSS for window inflation (RFC 6582 §3.2 step 2), or just
 * ssthresh for a SACK sender, which counts `pipe` instead (RFC 6675 §5).
 */
export function recoveryEntryWindow(ssthresh: number, mss: number, sack: boolean): number {
  return sack ? ssthresh : ssthresh + 3 * mss;
}

/**
 * cwnd after a partial ACK in non-SACK recovery (RFC 6582 §3.2 step 5): deflated by the newly
 * acknowledged bytes (never below SMSS), with SMSS given back if at least SMSS was acknowledged.
 */
export function partialAckWindow(cwnd: number, ackedBytes: number, mss: number): number {
  const deflated = Math.max(cwnd - ackedBytes, mss);
  return ackedBytes >= mss ? deflated + mss : deflated;
}
