/**
 * The Internet checksum (RFC 1071) and its helpers. The sum is byte-order independent (RFC 1071 §2(B)),
 * so the bulk of a buffer is summed as native 32-bit words, two 16-bit halves per word, and the result is
 * byte-swapped once at the end. That needs 4-byte alignment of `bytes.byteOffset + offset`; the unaligned
 * head and tail are summed bytewise. Over the WebAssembly memory that holds the virtio DMA region the
 * sum runs in WebAssembly instead (`checksum_wasm.ts`).
 *
 * @module
 */

/**
 * How an emit writes a transport checksum: in full, as the folded pseudo-header sum that a NIC with
 * offload completes (virtio `NEEDS_CSUM`), or not at all (zero).
 */
export type ChecksumMode = "full" | "pseudo" | "none";

/** Below this many bytes the word path's setup costs more than it saves. */
const WORD_PATH_MIN = 32;

/** True on little-endian hosts (every platform Deno ships for, but the code does not assume it). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// One Uint32Array per ArrayBuffer, created once: NIC rings reuse a few big buffers, so after warm-up the
// hot path allocates nothing. The last buffer is checked first because consecutive calls usually share it.
let lastBuffer: ArrayBufferLike | undefined;
let lastWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array<ArrayBufferLike>>();

function wordsOf(
  buffer: ArrayBufferLike,
  endByte: number,
): Uint32Array<ArrayBufferLike> | undefined {
  if (buffer === lastBuffer && lastWords.length * 4 >= endByte) return lastWords;
  let words = wordViews.get(buffer);
  if (words === undefined || words.length * 4 < endByte) {
    // A resizable buffer may have grown since the view was made; a detached one has no bytes.
    if (buffer.byteLength < endByte) return undefined;
    words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, words);
  }
  lastBuffer = buffer;
  lastWords = words;
  return words;
}

// The memory whose sums run in WebAssembly (`checksum_wasm.ts`), and its summing function.
let wasmBuffer: ArrayBufferLike | undefined;
let wasmSum: (at: number, length: number) => number = () => 0;
/** Below this many bytes the call into WebAssembly costs more than it saves. */
const WASM_MIN = 64;

/**
 * Makes `onesSum` over views of `buffer` call `sum(byteOffset, length)`, which returns the region's
 * folded sum of little-endian 16-bit words (used by `checksum_wasm.ts`).
 */
export function sumInWasm(
  buffer: ArrayBufferLike,
  sum: (at: number, length: number) => number,
): void {
  wasmBuffer = buffer;
  wasmSum = sum;
}

/** Folds any non-negative integer sum to 16 bits with end-around carry (0 stays 0, else 1..0xffff). */
export function foldSum(sum: number): number {
  return sum === 0 ? 0 : ((sum - 1) % 0xffff) + 1;
}

function swap16(x: number): number {
  return ((x & 0xff) << 8) | (x >>> 8);
}

/** Big-endian 16-bit words from `start`, a final odd byte taken as the high byte (RFC 1071 padding). */
function sumBytes(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return sum;
}

/**
 * The ones'-complement sum of `bytes[offset..offset+length)` plus `initial`, folded to 16 bits but not
 * complemented. Partial sums add up (then fold) when each region starts at an even distance from the
 * start of the checksummed data.
 */
