/**
 * The receive window we advertise: scaled (RFC 7323 §2.3), with receiver-side silly window syndrome
 * avoidance, and a right edge that never moves left (RFC 9293 §3.8.6.2.2).
 *
 * @module
 */

import { seqAdd, seqLe, seqLt, seqMax, seqSub } from "../../wire/seq.ts";

/** The advertised window's right edge. */
export class ReceiveWindow {
  /** The right edge last advertised (RCV.NXT + RCV.WND of the last segment sent). */
  right = 0;
  #pending = 0;

  /** Starts with nothing advertised yet: the edge sits at `rcvNxt`. */
  reset(rcvNxt: number): void {
    this.right = rcvNxt;
    this.#pending = rcvNxt;
  }

  /**
   * The window field for a segment about to go out. The edge only moves when it can move by `step`
   * (min(half the buffer, one MSS)); `free` is the buffer's free space. Call `commit` once it is sent.
   */
  field(rcvNxt: number, free: number, scale: number, step: number): number {
    let right = seqAdd(rcvNxt, Math.min(free, 0xffff << scale));
    const current = seqMax(this.right, rcvNxt);
    if (seqLt(right, current) || seqSub(right, current) < step) right = current;
    const field = Math.min(seqSub(right, rcvNxt) >>> scale, 0xffff);
    this.#pending = seqAdd(rcvNxt, field << scale);
    if (seqLt(this.#pending, this.right) && seqLe(this.right, right)) {
      this.#pending = this.right; // rounding by the scale never retracts the edge
    }
    return field;
  }

  /** Records that the segment with the last `field` went out. */
  commit(): void {
    this.right = this.#pending;
  }

  /** Records an unscaled SYN window. */
  commitSyn(rcvNxt: number, window: number): void {
    this.right = seqAdd(rcvNxt, window);
  }

  /** How far the edge could move now (negative when it could not move at all). */
  growth(rcvNxt: number, free: number, scale: number): number {
    return seqSub(seqAdd(rcvNxt, Math.min(free, 0xffff << scale)), this.right);
  }

  /** The window currently advertised beyond `rcvNxt` (0 when the edge is behind it). */
  size(rcvNxt: number): number {
    return Math.max(0, seqSub(this.right, rcvNxt));
  }
}
