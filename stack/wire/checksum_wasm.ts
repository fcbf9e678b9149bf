/**
 * The Internet checksum's sum in WebAssembly, for buffers that live in a WebAssembly memory (the virtio
 * driver's DMA region, see `stack/nic/virtio/dma.ts`). Under QEMU's TCG, where the VM image runs, the
 * loop below sums 1,492 bytes in 0.37 µs against 2.2 µs for the JavaScript loop of `checksum.ts`
 * (measured under qemu-x86_64; natively 0.1 and 0.2 µs): JavaScript has no 64-bit integers, so each
 * 32-bit word costs two masks and two adds there. Each 64-bit load adds its two 32-bit halves, so a
 * 64-bit accumulator cannot overflow within a 32-bit memory; under TCG every load goes through QEMU's
 * software TLB, and one 64-bit load in place of two 32-bit ones took the sum from 0.68 to 0.37 µs
 * (natively both 0.10 µs). Bytes elsewhere would first have to be copied in (1.1 µs for the same
 * 1,492 bytes), which is why only the DMA memory is made this way.
 *
 * The module, built from this text with wabt's `wat2wasm`:
 *
 * ```wat
 * (module
 *   (import "env" "memory" (memory 1))
 *   ;; The sum of the region [at, at+len) as little-endian 16-bit words (a final odd byte as the low
 *   ;; byte of a word), folded to 16 bits with end-around carry. Loads may be unaligned.
 *   (func (export "sum") (param $at i32) (param $len i32) (result i32)
 *     (local $end i32) (local $blocks i32) (local $acc i64) (local $v i64)
 *     (local.set $end (i32.add (local.get $at) (local.get $len)))
 *     (local.set $blocks (i32.add (local.get $at) (i32.and (local.get $len) (i32.const -32))))
 *     (block $done (loop $loop          ;; 32 bytes per round: four 64-bit loads, halves added
 *       (br_if $done (i32.ge_u (local.get $at) (local.get $blocks)))
 *       (local.set $v (i64.load offset=0 align=1 (local.get $at)))
 *       (local.set $acc (i64.add (i64.add (local.get $acc)
 *         (i64.and (local.get $v) (i64.const 0xffffffff))) (i64.shr_u (local.get $v) (i64.const 32))))
 *       ;; ... the same for offset=8, 16 and 24 ...
 *       (local.set $at (i32.add (local.get $at) (i32.const 32)))
 *       (br $loop)))
 *     (block $words (loop $word         ;; then 4 bytes at a time
 *       (br_if $words (i32.gt_u (i32.add (local.get $at) (i32.const 4)) (local.get $end)))
 *       (local.set $acc (i64.add (local.get $acc) (i64.load32_u align=1 (local.get $at))))
 *       (local.set $at (i32.add (local.get $at) (i32.const 4)))
 *       (br $word)))
 *     (if (i32.le_u (i32.add (local.get $at) (i32.const 2)) (local.get $end)) (then
 *       (local.set $acc (i64.add (local.get $acc) (i64.load16_u align=1 (local.get $at))))
 *       (local.set $at (i32.add (local.get $at) (i32.const 2)))))
 *     (if (i32.lt_u (local.get $at) (local.get $end)) (then
 *       (local.set $acc (i64.add (local.get $acc) (i64.load8_u (local.get $at))))))
 *     ;; 64 -> 33 -> 32 bits, then 32 -> 17 -> 16 bits: acc = (acc & mask) + (acc >> shift), twice each.
 *     (i32.wrap_i64 (local.get $acc))))
 * ```
 *
 * @module
 */

import { sumInWasm } from "./checksum.ts";

const MODULE_BASE64 =
  "AGFzbQEAAAABBwFgAn9/AX8CDwEDZW52Bm1lbW9yeQIAAQMCAQAHBwEDc3VtAAAKsAIBrQICAn8CfiAAIAFqIQIgACABQWBxaiEDAkADQCAAIANPDQEgACkAACEFIAQgBUL/////D4N8IAVCIIh8IQQgACkACCEFIAQgBUL/////D4N8IAVCIIh8IQQgACkAECEFIAQgBUL/////D4N8IAVCIIh8IQQgACkAGCEFIAQgBUL/////D4N8IAVCIIh8IQQgAEEgaiEADAALCwJAA0AgAEEEaiACSw0BIAQgADUAAHwhBCAAQQRqIQAMAAsLIABBAmogAk0EQCAEIAAzAAB8IQQgAEECaiEACyAAIAJJBEAgBCAAMQAAfCEECyAEQv////8PgyAEQiCIfCEEIARC/////w+DIARCIIh8IQQgBEL//wODIARCEIh8IQQgBEL//wODIARCEIh8IQQgBKcL";

let compiled: WebAssembly.Module | undefined;

/**
 * A WebAssembly memory of at least `bytes` bytes (fixed: it never grows, so views into it stay valid)
 * over which `onesSum` runs in WebAssembly, or `undefined` where WebAssembly is unavailable. The most
 * recent such memory is the one summed in WebAssembly (a process has one DMA region).
 */
export function checksumMemory(bytes: number): WebAssembly.Memory | undefined {
  if (typeof WebAssembly !== "object") return undefined;
  compiled ??= new WebAssembly.Module(
    Uint8Array.from(atob(MODULE_BASE64), (c) => c.charCodeAt(0)),
  );
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(compiled, { env: { memory } });
  sumInWasm(memory.buffer, instance.exports.sum as (at: number, length: number) => number);
  return memory;
}
