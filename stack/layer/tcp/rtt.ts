/**
 * The retransmission timer's estimate per RFC 6298: smoothed RTT and RTT variance from samples, the RTO
 * derived from them, and exponential backoff after a timeout. Karn's rule (§3: no samples from
 * retransmitted segments unless timestamps disambiguate them) is the caller's duty.
 *
 * @module
 */

/** Settings of an `RttEstimator`, all in milliseconds. */
export interface RttOptions {
  /** The RTO before the first sample (RFC 6298 §2.1: 1 s). */
  initialRtoMs?: number;
  /** The RTO's lower bound (RFC 6298 §2.4 says 1 s; Linux uses 200 ms). */
  minRtoMs?: number;
  /** The RTO's upper bound, backoff included (RFC 6298 §2.5 allows at least 60 s). */
  maxRtoMs?: number;
  /** The clock granularity G of RFC 6298 §2. */
  granularityMs?: number;
}

// RFC 6298 §2.3: alpha = 1/8, beta = 1/4, K = 4.
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;

/** An RFC 6298 round-trip-time estimator and retransmission timeout. */
export class RttEstimator {
  #srtt: number | undefined = undefined;
  #rttvar = 0;
  #baseRto: number;
  #backoffs = 0;
  #minRto: number;
  #maxRto: number;
  #granularity: number;

  /** Starts with the initial RTO and no samples. */
  constructor(opts: RttOptions = {}) {
    this.#minRto = opts.minRtoMs ?? 200;
    this.#maxRto = opts.maxRtoMs ?? 120_000;
    this.#granularity = opts.granularityMs ?? 1;
    this.#baseRto = Math.min(Math.max(opts.initialRtoMs ?? 1000, this.#minRto), this.#maxRto);
  }

  /** Feeds one RTT measurement (RFC 6298 §2.2 for the first, §2.3 for later ones). */
  sample(rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    if (this.#srtt === undefined) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      // RTTVAR is updated first, with the old SRTT (RFC 6298 §2.3).
      this.#rttvar = (1 - BETA) * this.#rttvar + BETA * Math.abs(this.#srtt - rttMs);
      this.#srtt = (1 - ALPHA) * this.#srtt + ALPHA * rttMs;
    }
    const rto = this.#srtt + Math.max(this.#granularity, K * this.#rttvar);
    this.#baseRto = Math.min(Math.max(rto, this.#minRto), this.#maxRto);
  }

  /** The current retransmission timeout, backoff included. */
  get rto(): number {
    return Math.min(this.#baseRto * 2 ** this.#backoffs, this.#maxRto);
  }

  /** The smoothed RTT, or `undefined` before the first sample. */
  get srtt(): number | undefined {
    return this.#srtt;
  }

  /** The RTT variance estimate (0 before the first sample). */
  get rttvar(): number {
    return this.#rttvar;
  }

  /** How many times the timer has been backed off since the last reset. */
  get backoffs(): number {
    return this.#backoffs;
  }

  /** Doubles the RTO after a retransmission timeout (RFC 6298 §5.5), up to the maximum. */
  backoff(): void {
    // Stop counting once the cap is reached so that 2 ** n stays finite.
    if (this.rto < this.#maxRto) this.#backoffs++;
  }

  /** Drops the backoff, e.g. when an ACK for new data arrives (RFC 6298 §5.7 discussion). */
  resetBackoff(): void {
    this.#backoffs = 0;
  }
}
