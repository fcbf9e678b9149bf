import assert from "node:assert/strict";
import { INITIAL_SSTHRESH } from "./controller.ts";
import { Cubic, cubic, CUBIC_BETA, CUBIC_C, cubicK, cubicWindow } from "./cubic.ts";

const MSS = 1000;

/** Acknowledges one window of bytes per RTT in ACKs of up to one segment, evenly spread in time. */
function run(
  cc: Cubic,
  rttMs: number,
  from: number,
  until: number,
  probe?: (now: number, cwndSegments: number) => void,
): number {
  let now = from;
  while (now < until) {
    const start = now;
    const window = cc.cwnd;
    for (let acked = 0; acked < window;) {
      const bytes = Math.min(MSS, window - acked);
      acked += bytes;
      now = start + (rttMs * acked) / window;
      cc.onAck(bytes, cc.cwnd, now, rttMs);
      probe?.(now, cc.cwnd / MSS);
    }
  }
  return now;
}

/** A controller that lost at `w` segments and left recovery at time 0 (SACK recovery). */
function afterLoss(w: number, opts?: { fastConvergence?: boolean }): Cubic {
  const cc = new Cubic(MSS, opts);
  while (cc.cwnd < w * MSS) cc.onAck(Math.min(MSS, w * MSS - cc.cwnd), cc.cwnd, 0);
  assert.equal(cc.cwnd, w * MSS);
  cc.onEnterRecovery(cc.cwnd, 0, true);
  cc.onExitRecovery(0);
  return cc;
}

Deno.test("cubicK and cubicWindow follow RFC 9438 eqs. 1 and 2", () => {
  const k = cubicK(100, 70);
  assert.ok(Math.abs(k - Math.cbrt(30 / 0.4)) < 1e-12);
  assert.equal(cubicWindow(k, k, 100), 100); // W_cubic(K) = W_max
  assert.ok(Math.abs(cubicWindow(0, k, 100) - 70) < 1e-9); // W_cubic(0) = cwnd_epoch
  assert.ok(Math.abs(cubicWindow(k + 2, k, 100) - (100 + CUBIC_C * 8)) < 1e-9);
  assert.equal(cubicK(50, 60), 0);
  assert.equal(CUBIC_BETA, 0.7);
});

Deno.test("Cubic loss sets ssthresh = 0.7 cwnd and W_max = cwnd (RFC 9438 §4.6)", () => {
  const cc = afterLoss(100);
  assert.equal(cubic(MSS).name, "cubic");
  assert.equal(cc.ssthresh, 70 * MSS);
  assert.equal(cc.cwnd, 70 * MSS);
  assert.equal(cc.wMax, 100);
});

Deno.test("Cubic window follows W_cubic(t) and reaches W_max at t = K", () => {
  const cc = afterLoss(100);
  const k = cubicK(100, 70);
  // Up to K + 1 s the cubic curve is above W_est at a 100 ms RTT; later the Reno estimate (which
  // passed the pre-loss window and grows a segment per RTT) takes over.
  const checks = [k / 4, k / 2, (3 * k) / 4, k, k + 1];
  const seen: number[] = [];
  run(cc, 100, 0, (k + 1.5) * 1000, (now, w) => {
    if (checks.length > 0 && now >= checks[0] * 1000) {
      seen.push(checks[0]);
      // The window aims one RTT ahead and moves once per ACK: it stays within a segment or so.
      const expected = cubicWindow(checks.shift()!, k, 100);
      assert.ok(Math.abs(w - expected) < 1.5, `t ${now} ms: ${w} vs ${expected}`);
    }
  });
  assert.equal(seen.length, 5);
  assert.ok(Math.abs(cc.k - k) < 1e-12);
});

