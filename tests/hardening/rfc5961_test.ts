/**
 * RFC 5961 blind in-window attacks: RST, SYN and data injection with in-window and out-of-window
 * sequence numbers, and the challenge-ACK rate limit (§7). Packet-level, on the TCP fixture.
 */

import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established, expectSeg } from "../tcp/fixture.ts";

Deno.test("RFC 5961 §3: a RST exactly at RCV.NXT resets the connection", () => {
  const { h, conn, rs } = established();
  h.send({ seq: rs, flags: "RST" });
  assert.deepEqual(h.recv(), []);
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "reset");
});

Deno.test("RFC 5961 §3.2: an in-window RST that is not exact draws a challenge ACK and resets nothing", () => {
  const { h, conn, rs, ls } = established();
  for (const offset of [1, 100, 65534]) {
    h.send({ seq: rs + offset, flags: "RST" });
    const out = h.recv();
    assert.equal(out.length, 1);
    expectSeg(out[0], { flags: "ACK", seq: ls, ack: rs, len: 0 });
    assert.equal(conn.state, TcpState.Established);
  }
  assert.equal(h.endpoint.stats.challengeAcks, 3);
  assert.equal(h.endpoint.stats.rstReceived, 0);
  // The real peer answers the challenge ACK with an exact RST, which does reset.
  h.send({ seq: rs, flags: "RST" });
  assert.equal(conn.state, TcpState.Closed);
});

Deno.test("RFC 5961 §3.2: an out-of-window RST is dropped silently", () => {
  const { h, conn, rs } = established();
  for (const seq of [rs - 1, rs - 100_000, rs + 65535, rs + 0x40000000, rs + 0x80000000]) {
    h.send({ seq, flags: "RST" });
    assert.deepEqual(h.recv(), []);
  }
  h.send({ seq: 0, ack: 0, flags: "RST|ACK" });
  assert.deepEqual(h.recv(), []);
  assert.equal(conn.state, TcpState.Established);
});

Deno.test("RFC 5961 §4: a SYN in a synchronized state draws a challenge ACK, in window or not", () => {
  const { h, conn, rs, ls } = established();
  for (const seq of [rs, rs + 10, rs - 1, rs + 1_000_000]) {
    h.send({ seq, flags: "SYN", mss: 1460 });
    const out = h.recv();
    assert.equal(out.length, 1, `one ACK for a SYN at ${seq - rs}`);
    expectSeg(out[0], { flags: "ACK", seq: ls, ack: rs });
    assert.equal(conn.state, TcpState.Established);
  }
  // SYN with ACK, and SYN with data, change nothing either.
  h.send({ seq: rs, ack: ls, flags: "SYN|ACK", payload: 10 });
  assert.equal(h.recv().length, 1);
  assert.equal(conn.readable, 0);
  assert.equal(conn.state, TcpState.Established);
});

Deno.test("RFC 5961 §5.2: data whose ACK is too old or not yet sent is not accepted", () => {
  const { h, conn, rs, ls } = established();
  // Behind SND.UNA by more than the largest window the peer ever advertised: injected.
  h.send({ seq: rs, ack: ls - 200_000, flags: "ACK|PSH", payload: 100 });
  let out = h.recv();
  assert.equal(conn.readable, 0);
  assert.equal(out.length, 1);
  expectSeg(out[0], { flags: "ACK", ack: rs });
  // Acknowledging what was never sent: dropped with an ACK (RFC 9293 §3.10.7.4).
  h.send({ seq: rs, ack: ls + 5000, flags: "ACK|PSH", payload: 100 });
  out = h.recv();
  assert.equal(conn.readable, 0);
  expectSeg(out[0], { flags: "ACK", ack: rs });
  assert.equal(h.endpoint.stats.dropAckTooOld, 1);
  assert.equal(h.endpoint.stats.dropAckUnsent, 1);
  // Out-of-window sequence numbers with a valid ACK: dropped, acknowledged.
  h.send({ seq: rs + 70_000, ack: ls, flags: "ACK", payload: 100 });
  h.send({ seq: rs - 5000, ack: ls, flags: "ACK", payload: 100 });
  out = h.recv();
  assert.equal(conn.readable, 0);
  assert.ok(out.length >= 1);
  // The real data still gets through.
  h.send({ seq: rs, ack: ls, flags: "ACK|PSH", payload: 100 });
  h.recv();
  assert.equal(conn.readable, 100);
});

Deno.test("RFC 5961 §7: challenge ACKs are rate-limited per second", () => {
  const { h, conn, rs } = established({ challengeAckLimit: 50 });
  let acks = 0;
  for (let i = 0; i < 5000; i++) {
    h.send({ seq: rs + 1 + (i % 1000), flags: "RST" });
    acks += h.recv().length;
  }
  assert.equal(acks, 50);
  assert.equal(h.endpoint.stats.challengeAcksSuppressed, 4950);
  assert.equal(conn.state, TcpState.Established);
  // The next second brings a fresh allowance.
  h.now += 1000;
  h.send({ seq: rs + 5, flags: "RST" });
  assert.equal(h.recv().length, 1);
});
