/**
 * CUBIC congestion control (RFC 9438): after a loss the window follows W_cubic(t) = C*(t-K)^3 + W_max
 * in segments, with t the time since the congestion-avoidance epoch began, rising fast far from the
 * last loss window W_max and flattening near it. A Reno-friendly estimate W_est keeps it at least as
 * fast as Reno on short, slow paths. Slow start and recovery are as in `new_reno.ts`; optionally the
 * initial slow start uses RFC 9406 HyStart++ (RFC 9438 §4.10).
 *
 * @module
 */

import {
  type CongestionController,
  INITIAL_SSTHRESH,
  initialWindow,
  isCwndLimited,
  partialAckWindow,
  recoveryEntryWindow,
} from "./controller.ts";

/** RFC 9438 §5.1: the multiplicative decrease factor. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §5.1: the scaling constant C, in segments per second cubed. */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.3: Reno-friendly additive increase per RTT, 3(1-beta)/(1+beta). */
const ALPHA_CUBIC = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 eq. 2: the time in seconds for the window to grow from `cwndEpoch` back to `wMax`. */
export function cubicK(wMax: number, cwndEpoch: number): number {
  return wMax <= cwndEpoch ? 0 : Math.cbrt((wMax - cwndEpoch) / CUBIC_C);
}

/** RFC 9438 eq. 1: the window in segments `t` seconds into the epoch. */
export function cubicWindow(t: number, k: number, wMax: number): number {
  const d = t - k;
  return CUBIC_C * d * d * d + wMax;
}

/** Settings of a `Cubic` controller. */
export interface CubicOptions {
  /** RFC 9438 §4.7 fast convergence (on by default, as in Linux). */
  fastConvergence?: boolean;
  /**
   * Leave the initial slow start early when the RTT grows, with RFC 9406 HyStart++ (off by default).
   * It needs an RTT sample on most ACKs, i.e. timestamps.
   */
  hystart?: boolean;
}

// RFC 9406 §4.3 constants.
const MIN_RTT_THRESH = 4;
const MAX_RTT_THRESH = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;
/** Segments one ACK may add to cwnd without pacing. */
const HYSTART_L = 8;

/**
 * RFC 9406 HyStart++ for the initial slow start. Rounds are counted in bytes: a round ends once the
 * bytes in flight when it began are acknowledged (the controller does not see sequence numbers).
 */
export class HyStartPlusPlus {
  #roundLeft = 0;
  #lastRoundMinRtt = Infinity;
  #currentRoundMinRtt = Infinity;
  #samples = 0;
  #cssBaselineMinRtt = Infinity;
  #cssRounds = 0;

  /** In conservative slow start (CSS). */
  get inCss(): boolean {
    return this.#cssBaselineMinRtt !== Infinity;
  }

