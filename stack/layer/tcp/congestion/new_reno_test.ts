import assert from "node:assert/strict";
import { NewReno, newReno } from "./new_reno.ts";
import { INITIAL_SSTHRESH } from "./controller.ts";

const MSS = 1000;

function inAvoidance(cwnd: number): NewReno {
  // Enter congestion avoidance at a known window: a loss at flight 2*cwnd, then a full ACK.
  const cc = new NewReno(MSS);
  cc.onEnterRecovery(2 * cwnd, 0, true);
  cc.onExitRecovery(0);
  assert.equal(cc.cwnd, cwnd);
  assert.equal(cc.ssthresh, cwnd);
  return cc;
}

Deno.test("NewReno starts at the initial window with an unbounded ssthresh", () => {
  const cc = newReno(1460);
  assert.equal(cc.name, "newreno");
  assert.equal(cc.cwnd, 14600);
  assert.equal(cc.ssthresh, INITIAL_SSTHRESH);
});

Deno.test("NewReno slow start adds the acked bytes, at most 2*SMSS per ACK (RFC 3465)", () => {
  const cc = new NewReno(MSS);
  cc.onAck(MSS, 10_000, 1);
  assert.equal(cc.cwnd, 11_000);
  cc.onAck(500, 11_000, 2);
  assert.equal(cc.cwnd, 11_500);
  cc.onAck(10 * MSS, 11_500, 3); // a stretch ACK
  assert.equal(cc.cwnd, 13_500);
  // One window of ACKs doubles the window.
  const start = cc.cwnd;
  for (let acked = 0; acked < start; acked += 500) cc.onAck(500, cc.cwnd, 4);
  assert.equal(cc.cwnd, 2 * start);
});

Deno.test("NewReno congestion avoidance adds one SMSS per window of acked bytes", () => {
  const cc = inAvoidance(20 * MSS);
  for (let round = 1; round <= 5; round++) {
    const window = cc.cwnd;
    for (let acked = 0; acked < window; acked += MSS) cc.onAck(MSS, cc.cwnd, round);
    assert.equal(cc.cwnd, (20 + round) * MSS);
  }
  // Partial-segment ACKs are counted in bytes.
  const window = cc.cwnd;
  for (let acked = 0; acked < window; acked += 100) cc.onAck(100, cc.cwnd, 9);
  assert.equal(cc.cwnd, window + MSS);
});

Deno.test("NewReno does not grow while the application limits the flight", () => {
  const cc = new NewReno(MSS);
  for (let i = 0; i < 100; i++) cc.onAck(MSS, 2 * MSS, i);
  assert.equal(cc.cwnd, 10 * MSS);
  const ca = inAvoidance(20 * MSS);
  for (let i = 0; i < 100; i++) ca.onAck(MSS, 5 * MSS, i);
  assert.equal(ca.cwnd, 20 * MSS);
});

Deno.test("NewReno fast recovery inflates and deflates per RFC 6582", () => {
  const cc = new NewReno(MSS);
  cc.onEnterRecovery(30 * MSS, 0);
  assert.equal(cc.ssthresh, 15 * MSS);
  assert.equal(cc.cwnd, 18 * MSS); // ssthresh + 3*SMSS
  cc.onDuplicateAck(1);
  cc.onDuplicateAck(1);
  assert.equal(cc.cwnd, 20 * MSS);
  cc.onRecoveryAck(5 * MSS, 2); // partial ACK of 5 segments: deflate 5, add back 1
  assert.equal(cc.cwnd, 16 * MSS);
  cc.onRecoveryAck(500, 3); // less than SMSS: no add-back
  assert.equal(cc.cwnd, 16 * MSS - 500);
  cc.onExitRecovery(4);
  assert.equal(cc.cwnd, 15 * MSS);
  // Outside recovery these calls change nothing.
  cc.onDuplicateAck(5);
  cc.onRecoveryAck(MSS, 5);
  cc.onExitRecovery(5);
  assert.equal(cc.cwnd, 15 * MSS);
});

Deno.test("NewReno SACK recovery sets cwnd = ssthresh (RFC 6675 §5)", () => {
  const cc = new NewReno(MSS);
  cc.onEnterRecovery(30 * MSS, 0, true);
  assert.equal(cc.cwnd, 15 * MSS);
  cc.onDuplicateAck(1);
  cc.onRecoveryAck(4 * MSS, 1);
  assert.equal(cc.cwnd, 15 * MSS);
  cc.onExitRecovery(2);
  assert.equal(cc.cwnd, 15 * MSS);
});

Deno.test("NewReno ssthresh is at least 2*SMSS", () => {
  const cc = new NewReno(MSS);
  cc.onEnterRecovery(MSS, 0, true);
  assert.equal(cc.ssthresh, 2 * MSS);
  cc.onRetransmitTimeout(0, 1);
  assert.equal(cc.ssthresh, 2 * MSS);
});

Deno.test("NewReno timeout: cwnd = 1 SMSS, ssthresh held on repeated timeouts (RFC 5681 §3.1)", () => {
  const cc = new NewReno(MSS);
  cc.onRetransmitTimeout(40 * MSS, 0);
  assert.equal(cc.cwnd, MSS);
  assert.equal(cc.ssthresh, 20 * MSS);
  cc.onRetransmitTimeout(40 * MSS, 1000);
  assert.equal(cc.ssthresh, 20 * MSS);
  // After new data is acknowledged a later timeout computes ssthresh again.
  cc.onAck(MSS, MSS, 2000);
  assert.equal(cc.cwnd, 2 * MSS);
  cc.onRetransmitTimeout(10 * MSS, 3000);
  assert.equal(cc.ssthresh, 5 * MSS);
  // A timeout during recovery ends it.
  cc.onEnterRecovery(10 * MSS, 4000);
  cc.onRetransmitTimeout(10 * MSS, 5000);
  cc.onExitRecovery(6000);
  assert.equal(cc.cwnd, MSS);
});

Deno.test("NewReno idle restart caps cwnd at the initial window (RFC 5681 §4.1)", () => {
  const cc = new NewReno(MSS);
  for (let i = 0; i < 50; i++) cc.onAck(MSS, cc.cwnd, i);
  assert.equal(cc.cwnd, 60 * MSS);
  cc.onIdleRestart(1000, 300);
  assert.equal(cc.cwnd, 10 * MSS);
  cc.onRetransmitTimeout(10 * MSS, 2000);
  cc.onIdleRestart(3000, 300);
  assert.equal(cc.cwnd, MSS);
  cc.init(1460, 4000);
  assert.equal(cc.cwnd, 14600);
  assert.equal(cc.ssthresh, INITIAL_SSTHRESH);
});
