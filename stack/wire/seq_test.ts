import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import { seqAdd, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub } from "./seq.ts";

const TOP = 0xffffffff;

Deno.test("seqAdd wraps modulo 2^32 in both directions", () => {
  assert.equal(seqAdd(TOP, 1), 0);
  assert.equal(seqAdd(TOP - 9, 20), 10);
  assert.equal(seqAdd(5, -10), TOP - 4);
  assert.equal(seqAdd(0, 0), 0);
  assert.equal(seqAdd(0x7fffffff, 1), 0x80000000);
});

Deno.test("seqSub is the signed distance across the wrap", () => {
  assert.equal(seqSub(10, TOP - 9), 20);
  assert.equal(seqSub(TOP - 9, 10), -20);
  assert.equal(seqSub(100, 100), 0);
  assert.equal(seqSub(0x80000000, 0), -0x80000000);
});

Deno.test("comparisons hold across the wrap", () => {
  const before = TOP - 2;
  const after = 3;
  assert.ok(seqLt(before, after));
  assert.ok(seqLe(before, after));
  assert.ok(!seqGt(before, after));
  assert.ok(!seqGe(before, after));
  assert.ok(seqGt(after, before));
  assert.ok(seqGe(after, before));
  assert.ok(
    seqLe(after, after) && seqGe(after, after) && !seqLt(after, after) && !seqGt(after, after),
  );
  assert.equal(seqMax(before, after), after);
  assert.equal(seqMin(before, after), before);
  assert.equal(seqMax(after, before), after);
  assert.equal(seqMin(after, before), before);
});

Deno.test("comparisons agree with plain integers for random pairs under 2^31 apart", () => {
  const rng = new Rng(793);
  for (let i = 0; i < 10000; i++) {
    const base = rng.nextU32();
    const delta = rng.below(0x7fffffff) - 0x3fffffff;
    const a = base;
    const b = seqAdd(base, delta);
    assert.equal(seqLt(a, b), delta > 0);
    assert.equal(seqGt(a, b), delta < 0);
    assert.equal(seqLe(a, b), delta >= 0);
    assert.equal(seqGe(a, b), delta <= 0);
    assert.equal(seqSub(b, a), delta);
    assert.equal(seqMax(a, b), delta >= 0 ? b : a);
  }
});

Deno.test("seqInWindow checks both edges, across the wrap", () => {
  const start = TOP - 4;
  assert.ok(seqInWindow(start, start, 10));
  assert.ok(seqInWindow(TOP, start, 10));
  assert.ok(seqInWindow(0, start, 10));
  assert.ok(seqInWindow(4, start, 10));
  assert.ok(!seqInWindow(5, start, 10));
  assert.ok(!seqInWindow(start - 1, start, 10));
  assert.ok(!seqInWindow(start, start, 0));
  assert.ok(seqInWindow(start, start, 1));
  assert.ok(!seqInWindow(seqAdd(start, 1), start, 1));
});
