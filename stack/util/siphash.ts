/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), the keyed hash behind
 * RFC 6528 initial sequence numbers and SYN cookies. The 64-bit lanes are kept as pairs of unsigned
 * 32-bit halves so that hashing needs neither BigInt nor allocation.
 *
 * @module
 */

/** The last result's halves, read by the exported wrappers right after `hash` returns. */
let resultLo = 0;
let resultHi = 0;

/** SipHash-2-4 of `data[0 .. length)` under a 16-byte key: the low 32 bits of the 64-bit result. */
export function siphash24(key: Uint8Array, data: Uint8Array, length: number = data.length): number {
  hash(key, data, length);
  return resultLo;
}

/**
 * SipHash-2-4 of `data[0 .. length)` with both halves: writes the low 32 bits to `out[0]` and the high
 * 32 bits to `out[1]` (the 64-bit result, little-endian on the wire, is `out[1] * 2^32 + out[0]`).
 */
export function siphash24Pair(
  key: Uint8Array,
  data: Uint8Array,
  length: number,
  out: Uint32Array,
): void {
  hash(key, data, length);
  out[0] = resultLo;
  out[1] = resultHi;
}

/**
 * The whole hash in one function so that the state lives in local variables: message block b is
 * absorbed with 2 rounds (c = 2), then 4 finalisation rounds follow (d = 4). The single round body
 * below runs on a schedule instead of being called, since a call could not return 8 halves.
 */
function hash(key: Uint8Array, data: Uint8Array, length: number): void {
  if (key.length < 16) throw new RangeError(`SipHash needs a 16-byte key, got ${key.length} bytes`);
  if (length > data.length) throw new RangeError(`Cannot hash ${length} bytes of ${data.length}`);
  const k0l = le32(key, 0), k0h = le32(key, 4), k1l = le32(key, 8), k1h = le32(key, 12);
  // "somepseudorandomlygeneratedbytes" (the paper's initialisation constants).
  let v0h = (k0h ^ 0x736f6d65) >>> 0, v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0, v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0, v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0, v3l = (k1l ^ 0x79746573) >>> 0;
  const whole = length & ~7;
  let at = 0;
  let mh = 0, ml = 0;
  // The first block: a whole 8 bytes, or already the last block with the 0..7 leftover bytes and the
  // length modulo 256 in its top byte.
  if (at < whole) {
    ml = le32(data, at);
    mh = le32(data, at + 4);
  } else {
    lastBlock(data, whole, length);
    mh = lastWords[0];
    ml = lastWords[1];
  }
  let absorbing = true;
  v3h = (v3h ^ mh) >>> 0;
  v3l = (v3l ^ ml) >>> 0;
  let lo: number, hi: number;
  for (let r = 1;; r++) {
    // v0 += v1; v1 = rotl(v1, 13) ^ v0; v0 = rotl(v0, 32)
    lo = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (lo < v0l ? 1 : 0)) >>> 0;
    v0l = lo;
    hi = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    lo = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (hi ^ v0h) >>> 0;
    v1l = (lo ^ v0l) >>> 0;
    hi = v0h;
    v0h = v0l;
    v0l = hi;
    // v2 += v3; v3 = rotl(v3, 16) ^ v2
    lo = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (lo < v2l ? 1 : 0)) >>> 0;
    v2l = lo;
    hi = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    lo = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (hi ^ v2h) >>> 0;
    v3l = (lo ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21) ^ v0
    lo = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (lo < v0l ? 1 : 0)) >>> 0;
    v0l = lo;
    hi = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    lo = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (hi ^ v0h) >>> 0;
    v3l = (lo ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17) ^ v2; v2 = rotl(v2, 32)
    lo = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (lo < v2l ? 1 : 0)) >>> 0;
    v2l = lo;
    hi = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    lo = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (hi ^ v2h) >>> 0;
    v1l = (lo ^ v2l) >>> 0;
    hi = v2h;
    v2h = v2l;
    v2l = hi;

    if (absorbing) {
      if (r < 2) continue;
      v0h = (v0h ^ mh) >>> 0;
      v0l = (v0l ^ ml) >>> 0;
      r = 0;
      if (at < whole) {
        at += 8;
        if (at < whole) {
          ml = le32(data, at);
          mh = le32(data, at + 4);
        } else {
          lastBlock(data, whole, length);
          mh = lastWords[0];
          ml = lastWords[1];
        }
        v3h = (v3h ^ mh) >>> 0;
        v3l = (v3l ^ ml) >>> 0;
      } else {
        absorbing = false;
        v2l = (v2l ^ 0xff) >>> 0;
      }
    } else if (r === 4) {
      break;
    }
  }
  resultLo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  resultHi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
}

const lastWords: [number, number] = [0, 0];

/** Puts the final block's [high, low] halves in `lastWords` (shared: no allocation per hash). */
function lastBlock(data: Uint8Array, whole: number, length: number): void {
  let mh = (length & 0xff) << 24, ml = 0;
  const rest = length - whole;
  for (let i = 0; i < rest; i++) {
    const byte = data[whole + i];
    if (i < 4) ml |= byte << (i * 8);
    else mh |= byte << ((i - 4) * 8);
  }
  lastWords[0] = mh >>> 0;
  lastWords[1] = ml >>> 0;
}

function le32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}
