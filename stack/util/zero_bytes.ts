/**
 * Zeroes a short run of bytes on the hot path. `Uint8Array.prototype.fill` with a range is one of V8's
 * C++ builtins, not inlined by the JIT: ~30 ns per call natively and ~0.3 µs under QEMU's TCG (where the
 * VM image runs), against ~8 ns and ~0.05 µs for a loop over the 12 bytes of a virtio-net header.
 *
 * @module
 */

/** Below this many bytes a loop beats the `fill` builtin. */
const LOOP_LIMIT = 64;

/** Sets `bytes[start..end)` to zero. */
export function zeroBytes(bytes: Uint8Array, start: number, end: number): void {
  if (end - start <= LOOP_LIMIT) {
    for (let i = start; i < end; i++) bytes[i] = 0;
  } else {
    bytes.fill(0, start, end);
  }
}
