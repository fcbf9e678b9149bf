import assert from "node:assert/strict";
import { IsnGenerator } from "./isn.ts";
import { siphash24 } from "../../util/siphash.ts";
import { Rng } from "../../util/rng.ts";

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const LOCAL = 0x0a000001;
const REMOTE = 0x0a000002;

Deno.test("IsnGenerator follows RFC 6528: 4 µs clock plus SipHash of the 4-tuple", () => {
  const isn = new IsnGenerator(KEY);
  const tuple = new Uint8Array([10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0xc3, 0x50]);
  const f = siphash24(KEY, tuple);
  assert.equal(isn.next(LOCAL, 8080, REMOTE, 50000, 0), f);
  assert.equal(isn.next(LOCAL, 8080, REMOTE, 50000, 1), (f + 250) >>> 0);
  assert.equal(isn.next(LOCAL, 8080, REMOTE, 50000, 0.004), (f + 1) >>> 0);
});

Deno.test("IsnGenerator ISNs of one 4-tuple increase with time and wrap", () => {
  const isn = new IsnGenerator(KEY);
  const base = isn.next(LOCAL, 80, REMOTE, 40000, 0);
  // 2^32 ticks of 4 µs later the clock has wrapped back to the same value.
  const wrap = 4294967296 / 250;
  assert.equal(isn.next(LOCAL, 80, REMOTE, 40000, wrap), base);
  let previous = base;
  for (let t = 1000; t < 60_000; t += 1000) {
    const value = isn.next(LOCAL, 80, REMOTE, 40000, t);
    assert.equal((value - previous) >>> 0, 250_000);
    previous = value;
  }
});

Deno.test("IsnGenerator spreads different 4-tuples and keys", () => {
  const isn = new IsnGenerator(KEY);
  const rng = new Rng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    seen.add(isn.next(LOCAL, 80, rng.nextU32(), 1024 + rng.below(60000), 5000));
  }
  assert.ok(seen.size >= 999);
  const other = new IsnGenerator(KEY.map((b) => b ^ 1));
  assert.notEqual(other.next(LOCAL, 80, REMOTE, 40000, 0), isn.next(LOCAL, 80, REMOTE, 40000, 0));
  // Swapping the ends gives another ISN: the tuple is ordered.
  assert.notEqual(isn.next(REMOTE, 40000, LOCAL, 80, 0), isn.next(LOCAL, 80, REMOTE, 40000, 0));
});

Deno.test("IsnGenerator without a key draws a random one", () => {
  const a = new IsnGenerator();
  const b = new IsnGenerator();
  // Equal only if two 128-bit random keys collide on this tuple's 32-bit hash (chance 2^-32).
  assert.notEqual(a.next(LOCAL, 80, REMOTE, 40000, 0), b.next(LOCAL, 80, REMOTE, 40000, 0));
  assert.throws(() => new IsnGenerator(new Uint8Array(8)), RangeError);
});
