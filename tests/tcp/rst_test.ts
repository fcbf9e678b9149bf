import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established, expectSeg, pattern } from "./fixture.ts";

Deno.test("RST: an exact-sequence RST resets an established connection", () => {
  const { h, conn, rs } = established();
  h.send({ seq: rs, flags: "RST" });
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "reset");
  assert.deepEqual(h.events, ["in"]);
  assert.equal(h.endpoint.connectionCount, 0);
});

Deno.test("RST: an in-window RST off the exact sequence gets a challenge ACK (RFC 5961 §3.2)", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 100, flags: "RST" });
  assert.equal(conn.state, TcpState.Established);
  expectSeg(h.recv()[0], { flags: "ACK", seq: ls, ack: rs });
  assert.equal(h.endpoint.stats.challengeAcks, 1);
});

Deno.test("RST: an out-of-window RST is dropped silently", () => {
  const { h, conn, rs } = established();
  h.send({ seq: rs + 1_000_000, flags: "RST" });
  assert.equal(conn.state, TcpState.Established);
  assert.deepEqual(h.recv(), []);
});

Deno.test("RST: the challenge ACK lets the peer send an exact RST", () => {
  const { h, conn, rs } = established();
  h.send({ seq: rs + 5, flags: "RST" });
  const [challenge] = h.recv();
  h.send({ seq: challenge.ack, flags: "RST" });
  assert.equal(conn.state, TcpState.Closed);
});

Deno.test("RST: in CLOSE-WAIT it closes with a reset error", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "FIN|ACK" });
  h.send({ seq: rs + 1, flags: "RST" });
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "reset");
});

Deno.test("RST: in LAST-ACK it closes without error", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "FIN|ACK" });
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs + 1, flags: "RST" });
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, undefined);
});

Deno.test("RST: in TIME-WAIT it ends the wait early", () => {
  const { h, conn, rs, ls } = established();
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  assert.equal(conn.state, TcpState.TimeWait);
  h.send({ seq: rs + 1, flags: "RST" });
  assert.equal(conn.state, TcpState.Closed);
});

Deno.test("SYN: a SYN on an established connection gets a challenge ACK (RFC 5961 §4)", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 10, flags: "SYN" });
  expectSeg(h.recv()[0], { flags: "ACK", seq: ls, ack: rs });
  assert.equal(conn.state, TcpState.Established);
});

Deno.test("challenge ACKs are rate limited", () => {
  const { h, rs } = established({ challengeAckLimit: 3 });
  for (let i = 0; i < 10; i++) h.send({ seq: rs + 100 + i, flags: "RST" });
  assert.equal(h.endpoint.stats.challengeAcks, 3);
  assert.equal(h.endpoint.stats.challengeAcksSuppressed, 7);
});

Deno.test("ACK: an ACK of data never sent is answered and the segment dropped", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls + 5000, flags: "ACK", payload: 10 });
  assert.equal(conn.readable, 0);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs });
  assert.equal(h.endpoint.stats.dropAckUnsent, 1);
});

Deno.test("ACK: data with an ACK far behind SND.UNA is rejected (RFC 5961 §5)", () => {
  const { h, conn, rs, ls } = established({}, { window: 1000 });
  h.send({ seq: rs, ack: ls - 5000, flags: "ACK", payload: 10 });
  assert.equal(conn.readable, 0);
  assert.equal(h.endpoint.stats.dropAckTooOld, 1);
  expectSeg(h.recv()[0], { flags: "ACK" });
});

Deno.test("ACK: a segment without ACK in a synchronized state is dropped", () => {
  const { h, conn, rs } = established();
  h.send({ seq: rs, flags: "PSH", payload: 10 });
  assert.equal(conn.readable, 0);
  assert.equal(h.endpoint.stats.dropNoAck, 1);
});

Deno.test("sequence: an out-of-window segment is answered with an ACK and dropped", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 200_000, ack: ls, flags: "ACK", payload: pattern(10) });
  assert.equal(conn.readable, 0);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs });
  assert.equal(h.endpoint.stats.dropOutOfWindow, 1);
});

Deno.test("abort: sends RST from SND.NXT and closes", () => {
  const { h, conn, ls } = established();
  conn.abort();
  expectSeg(h.recv()[0], { flags: "RST", seq: ls });
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "aborted");
  assert.equal(h.endpoint.connectionCount, 0);
});

Deno.test("challenge ACKs are limited per connection, not by one shared counter", () => {
  const { h, listener, rs } = established({ challengeAckLimit: 2 });
  // A second connection on the same endpoint.
  h.send({ seq: 5000, flags: "SYN", srcPort: 40000 });
  const [synAck] = h.recv();
  h.send({ seq: 5001, ack: synAck.seq + 1, flags: "ACK", srcPort: 40000 });
  listener.accept();
  for (let i = 0; i < 5; i++) h.send({ seq: rs + 100 + i, flags: "RST" });
  for (let i = 0; i < 5; i++) h.send({ seq: 5101 + i, flags: "RST", srcPort: 40000 });
  assert.equal(h.endpoint.stats.challengeAcks, 4, "two for each connection");
  h.now = 1000;
  h.send({ seq: rs + 100, flags: "RST" });
  assert.equal(h.endpoint.stats.challengeAcks, 5, "the limit is per second");
});

Deno.test("sequence: ACKs for out-of-window pure ACKs are rate limited, data is always answered", () => {
  const { h, rs, ls } = established();
  h.send({ seq: rs + 200_000, ack: ls, flags: "ACK" });
  h.send({ seq: rs + 200_000, ack: ls, flags: "ACK" });
  assert.equal(h.recv().length, 1, "an ACK loop is cut");
  assert.equal(h.endpoint.stats.oowAcksSuppressed, 1);
  h.send({ seq: rs - 100, ack: ls, flags: "ACK", payload: 50 });
  assert.equal(h.recv().length, 1, "old data is acknowledged so the peer can move on");
  h.now = 500;
  h.send({ seq: rs + 200_000, ack: ls, flags: "ACK" });
  assert.equal(h.recv().length, 1);
});
