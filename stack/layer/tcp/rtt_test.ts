import assert from "node:assert/strict";
import { RttEstimator } from "./rtt.ts";

Deno.test("RttEstimator starts at the initial RTO without samples (RFC 6298 §2.1)", () => {
  const rtt = new RttEstimator();
  assert.equal(rtt.rto, 1000);
  assert.equal(rtt.srtt, undefined);
  assert.equal(new RttEstimator({ initialRtoMs: 3000 }).rto, 3000);
});

Deno.test("RttEstimator first sample sets SRTT = R and RTTVAR = R/2 (RFC 6298 §2.2)", () => {
  const rtt = new RttEstimator({ minRtoMs: 0 });
  rtt.sample(100);
  assert.equal(rtt.srtt, 100);
  assert.equal(rtt.rttvar, 50);
  assert.equal(rtt.rto, 100 + 4 * 50);
});

Deno.test("RttEstimator later samples follow RFC 6298 §2.3 with alpha 1/8 and beta 1/4", () => {
  const rtt = new RttEstimator({ minRtoMs: 0 });
  const samples = [100, 140, 80, 300, 90, 90, 90, 90];
  let srtt = samples[0];
  let rttvar = samples[0] / 2;
  rtt.sample(samples[0]);
  for (const r of samples.slice(1)) {
    rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - r);
    srtt = 0.875 * srtt + 0.125 * r;
    rtt.sample(r);
    assert.ok(Math.abs(rtt.srtt! - srtt) < 1e-9);
    assert.ok(Math.abs(rtt.rttvar - rttvar) < 1e-9);
    assert.ok(Math.abs(rtt.rto - (srtt + Math.max(1, 4 * rttvar))) < 1e-9);
  }
});

Deno.test("RttEstimator clamps the RTO to its bounds and uses the clock granularity", () => {
  const rtt = new RttEstimator();
  rtt.sample(1);
  assert.equal(rtt.rto, 200);
  const steady = new RttEstimator({ minRtoMs: 0, granularityMs: 10 });
  for (let i = 0; i < 200; i++) steady.sample(50);
  // RTTVAR decays towards 0, so G bounds the variance term.
  assert.ok(Math.abs(steady.rto - 60) < 1e-6);
  const slow = new RttEstimator({ maxRtoMs: 5000 });
  slow.sample(4000);
  assert.equal(slow.rto, 5000);
});

Deno.test("RttEstimator backoff doubles up to the maximum and resets (RFC 6298 §5.5)", () => {
  const rtt = new RttEstimator({ maxRtoMs: 60_000 });
  const expected = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000];
  for (const rto of expected) {
    assert.equal(rtt.rto, rto);
    rtt.backoff();
  }
  assert.equal(rtt.backoffs, 6);
  for (let i = 0; i < 2000; i++) rtt.backoff();
  assert.equal(rtt.rto, 60000);
  rtt.resetBackoff();
  assert.equal(rtt.rto, 1000);
  // A sample does not undo the backoff by itself: the caller resets it on new data acknowledged.
  rtt.backoff();
  rtt.sample(100);
  assert.equal(rtt.rto, 2 * 300);
});

Deno.test("RttEstimator ignores negative and non-finite samples", () => {
  const rtt = new RttEstimator();
  rtt.sample(-5);
  rtt.sample(NaN);
  rtt.sample(Infinity);
  assert.equal(rtt.srtt, undefined);
  assert.equal(rtt.rto, 1000);
});
