/**
 * Wrapping 32-bit sequence-number arithmetic (RFC 793 §3.3, RFC 1982 serial numbers). Values are
 * unsigned 32-bit numbers; comparisons look at the signed 32-bit difference, so they hold across the wrap
 * as long as the two numbers are less than 2^31 apart.
 *
 * @module
 */

/** `a + n` modulo 2^32 (n may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance `a - b` in [-2^31, 2^31). */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** `a` comes before `b`. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** `a` comes before or equals `b`. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** `a` comes after `b`. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** `a` comes after or equals `b`. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** The later of `a` and `b`. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a >>> 0 : b >>> 0;
}

/** The earlier of `a` and `b`. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a >>> 0 : b >>> 0;
}

/** `start <= x < start + size` in sequence space; an empty window (size 0) contains nothing. */
export function seqInWindow(x: number, start: number, size: number): boolean {
  // The unsigned offset of x from start: one comparison covers both window edges across the wrap.
  return ((x - start) >>> 0) < size;
}
