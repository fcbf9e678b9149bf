/**
 * A token bucket on the injected clock, used to rate-limit ICMP errors as RFC 1812 §4.3.2.8 asks: a burst
 * is allowed, then errors are sent at a steady rate and the rest are suppressed (and counted by callers).
 *
 * @module
 */

/** A token bucket: `burst` tokens, refilled at `ratePerSecond`. */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number | undefined;

  /** Creates a full bucket. */
  constructor(ratePerSecond: number, burst: number) {
    this.#rate = Math.max(0, ratePerSecond);
    this.#burst = Math.max(0, burst);
    this.#tokens = this.#burst;
  }

  /** Tokens available at `now` (refills first). */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(now: number): void {
    if (this.#last !== undefined && now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    }
    // A clock that steps back must not mint tokens later.
    if (this.#last === undefined || now > this.#last) this.#last = now;
  }
}
