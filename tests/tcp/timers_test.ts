import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established, expectSeg, listening, REMOTE_ISN } from "./fixture.ts";

const keepalive = {
  tcp: { keepalive: true, keepaliveIdleMs: 10_000, keepaliveIntervalMs: 1000, keepaliveProbes: 3 },
};

Deno.test("keepalive: an idle connection is probed with an old sequence number", () => {
  const { h, conn, ls } = established(keepalive);
  assert.equal(conn.info.keepaliveAt, 10_000);
  assert.deepEqual(h.at(9_999), []);
  expectSeg(h.at(10_000)[0], { flags: "ACK", seq: ls - 1, len: 0 });
  assert.equal(h.endpoint.stats.keepaliveProbes, 1);
});

Deno.test("keepalive: an answer restarts the idle timer", () => {
  const { h, conn, rs, ls } = established(keepalive);
  h.at(10_000);
  h.now = 10_050;
  h.send({ seq: rs, ack: ls, flags: "ACK" });
  assert.equal(conn.info.keepaliveAt, 20_050);
});

Deno.test("keepalive: unanswered probes time the connection out", () => {
  const { h, conn } = established(keepalive);
  const out = h.runUntil(20_000);
  assert.equal(out.length, 3);
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "timedOut");
});

Deno.test("keepalive: off by default", () => {
  const { conn } = established();
  assert.equal(conn.info.keepaliveAt, Infinity);
});

Deno.test("pollAt: idle established connections need no poll", () => {
  const { h } = established();
  h.recv();
  assert.equal(h.endpoint.pollAt(h.now), undefined);
});

Deno.test("pollAt: a delayed ACK asks for a poll at its deadline", () => {
  const { h, rs, ls } = established();
  h.now = 5;
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10 });
  h.recv();
  assert.equal(h.endpoint.pollAt(h.now), 45);
});

Deno.test("pollAt: queued output asks for a poll now", () => {
  const { h, conn } = established();
  conn.write(new Uint8Array(10));
  assert.equal(h.endpoint.pollAt(3), 3);
});

Deno.test("pollAt: the earliest of many connections' deadlines", () => {
  const { h } = listening({}, 1000);
  for (let i = 0; i < 100; i++) {
    h.now = i;
    h.send({ seq: REMOTE_ISN, flags: "SYN", srcPort: 30000 + i });
    h.recv();
  }
  assert.equal(h.endpoint.pollAt(h.now), 1000, "the first SYN-ACK's retransmission");
  h.at(1000);
  assert.equal(h.endpoint.pollAt(h.now), 1001);
});

Deno.test("poll: a busy IP layer keeps the output for the next poll", () => {
  const { h, conn, ls } = established();
  conn.write(new Uint8Array(100));
  h.ip.busy = true;
  assert.deepEqual(h.recv(), []);
  assert.equal(h.endpoint.pollAt(h.now), h.now);
  h.ip.busy = false;
  expectSeg(h.recv()[0], { seq: ls, len: 100 });
});

Deno.test("keepalive: can be switched on and off on a live connection", () => {
  const { h, conn, ls } = established({
    tcp: { keepaliveIdleMs: 10_000, keepaliveIntervalMs: 1000 },
  });
  h.now = 500;
  conn.setKeepAlive(true);
  h.recv();
  assert.equal(h.endpoint.pollAt(h.now), 10_000, "idle since the handshake at 0");
  expectSeg(h.at(10_000)[0], { seq: ls - 1 });
  conn.setKeepAlive(false);
  h.recv();
  assert.equal(h.endpoint.pollAt(h.now), undefined);
});

Deno.test("timer heap: a deadline that keeps coming back to one value leaves a bounded heap", () => {
  // Data then an ACK of all of it, over and over at one instant: the tail loss probe is armed at the
  // same time, disarmed, armed again. Each arming pushes an entry equal to the older ones.
  const { h, conn, rs, ls } = established({ tcp: { sack: true } }, { sackPermitted: true });
  let una = ls;
  for (let i = 0; i < 5000; i++) {
    conn.write(new Uint8Array(100));
    h.endpoint.poll(h.now, h.ip);
    una += 100;
    h.send({ seq: rs, ack: una, flags: "ACK" });
  }
  assert.equal(conn.unacknowledged, 0);
  assert.equal(h.ip.sent.filter((s) => s.payload.length === 100).length, 5000);
  assert.ok(
    h.endpoint.timerEntries <= 2 * h.endpoint.connectionCount + 1025,
    `${h.endpoint.timerEntries}`,
  );
});
