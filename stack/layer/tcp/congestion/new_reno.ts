/**
 * NewReno congestion control: RFC 5681 slow start and congestion avoidance with appropriate byte
 * counting (RFC 3465, L = 2*SMSS), and RFC 6582 fast recovery (see `controller.ts` for the model).
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

/** RFC 5681 / RFC 6582 NewReno. */
export class NewReno implements CongestionController {
  /** The algorithm's name. */
  readonly name = "newreno";
  #mss: number;
  #cwnd: number;
  #ssthresh = INITIAL_SSTHRESH;
  #bytesAcked = 0;
  #inRecovery = false;
  #sackRecovery = false;
  #afterTimeout = false;

  /** A controller for sender MSS `mss`, at its initial window. */
  constructor(mss: number) {
    this.#mss = mss;
    this.#cwnd = initialWindow(mss);
  }

  /** The congestion window in bytes. */
  get cwnd(): number {
    return this.#cwnd;
  }

  /** The slow-start threshold in bytes. */
  get ssthresh(): number {
    return this.#ssthresh;
  }

  /** Starts over with the initial window. */
  init(mss: number, _now: number): void {
    this.#mss = mss;
    this.#cwnd = initialWindow(mss);
    this.#ssthresh = INITIAL_SSTHRESH;
    this.#bytesAcked = 0;
    this.#inRecovery = false;
    this.#afterTimeout = false;
  }

  /** Slow start below ssthresh, one SMSS per window of acknowledged bytes above it. */
  onAck(ackedBytes: number, inFlightBefore: number, _now: number, _rttMs?: number): void {
    this.#afterTimeout = false;
    if (ackedBytes <= 0) return;
    const mss = this.#mss;
    if (!isCwndLimited(this.#cwnd, this.#ssthresh, inFlightBefore, mss)) return;
    if (this.#cwnd < this.#ssthresh) {
      // RFC 3465 §2.2: at most L = 2*SMSS per ACK, so stretch ACKs cannot cause bursts.
      this.#cwnd += Math.min(ackedBytes, 2 * mss);
      return;
    }
    // RFC 5681 §3.1 / RFC 3465 §2.1: one SMSS each time a full cwnd of bytes has been acknowledged.
    this.#bytesAcked += ackedBytes;
    if (this.#bytesAcked >= this.#cwnd) {
      this.#bytesAcked -= this.#cwnd;
      this.#cwnd += mss;
    }
  }

  /** RFC 5681 §3.2 step 2 (eq. 4) for ssthresh; RFC 6582 step 2 or RFC 6675 §5 for cwnd. */
  onEnterRecovery(inFlight: number, _now: number, sack = false): void {
    this.#ssthresh = Math.max(Math.floor(inFlight / 2), 2 * this.#mss);
    this.#cwnd = recoveryEntryWindow(this.#ssthresh, this.#mss, sack);
    this.#inRecovery = true;
    this.#sackRecovery = sack;
    this.#bytesAcked = 0;
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

  /** Deflates cwnd to ssthresh (RFC 6582 §3.2 step 6, option 2). */
  onExitRecovery(_now: number): void {
    if (!this.#inRecovery) return;
    this.#inRecovery = false;
    this.#cwnd = this.#ssthresh;
  }

  /** cwnd = 1 SMSS; ssthresh halves FlightSize, except on a repeated timeout (RFC 5681 §3.1). */
  onRetransmitTimeout(inFlight: number, _now: number): void {
    if (!this.#afterTimeout) {
      this.#ssthresh = Math.max(Math.floor(inFlight / 2), 2 * this.#mss);
    }
    this.#afterTimeout = true;
    this.#inRecovery = false;
    this.#cwnd = this.#mss;
    this.#bytesAcked = 0;
  }

  /** RFC 5681 §4.1: cwnd = min(IW, cwnd) after an idle period longer than the RTO. */
  onIdleRestart(_now: number, _rtoMs: number): void {
    this.#cwnd = Math.min(this.#cwnd, initialWindow(this.#mss));
  }
}

/** A factory for `TcpConfig.congestion`. */
export function newReno(mss: number): NewReno {
  return new NewReno(mss);
}
