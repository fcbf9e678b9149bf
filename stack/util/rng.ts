/**
 * A seeded pseudo-random generator (xoshiro128**) so that impairments, fuzzing and tests are
 * reproducible. Production code seeds it from `crypto.getRandomValues`.
 *
 * @module
 */

/** A deterministic source of random numbers. */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** Seeds the generator; equal seeds give equal sequences. */
  constructor(seed: number) {
    // splitmix32 expands the seed so that small seeds still give well-mixed state.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next() | 1;
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }

  /** Seeds a generator from the operating system's entropy. */
  static fromCrypto(): Rng {
    const seed = new Uint32Array(1);
    crypto.getRandomValues(seed);
    return new Rng(seed[0]);
  }

  /** The next unsigned 32-bit value (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fills `bytes` with random bytes. */
  fill(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.nextU32() & 0xff;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
