/**
 * The region bookkeeping every wire view shares: the `bytes`/`offset`/`length` triple, the unchecked
 * constructor, and the check that the region lies inside its buffer.
 *
 * @module
 */

import { WireError } from "./error.ts";

/** The base of the wire views: a reusable window `bytes[offset .. offset + length)`. */
export abstract class WireView {
  /** The buffer holding the packet. */
  bytes: Uint8Array;
  /** Where the packet starts in `bytes`. */
  offset: number;
  /** The region length; a view's length fields say how much of it the packet uses. */
  length: number;

  /** Wraps a region without checking it; call `check()` before trusting the getters. */
  constructor(bytes: Uint8Array = new Uint8Array(0), offset = 0, length = bytes.length - offset) {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
  }

  /**
   * Re-targets the view at another region, unchecked. Each view writes its own: one body shared by
   * every view class sees all their hidden classes, so its stores go megamorphic and wrap-and-check
   * runs at half the speed (measured over the eight views).
   */
  abstract wrap(bytes: Uint8Array, offset?: number, length?: number): this;

  /**
   * A "truncated" error when the region does not lie inside the buffer (negative offset or length, or
   * an end past the buffer), its message starting with `what` ("Cannot parse UDP header").
   */
  protected checkRegion(what: string): WireError | undefined {
    if (this.offset < 0 || this.length < 0 || this.offset + this.length > this.bytes.length) {
      return new WireError(
        "truncated",
        `${what}: region ${this.offset}+${this.length} is outside the ${this.bytes.length}-byte buffer`,
      );
    }
    return undefined;
  }
}