export function onesSum(bytes: Uint8Array, offset: number, length: number, initial = 0): number {
  // Short regions, and regions reaching outside the view (whose missing bytes count as zero, never as
  // the neighbouring bytes of the underlying buffer), take the byte path.
  if (length < WORD_PATH_MIN || offset < 0 || offset + length > bytes.length) {
    // A bare TCP header (a pure ACK) or an IPv4 header: the unrolled sum.
    if (length === 20 && offset >= 0 && offset + 20 <= bytes.length) {
      return foldSum(initial + headerSum20(bytes, offset));
    }
    return foldSum(initial + sumBytes(bytes, offset, offset + length));
  }
  if (bytes.buffer === wasmBuffer && length >= WASM_MIN) {
    // WebAssembly memory is little-endian on every host: the swapped sum is the big-endian one.
    return foldSum(initial + swap16(wasmSum(bytes.byteOffset + offset, length)));
  }
  const absolute = bytes.byteOffset + offset;
  const head = (4 - (absolute & 3)) & 3;
  const firstWord = (absolute + head) >>> 2;
  const wordCount = (length - head) >>> 2;
  const words = wordsOf(bytes.buffer, (firstWord + wordCount) * 4);
  if (words === undefined) return foldSum(initial + sumBytes(bytes, offset, offset + length));

  // Adding the 16-bit halves (not the 32-bit words) keeps the sums small integers. Eight words per
  // round: under QEMU's TCG, where the VM image runs, the loop's own compare, branch and counter cost
  // as much as the sums (1460 bytes: 3.2 µs one word per round, 2.3 µs eight, measured under
  // qemu-x86_64; natively 0.23 and 0.21 µs). Within a block the sums cannot pass 2^31, so `| 0` lets
  // V8 add without overflow checks (under qemu-x86_64 3.2 → 2.7 µs per 1,492 bytes, natively −7 %).
  let sum = 0;
  let w = firstWord;
  const endWord = firstWord + wordCount;
  while (w < endWord) {
    // Int32 sums that cannot overflow (at most 16384 words of two 16-bit halves per block), so the
    // adds need no overflow checks; the blocks are added as doubles.
    const blockEnd = Math.min(endWord, w + 16384);
    let low = 0;
    let high = 0;
    for (; w + 8 <= blockEnd; w += 8) {
      const a = words[w];
      const b = words[w + 1];
      const c = words[w + 2];
      const d = words[w + 3];
      const e = words[w + 4];
      const f = words[w + 5];
      const g = words[w + 6];
      const h = words[w + 7];
      low = (low + (a & 0xffff) + (b & 0xffff) + (c & 0xffff) + (d & 0xffff) + (e & 0xffff) +
        (f & 0xffff) + (g & 0xffff) + (h & 0xffff)) | 0;
      high = (high + (a >>> 16) + (b >>> 16) + (c >>> 16) + (d >>> 16) + (e >>> 16) + (f >>> 16) +
        (g >>> 16) + (h >>> 16)) | 0;
    }
    for (; w < blockEnd; w++) {
      const word = words[w];
      low = (low + (word & 0xffff)) | 0;
      high = (high + (word >>> 16)) | 0;
    }
    sum += low + high;
  }
  // On a little-endian host the word sum is the byte-swapped big-endian sum of data starting at `head`;
  // data starting at an odd position is itself byte-swapped relative to the region (RFC 1071 §2(B)).
  let middle = foldSum(sum);
  if (LITTLE_ENDIAN === ((head & 1) === 0)) middle = swap16(middle);

  const tailStart = offset + head + wordCount * 4;
  let tail = foldSum(sumBytes(bytes, tailStart, offset + length));
  if (head & 1) tail = swap16(tail);

  return foldSum(initial + sumBytes(bytes, offset, offset + head) + middle + tail);
}

/**
 * The folded sum of the 20 bytes at `at` (an IPv4 header without options, or a bare TCP header),
 * unrolled: every datagram sent or received sums one, and for so few bytes the general loop's setup
 * and modulo cost more than the adds (under qemu-x86_64 0.18 → 0.04 µs per header; natively 0.015 →
 * 0.007 µs). The bytes must lie inside `bytes`. Ten 16-bit words sum below 2^20, so two
 * end-around-carry folds reach 16 bits.
 */
function headerSum20(bytes: Uint8Array, at: number): number {
  let sum = ((bytes[at] << 8) | bytes[at + 1]) + ((bytes[at + 2] << 8) | bytes[at + 3]) +
    ((bytes[at + 4] << 8) | bytes[at + 5]) + ((bytes[at + 6] << 8) | bytes[at + 7]) +
    ((bytes[at + 8] << 8) | bytes[at + 9]) + ((bytes[at + 10] << 8) | bytes[at + 11]) +
    ((bytes[at + 12] << 8) | bytes[at + 13]) + ((bytes[at + 14] << 8) | bytes[at + 15]) +
    ((bytes[at + 16] << 8) | bytes[at + 17]) + ((bytes[at + 18] << 8) | bytes[at + 19]);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** The RFC 1071 checksum of `bytes[offset..offset+length)`: the complemented 16-bit sum (0 when valid). */
export function internetChecksum(
  bytes: Uint8Array,
  offset: number,
  length: number,
  initial = 0,
): number {
  return ~onesSum(bytes, offset, length, initial) & 0xffff;
}

/** The folded sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768) for a TCP/UDP checksum. */
export function pseudoHeaderSum(
  src: number,
  dst: number,
  protocol: number,
  length: number,
): number {
  return foldSum(
    (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length,
  );
}

/**
 * The checksum after one 16-bit word of the covered data changes from `oldWord` to `newWord`, without
 * summing the data again (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
 */
export function updateChecksum16(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(sum) & 0xffff;
}

/** `updateChecksum16` for a 32-bit field (an IPv4 address in a pseudo-header, for NAT-style rewrites). */
export function updateChecksum32(oldChecksum: number, oldValue: number, newValue: number): number {
  const sum = (~oldChecksum & 0xffff) + (~(oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) +
    (newValue >>> 16) + (newValue & 0xffff);
  return ~foldSum(sum) & 0xffff;
}