Deno.test("Cubic grows like Reno with alpha 3(1-beta)/(1+beta) in the Reno-friendly region", () => {
  const cc = afterLoss(10);
  const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
  // A 10 ms RTT: W_cubic barely moves in 5 RTTs while Reno adds alpha per RTT.
  run(cc, 10, 0, 50);
  const w = cc.cwnd / MSS;
  assert.ok(Math.abs(w - (7 + 5 * alpha)) < 0.2, `${w}`);
  assert.ok(w > cubicWindow(0.05, cubicK(10, 7), 10));
  // Past the pre-loss window W_est grows by a whole segment per RTT.
  run(cc, 10, 50, 150);
  const later = cc.cwnd / MSS;
  run(cc, 10, 150, 200);
  assert.ok(Math.abs(cc.cwnd / MSS - later - 5) < 0.3, `${later} -> ${cc.cwnd / MSS}`);
});

Deno.test("Cubic fast convergence lowers W_max after a loss below it (RFC 9438 §4.7)", () => {
  const cc = afterLoss(100);
  cc.onEnterRecovery(cc.cwnd, 10, true); // a second loss at 70 segments
  assert.ok(Math.abs(cc.wMax! - 70 * (1 + CUBIC_BETA) / 2) < 1e-9);
  assert.equal(cc.ssthresh, 49 * MSS);
  const plain = afterLoss(100, { fastConvergence: false });
  plain.onEnterRecovery(plain.cwnd, 10, true);
  assert.equal(plain.wMax, 70);
});

Deno.test("Cubic timeout: cwnd = 1 SMSS, then K = 0 from the window at the epoch's start (§4.8)", () => {
  const cc = afterLoss(100);
  cc.onRetransmitTimeout(70 * MSS, 0);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 49 * MSS);
  cc.onRetransmitTimeout(70 * MSS, 1000); // repeated: ssthresh held
  assert.equal(cc.ssthresh, 49 * MSS);
  // Slow start back to ssthresh.
  let now = 1000;
  while (cc.cwnd < cc.ssthresh) cc.onAck(MSS, cc.cwnd, ++now, 100);
  const w0 = cc.cwnd / MSS;
  cc.onAck(MSS, cc.cwnd, now, 500); // starts the epoch
  assert.equal(cc.wMax, w0);
  assert.equal(cc.k, 0);
  const epochStart = now;
  // Convex growth from the start window. Each ACK closes 1/cwnd of the gap to W(t + RTT), so the
  // window trails the curve by about an RTT: it stays between W(t - 2 RTT) and W(t + RTT).
  now = run(cc, 500, now, now + 4000);
  const t = (now - epochStart) / 1000;
  const w = cc.cwnd / MSS;
  assert.ok(w >= cubicWindow(t - 1, 0, w0) - 1 && w <= cubicWindow(t + 0.5, 0, w0) + 1, `${w}`);
  assert.ok(w > w0 + 15, `${w}`);
});

Deno.test("Cubic does not grow while the application limits the flight", () => {
  const cc = afterLoss(100);
  for (let t = 0; t < 10_000; t += 10) cc.onAck(MSS, 10 * MSS, t, 100);
  assert.equal(cc.cwnd, 70 * MSS);
});

Deno.test("Cubic recovery without SACK inflates and deflates like NewReno", () => {
  const cc = new Cubic(MSS);
  while (cc.cwnd < 20 * MSS) cc.onAck(MSS, cc.cwnd, 0);
  cc.onEnterRecovery(20 * MSS, 1);
  assert.equal(cc.ssthresh, 14 * MSS);
  assert.equal(cc.cwnd, 17 * MSS);
  cc.onDuplicateAck(2);
  assert.equal(cc.cwnd, 18 * MSS);
  cc.onRecoveryAck(3 * MSS, 3);
  assert.equal(cc.cwnd, 16 * MSS);
  cc.onExitRecovery(4);
  assert.equal(cc.cwnd, 14 * MSS);
});

