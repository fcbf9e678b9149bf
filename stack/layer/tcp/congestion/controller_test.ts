import assert from "node:assert/strict";
import {
  INITIAL_SSTHRESH,
  initialWindow,
  isCwndLimited,
  partialAckWindow,
  recoveryEntryWindow,
} from "./controller.ts";

Deno.test("initialWindow follows RFC 6928: min(10*MSS, max(2*MSS, 14600))", () => {
  assert.equal(initialWindow(1460), 14600);
  assert.equal(initialWindow(536), 5360);
  assert.equal(initialWindow(1000), 10000);
  assert.equal(initialWindow(9000), 18000);
  assert.equal(initialWindow(65495), 130990);
});

Deno.test("isCwndLimited allows growth only while the window is in use", () => {
  const mss = 1000;
  // Slow start: half the window in flight is enough.
  assert.ok(isCwndLimited(10_000, INITIAL_SSTHRESH, 5_000, mss));
  assert.ok(!isCwndLimited(10_000, INITIAL_SSTHRESH, 4_000, mss));
  // Congestion avoidance: within three segments of the window.
  assert.ok(isCwndLimited(100_000, 50_000, 97_000, mss));
  assert.ok(!isCwndLimited(100_000, 50_000, 96_999, mss));
  assert.ok(!isCwndLimited(100_000, 50_000, 50_000, mss));
});

Deno.test("recoveryEntryWindow inflates by three segments only without SACK", () => {
  assert.equal(recoveryEntryWindow(20_000, 1000, false), 23_000);
  assert.equal(recoveryEntryWindow(20_000, 1000, true), 20_000);
});

Deno.test("partialAckWindow deflates by the acked bytes, gives back SMSS, stays at least SMSS", () => {
  // At least SMSS acknowledged: deflate, then one SMSS back (RFC 6582 §3.2 step 5).
  assert.equal(partialAckWindow(23_000, 4_000, 1000), 20_000);
  // Less than SMSS: deflate only.
  assert.equal(partialAckWindow(23_000, 500, 1000), 22_500);
  // Never below SMSS before the give-back.
  assert.equal(partialAckWindow(3_000, 10_000, 1000), 2_000);
  assert.equal(partialAckWindow(1_200, 900, 1000), 1_000);
});
