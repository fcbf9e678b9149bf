/**
 * Copies bytes between buffers without allocating: `Uint8Array.set` needs a `subarray` view (an object
 * per call) to copy part of a buffer, so short copies, the common case on the hot path, use a loop.
 *
 * @module
 */

/** Below this many bytes a loop beats creating a subarray view for `set`. */
const LOOP_LIMIT = 256;

/** Copies `length` bytes from `src[srcOffset..]` to `dst[dstOffset..]` (the regions must not overlap). */
export function copyBytes(
  src: Uint8Array,
  srcOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (length <= LOOP_LIMIT) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
  }
}