Deno.test("Cubic idle restart caps cwnd at the initial window and restarts the epoch", () => {
  const cc = afterLoss(100);
  run(cc, 100, 0, 2000);
  cc.onIdleRestart(10_000, 300);
  assert.equal(cc.cwnd, 10 * MSS);
  cc.init(1460, 20_000);
  assert.equal(cc.cwnd, 14600);
  assert.equal(cc.wMax, undefined);
});

/** One slow-start round: a window of one-segment ACKs, each with the RTT `rttOf(round)`. */
function slowStartRound(cc: Cubic, now: number, rtt: number | undefined): number {
  const window = cc.cwnd;
  for (let acked = 0; acked < window; acked += MSS) {
    cc.onAck(MSS, cc.cwnd, ++now, rtt);
  }
  return now;
}

Deno.test("Cubic with HyStart++ keeps doubling while the RTT is steady", () => {
  const cc = new Cubic(MSS, { hystart: true });
  let now = 0;
  for (let round = 0; round < 6; round++) {
    const before = cc.cwnd;
    now = slowStartRound(cc, now, 50);
    assert.equal(cc.cwnd, 2 * before);
    assert.ok(!cc.inConservativeSlowStart);
  }
});

Deno.test("Cubic with HyStart++ slows down when the RTT rises and leaves slow start (RFC 9406)", () => {
  const cc = new Cubic(MSS, { hystart: true });
  let now = 0;
  for (let round = 0; round < 3; round++) now = slowStartRound(cc, now, 50);
  // RttThresh = max(4, min(50 / 8, 16)) = 6.25 ms: 56 ms is not enough.
  now = slowStartRound(cc, now, 56);
  assert.ok(!cc.inConservativeSlowStart);
  // The controller counts rounds in bytes, so its round may still hold one earlier sample.
  for (let round = 0; round < 2 && !cc.inConservativeSlowStart; round++) {
    now = slowStartRound(cc, now, 80);
  }
  assert.ok(cc.inConservativeSlowStart);
  const before = cc.cwnd;
  now = slowStartRound(cc, now, 80);
  // CSS grows by a quarter of the acked bytes: 1.25x per round instead of 2x.
  assert.ok(cc.cwnd <= 1.3 * before, `${before} -> ${cc.cwnd}`);
  // After CSS_ROUNDS rounds of it, congestion avoidance with ssthresh = cwnd.
  for (let round = 0; round < 5 && cc.ssthresh > cc.cwnd; round++) {
    now = slowStartRound(cc, now, 80);
  }
  // The rest of that round's ACKs grew the window a little, in congestion avoidance.
  assert.ok(cc.ssthresh < INITIAL_SSTHRESH);
  assert.ok(cc.cwnd >= cc.ssthresh && cc.cwnd - cc.ssthresh < 2 * MSS, `${cc.ssthresh} ${cc.cwnd}`);
  assert.ok(!cc.inConservativeSlowStart);
});

Deno.test("Cubic with HyStart++ returns to slow start when the RTT falls below the baseline", () => {
  const cc = new Cubic(MSS, { hystart: true });
  let now = 0;
  for (let round = 0; round < 3; round++) now = slowStartRound(cc, now, 50);
  now = slowStartRound(cc, now, 70);
  assert.ok(cc.inConservativeSlowStart);
  now = slowStartRound(cc, now, 50);
  assert.ok(!cc.inConservativeSlowStart);
  const before = cc.cwnd;
  slowStartRound(cc, now, 50);
  assert.equal(cc.cwnd, 2 * before);
});

Deno.test("Cubic with HyStart++ needs RTT samples and is off by default", () => {
  const noSamples = new Cubic(MSS, { hystart: true });
  const plain = new Cubic(MSS);
  let a = 0, b = 0;
  for (let round = 0; round < 8; round++) {
    a = slowStartRound(noSamples, a, undefined);
    b = slowStartRound(plain, b, round < 4 ? 50 : 100);
  }
  assert.equal(noSamples.cwnd, 10 * MSS * 256);
  assert.equal(plain.cwnd, 10 * MSS * 256);
  assert.ok(!plain.inConservativeSlowStart);
});