  /**
   * The cwnd increase for one slow-start ACK, or -1 when slow start should end now (ssthresh =
   * cwnd): after CSS_ROUNDS rounds of conservative slow start.
   */
  onAck(
    ackedBytes: number,
    inFlightBefore: number,
    mss: number,
    rttMs: number | undefined,
  ): number {
    this.#roundLeft -= ackedBytes;
    if (this.#roundLeft <= 0) {
      // A new round (RFC 9406 §4.2: when the ACK passes windowEnd).
      this.#roundLeft = Math.max(1, inFlightBefore - ackedBytes);
      this.#lastRoundMinRtt = this.#currentRoundMinRtt;
      this.#currentRoundMinRtt = Infinity;
      this.#samples = 0;
      if (this.inCss && ++this.#cssRounds >= CSS_ROUNDS) return -1;
    }
    if (rttMs !== undefined && rttMs >= 0) {
      this.#currentRoundMinRtt = Math.min(this.#currentRoundMinRtt, rttMs);
      this.#samples++;
    }
    const increase = Math.min(ackedBytes, HYSTART_L * mss);
    if (!this.inCss) {
      if (
        this.#samples >= N_RTT_SAMPLE && this.#currentRoundMinRtt !== Infinity &&
        this.#lastRoundMinRtt !== Infinity
      ) {
        const thresh = Math.max(
          MIN_RTT_THRESH,
          Math.min(this.#lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH),
        );
        if (this.#currentRoundMinRtt >= this.#lastRoundMinRtt + thresh) {
          this.#cssBaselineMinRtt = this.#currentRoundMinRtt;
          this.#cssRounds = 0;
        }
      }
      return this.inCss ? increase / CSS_GROWTH_DIVISOR : increase;
    }
    // RFC 9406 §4.2: an RTT back below the baseline means the increase was spurious.
    if (this.#samples >= N_RTT_SAMPLE && this.#currentRoundMinRtt < this.#cssBaselineMinRtt) {
      this.#cssBaselineMinRtt = Infinity;
      return increase;
    }
    return increase / CSS_GROWTH_DIVISOR;
  }
}

/** RFC 9438 CUBIC. */
export class Cubic implements CongestionController {
  /** The algorithm's name. */
  readonly name = "cubic";
  #mss: number;
  #fastConvergence: boolean;
  // The window is kept fractional so that sub-byte increments per ACK add up.
  #cwnd: number;
  #ssthresh = INITIAL_SSTHRESH;
  #inRecovery = false;
  #sackRecovery = false;
  #afterTimeout = false;
  // Congestion-avoidance epoch, all windows in segments.
  #epochStart: number | undefined = undefined;
  #k = 0;
  #wMax: number | undefined = undefined;
  #wEst = 0;
  #cwndPrior = 0;
  #minRtt: number | undefined = undefined;
  #useHystart: boolean;
  // Present during the initial slow start only.
  #hystart: HyStartPlusPlus | undefined;

  /** A controller for sender MSS `mss`, at its initial window. */
  constructor(mss: number, opts: CubicOptions = {}) {
    this.#mss = mss;
    this.#cwnd = initialWindow(mss);
    this.#fastConvergence = opts.fastConvergence ?? true;
    this.#useHystart = opts.hystart ?? false;
    this.#hystart = this.#useHystart ? new HyStartPlusPlus() : undefined;
  }

  /** The congestion window in bytes. */
  get cwnd(): number {
    return Math.floor(this.#cwnd);
  }

  /** The slow-start threshold in bytes. */
  get ssthresh(): number {
    return this.#ssthresh;
  }

  /** W_max in segments: the window at the last loss (after fast convergence), if any. */
  get wMax(): number | undefined {
    return this.#wMax;
  }

  /** K in seconds for the current epoch (0 before one starts). */
  get k(): number {
    return this.#k;
  }

  /** Starts over with the initial window. */
  init(mss: number, _now: number): void {
    this.#mss = mss;
    this.#cwnd = initialWindow(mss);
    this.#ssthresh = INITIAL_SSTHRESH;
    this.#inRecovery = false;
    this.#afterTimeout = false;
    this.#epochStart = undefined;
    this.#k = 0;
    this.#wMax = undefined;
    this.#wEst = 0;
    this.#cwndPrior = 0;
    this.#minRtt = undefined;
    this.#hystart = this.#useHystart ? new HyStartPlusPlus() : undefined;
  }

  /** In HyStart++'s conservative slow start. */
  get inConservativeSlowStart(): boolean {
    return this.#hystart?.inCss ?? false;
  }

  /** Slow start below ssthresh; the cubic curve (or W_est, if higher) above it. */
  onAck(ackedBytes: number, inFlightBefore: number, now: number, rttMs?: number): void {
    this.#afterTimeout = false;
    if (rttMs !== undefined && rttMs >= 0 && (this.#minRtt === undefined || rttMs < this.#minRtt)) {
      this.#minRtt = rttMs;
    }
    if (ackedBytes <= 0) return;
    const mss = this.#mss;
    // RFC 9438 §5.8: no growth while the application, not cwnd, limits the flight.
    if (!isCwndLimited(this.#cwnd, this.#ssthresh, inFlightBefore, mss)) return;
    if (this.#cwnd < this.#ssthresh) {
      if (this.#hystart === undefined) {
        this.#cwnd += Math.min(ackedBytes, 2 * mss); // RFC 3465 §2.2, L = 2*SMSS
        return;
      }
      const increase = this.#hystart.onAck(ackedBytes, inFlightBefore, mss, rttMs);
      if (increase >= 0) {
        this.#cwnd += increase;
        return;
      }
      // HyStart++ ends slow start: congestion avoidance from here (RFC 9406 §4.2).
      this.#ssthresh = Math.floor(this.#cwnd);
      this.#hystart = undefined;
    }
    const cwnd = this.#cwnd / mss;
    if (this.#epochStart === undefined) this.#startEpoch(now, cwnd);
    const t = (now - this.#epochStart!) / 1000;
    const acked = ackedBytes / mss;
    // RFC 9438 §4.3: W_est grows like Reno with alpha_cubic until it passes the pre-loss window.
    const alpha = this.#wEst >= this.#cwndPrior ? 1 : ALPHA_CUBIC;
    this.#wEst += (alpha * acked) / cwnd;
    const wMax = this.#wMax!;
    if (cubicWindow(t, this.#k, wMax) < this.#wEst) {
      // The Reno-friendly region.
      this.#cwnd = Math.max(this.#cwnd, this.#wEst * mss);
      return;
    }
    // RFC 9438 §4.4/§4.5: aim one RTT ahead, clamped to [cwnd, 1.5 cwnd].
    const rtt = (this.#minRtt ?? 0) / 1000;
    const target = Math.min(Math.max(cubicWindow(t + rtt, this.#k, wMax), cwnd), 1.5 * cwnd);
    this.#cwnd += ((target - cwnd) / cwnd) * acked * mss;
  }

  /** RFC 9438 §4.6 and §4.7: ssthresh = beta*cwnd, W_max with fast convergence. */
  onEnterRecovery(_inFlight: number, _now: number, sack = false): void {
    this.#reduce();
    this.#cwnd = recoveryEntryWindow(this.#ssthresh, this.#mss, sack);
    this.#inRecovery = true;
    this.#sackRecovery = sack;
  }

  /** Inflates cwnd by SMSS for a further duplicate ACK (RFC 6582 §3.2 step 4). */
  onDuplicateAck(_now: number): void {
    if (this.#inRecovery && !this.#sackRecovery) this.#cwnd += this.#mss;
  }

  /** Deflates cwnd by the newly acknowledged bytes, giving back SMSS if at least SMSS was acked. */
  onRecoveryAck(ackedBytes: number, _now: number): void {
    if (!this.#inRecovery || this.#sackRecovery) return;
    this.#cwnd = partialAckWindow(this.#cwnd, ackedBytes, this.#mss);
  }

  /** cwnd = ssthresh; the next ACK starts a congestion-avoidance epoch. */
  onExitRecovery(_now: number): void {
    if (!this.#inRecovery) return;
    this.#inRecovery = false;
    this.#cwnd = this.#ssthresh;
    this.#epochStart = undefined;
  }

  /**
   * RFC 9438 §4.8: ssthresh as on a loss (once per series of timeouts), cwnd = 1 SMSS, and the next
   * epoch starts with K = 0 and W_max = the window at its start.
   */
  onRetransmitTimeout(_inFlight: number, _now: number): void {
    if (!this.#afterTimeout) this.#reduce();
    this.#afterTimeout = true;
    this.#wMax = undefined;
    this.#inRecovery = false;
    this.#cwnd = this.#mss;
  }

  /** RFC 5681 §4.1: cwnd = min(IW, cwnd) after an idle period; a new epoch starts on the next ACK. */
  onIdleRestart(_now: number, _rtoMs: number): void {
    this.#cwnd = Math.min(this.#cwnd, initialWindow(this.#mss));
    this.#epochStart = undefined;
  }

  #reduce(): void {
    const mss = this.#mss;
    this.#hystart = undefined; // only the initial slow start uses it
    const cwnd = this.#cwnd / mss;
    this.#epochStart = undefined;
    // RFC 9438 §4.7: a flow losing below its previous W_max releases bandwidth for newer flows.
    if (this.#fastConvergence && this.#wMax !== undefined && cwnd < this.#wMax) {
      this.#wMax = (cwnd * (1 + CUBIC_BETA)) / 2;
    } else {
      this.#wMax = cwnd;
    }
    this.#cwndPrior = cwnd;
    this.#ssthresh = Math.max(Math.floor(this.#cwnd * CUBIC_BETA), 2 * mss);
  }

  #startEpoch(now: number, cwnd: number): void {
    this.#epochStart = now;
    if (this.#wMax === undefined || this.#wMax < cwnd) this.#wMax = cwnd;
    this.#k = cubicK(this.#wMax, cwnd);
    this.#wEst = cwnd;
  }
}

/** A factory for `TcpConfig.congestion`. */
export function cubic(mss: number): Cubic {
  return new Cubic(mss);
}
