import assert from "node:assert/strict";
import {
  cookieTsVal,
  decodeTsOptions,
  encodeTsOptions,
  SYN_COOKIE_MSS_TABLE,
  SynCookies,
} from "./syn_cookie.ts";
import { Rng } from "../../util/rng.ts";

const KEY = Uint8Array.from({ length: 16 }, (_, i) => 255 - i);
const L = 0x0a000001;
const R = 0xc0a80102;

Deno.test("SynCookies decode the MSS they encoded, rounded down to the table", () => {
  const cookies = new SynCookies(KEY);
  const cases: [number, number][] = [
    [1460, 1460],
    [9000, 1460],
    [65495, 1460],
    [1459, 1440],
    [1440, 1440],
    [1300, 1300],
    [1299, 536],
    [536, 536],
    [100, 536], // below the table: Linux too answers with its smallest entry
  ];
  for (const [mss, expected] of cases) {
    const cookie = cookies.encode(L, 80, R, 40000, 0x12345678, mss, 1_000_000);
    assert.equal(cookies.decode(L, 80, R, 40000, 0x12345678, cookie, 1_000_000), expected);
  }
});

Deno.test("SynCookies are valid for one to two minutes", () => {
  const cookies = new SynCookies(KEY);
  const t0 = 600_000; // the start of a counter period
  const cookie = cookies.encode(L, 80, R, 40000, 7, 1460, t0);
  assert.equal(cookies.decode(L, 80, R, 40000, 7, cookie, t0 + 59_999), 1460);
  assert.equal(cookies.decode(L, 80, R, 40000, 7, cookie, t0 + 119_999), 1460);
  assert.equal(cookies.decode(L, 80, R, 40000, 7, cookie, t0 + 120_000), undefined);
  // A cookie from the future (clock going backwards) is refused too.
  assert.equal(cookies.decode(L, 80, R, 40000, 7, cookie, t0 - 1), undefined);
  const late = cookies.encode(L, 80, R, 40000, 7, 1460, t0 + 59_999);
  assert.equal(cookies.decode(L, 80, R, 40000, 7, late, t0 + 60_000), 1460);
  assert.equal(cookies.decode(L, 80, R, 40000, 7, late, t0 + 120_000), undefined);
});

Deno.test("SynCookies refuse another tuple, another peer ISN, another key or a modified cookie", () => {
  const cookies = new SynCookies(KEY);
  const now = 5_000_000;
  const cookie = cookies.encode(L, 80, R, 40000, 1000, 1460, now);
  assert.equal(cookies.decode(L, 80, R, 40001, 1000, cookie, now), undefined);
  assert.equal(cookies.decode(L, 81, R, 40000, 1000, cookie, now), undefined);
  assert.equal(cookies.decode(L, 80, R + 1, 40000, 1000, cookie, now), undefined);
  assert.equal(cookies.decode(L + 1, 80, R, 40000, 1000, cookie, now), undefined);
  assert.equal(cookies.decode(L, 80, R, 40000, 1000 + (1 << 20), cookie, now), undefined);
  assert.equal(
    new SynCookies(KEY.map((b) => b ^ 4)).decode(L, 80, R, 40000, 1000, cookie, now),
    undefined,
  );
  // Bits 0 and 1 carry the MSS index and may turn into another table entry; every other bit counts.
  for (let bit = 2; bit < 32; bit++) {
    const forged = (cookie ^ (1 << bit)) >>> 0;
    assert.equal(cookies.decode(L, 80, R, 40000, 1000, forged, now), undefined, `bit ${bit}`);
  }
});

Deno.test("SynCookies accept few random guesses", () => {
  const cookies = new SynCookies(KEY);
  const rng = new Rng(11);
  let accepted = 0;
  for (let i = 0; i < 20000; i++) {
    if (cookies.decode(L, 80, R, 40000, 1000, rng.nextU32(), 5_000_000) !== undefined) accepted++;
  }
  // Expected 20000 * 2/256 * 4/2^24 ≈ 0.04.
  assert.equal(accepted, 0);
});

Deno.test("SynCookies work across the sequence-number wrap and for many tuples", () => {
  const cookies = new SynCookies(KEY);
  const rng = new Rng(5);
  for (let i = 0; i < 2000; i++) {
    const peerIsn = i < 10 ? (0xffffffff - i) >>> 0 : rng.nextU32();
    const remote = rng.nextU32();
    const port = rng.below(65536);
    const now = rng.below(1e9);
    const mss = SYN_COOKIE_MSS_TABLE[rng.below(4)];
    const cookie = cookies.encode(L, 443, remote, port, peerIsn, mss, now);
    assert.equal(
      cookies.decode(L, 443, remote, port, peerIsn, cookie, now + rng.below(60_000)),
      mss,
    );
  }
});

Deno.test("encodeTsOptions and decodeTsOptions carry window scale and SACK in 5 bits", () => {
  for (const scale of [undefined, 0, 1, 7, 14]) {
    for (const sack of [false, true]) {
      const bits = encodeTsOptions(scale, sack);
      assert.ok(bits < 64);
      assert.deepEqual(decodeTsOptions(0xabcdef00 | bits), {
        windowScale: scale,
        sackPermitted: sack,
      });
    }
  }
  assert.equal(encodeTsOptions(20, false), 14);
  assert.equal(decodeTsOptions(0x20), undefined);
});

Deno.test("cookieTsVal never runs ahead of the clock", () => {
  const rng = new Rng(9);
  for (let i = 0; i < 1000; i++) {
    const now = i < 3 ? i : rng.nextU32();
    const scale = rng.below(2) ? undefined : rng.below(15);
    const sack = rng.below(2) === 1;
    const ts = cookieTsVal(now, scale, sack);
    const behind = (now - ts) >>> 0;
    assert.ok(behind < 64, `now ${now} ts ${ts}`);
    assert.deepEqual(decodeTsOptions(ts), { windowScale: scale, sackPermitted: sack });
  }
});
