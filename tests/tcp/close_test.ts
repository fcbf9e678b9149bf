import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import {
  established,
  expectSeg,
  Harness,
  LOCAL,
  LOCAL_PORT,
  pattern,
  REMOTE,
  REMOTE_PORT,
} from "./fixture.ts";

Deno.test("active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT, then CLOSED after 2MSL", () => {
  const { h, conn, rs, ls } = established({ tcp: { timeWaitMs: 5000 } });
  conn.closeWrite();
  assert.equal(conn.state, TcpState.FinWait1);
  expectSeg(h.recv()[0], { flags: "FIN|ACK", seq: ls, ack: rs });
  h.send({ seq: rs, ack: ls + 1, flags: "ACK" });
  assert.equal(conn.state, TcpState.FinWait2);
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  assert.equal(conn.state, TcpState.TimeWait);
  expectSeg(h.recv()[0], { flags: "ACK", seq: ls + 1, ack: rs + 1 });
  assert.equal(h.endpoint.pollAt(h.now), 5000);
  h.at(4999);
  assert.equal(conn.state, TcpState.TimeWait);
  h.at(5000);
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, undefined);
  assert.equal(h.endpoint.connectionCount, 0);
});

Deno.test("passive close: FIN moves to CLOSE-WAIT with an immediate ACK and EOF for the reader", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "FIN|ACK" });
  assert.equal(conn.state, TcpState.CloseWait);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 1 });
  assert.equal(conn.readClosed, true);
  assert.deepEqual(h.events, ["in"]);
});

Deno.test("passive close: closeWrite in CLOSE-WAIT sends FIN, LAST-ACK, then CLOSED on its ACK", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "FIN|ACK" });
  h.recv();
  conn.closeWrite();
  assert.equal(conn.state, TcpState.LastAck);
  expectSeg(h.recv()[0], { flags: "FIN|ACK", seq: ls, ack: rs + 1 });
  h.send({ seq: rs + 1, ack: ls + 1, flags: "ACK" });
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(h.endpoint.connectionCount, 0);
});

Deno.test("simultaneous close: FIN-WAIT-1 gets a FIN, CLOSING, then TIME-WAIT", () => {
  const { h, conn, rs, ls } = established();
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls, flags: "FIN|ACK" });
  assert.equal(conn.state, TcpState.Closing);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 1 });
  h.send({ seq: rs + 1, ack: ls + 1, flags: "ACK" });
  assert.equal(conn.state, TcpState.TimeWait);
});

Deno.test("close: a FIN that also acknowledges our FIN goes straight to TIME-WAIT", () => {
  const { h, conn, rs, ls } = established();
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  assert.equal(conn.state, TcpState.TimeWait);
});

Deno.test("half-close: data still arrives in FIN-WAIT-2", () => {
  const { h, conn, rs, ls } = established();
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "ACK" });
  h.send({ seq: rs, ack: ls + 1, flags: "ACK", payload: pattern(300) });
  assert.equal(conn.readable, 300);
  assert.equal(conn.state, TcpState.FinWait2);
});

Deno.test("half-close: we keep sending in CLOSE-WAIT", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "FIN|ACK" });
  h.recv();
  assert.equal(conn.write(pattern(100)), 100);
  expectSeg(h.recv()[0], { seq: ls, len: 100, ack: rs + 1 });
});

Deno.test("close: the FIN rides on the last data segment", () => {
  const { h, conn, ls } = established();
  conn.write(pattern(100));
  conn.closeWrite();
  const out = h.recv();
  assert.equal(out.length, 1);
  expectSeg(out[0], { flags: "FIN|PSH|ACK", seq: ls, len: 100 });
});

Deno.test("close: write after closeWrite is refused", () => {
  const { conn } = established();
  conn.closeWrite();
  assert.equal(conn.write(pattern(10)), 0);
  assert.equal(conn.writable, 0);
});

Deno.test("TIME-WAIT: a retransmitted FIN is acknowledged again and restarts the timer", () => {
  const { h, conn, rs, ls } = established({ tcp: { timeWaitMs: 5000 } });
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  h.recv();
  h.now = 3000;
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 1 });
  h.at(5000);
  assert.equal(conn.state, TcpState.TimeWait);
  h.at(8000);
  assert.equal(conn.state, TcpState.Closed);
});

Deno.test("close: the FIN is retransmitted until acknowledged", () => {
  const { h, conn, ls } = established();
  conn.closeWrite();
  h.recv();
  expectSeg(h.at(1000)[0], { flags: "FIN|ACK", seq: ls });
  assert.equal(h.endpoint.stats.retransmits, 1);
});

Deno.test("close: with unread data close() resets the connection", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10 });
  conn.close();
  assert.equal(conn.state, TcpState.Closed);
  expectSeg(h.recv()[0], { flags: "RST", seq: ls });
});

Deno.test("close: an out-of-order FIN waits until the hole before it fills", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 10, ack: ls, flags: "FIN|ACK", payload: 10 });
  assert.equal(conn.state, TcpState.Established);
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10 });
  assert.equal(conn.state, TcpState.CloseWait);
  assert.equal(conn.readable, 20);
  expectSeg(h.recv().at(-1), { ack: rs + 21 });
});

Deno.test("close: closing in SYN-SENT just forgets the connection", () => {
  const { h } = established();
  const c = h.endpoint.connect(0x0a000003, 80, { localAddr: 0x0a000001 });
  h.recv();
  c.closeWrite();
  assert.equal(c.state, TcpState.Closed);
  h.recv();
  assert.equal(h.endpoint.connectionCount, 1);
});

Deno.test("close: data after close() is acknowledged and dropped", () => {
  const { h, conn, rs, ls } = established();
  conn.close();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "ACK", payload: 50 });
  assert.equal(conn.readable, 0);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 50 });
});

Deno.test("close: after a full close FIN-WAIT-2 gives up when the peer never sends FIN", () => {
  const { h, conn, rs, ls } = established({ tcp: { finWait2TimeoutMs: 3000 } });
  conn.close();
  h.recv();
  h.now = 100;
  h.send({ seq: rs, ack: ls + 1, flags: "ACK" });
  assert.equal(conn.state, TcpState.FinWait2);
  h.recv();
  assert.equal(h.endpoint.pollAt(h.now), 3100);
  h.at(3100);
  assert.equal(conn.state, TcpState.Closed);
});

Deno.test("close: after closeWrite FIN-WAIT-2 waits as long as the peer keeps sending", () => {
  const { h, conn, rs, ls } = established({ tcp: { finWait2TimeoutMs: 3000 } });
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "ACK" });
  h.recv();
  assert.equal(h.endpoint.pollAt(h.now), undefined);
  h.at(100_000);
  assert.equal(conn.state, TcpState.FinWait2);
});

Deno.test("TIME-WAIT: a new SYN past RCV.NXT opens a new incarnation (RFC 6191)", () => {
  const { h, conn, listener, rs, ls } = established();
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  h.recv();
  assert.equal(conn.state, TcpState.TimeWait);
  h.send({ seq: rs + 100_000, flags: "SYN", mss: 1460 });
  assert.equal(conn.state, TcpState.Closed);
  expectSeg(h.recv()[0], { flags: "SYN|ACK", ack: rs + 100_001 });
  assert.equal(listener.synReceived, 1);
  assert.equal(h.endpoint.stats.timeWaitReused, 1);
});

Deno.test("TIME-WAIT: an old SYN gets a challenge ACK and the wait goes on", () => {
  const { h, conn, rs, ls } = established();
  conn.closeWrite();
  h.recv();
  h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
  h.recv();
  h.send({ seq: rs - 5, flags: "SYN", mss: 1460 });
  assert.equal(conn.state, TcpState.TimeWait);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 1 });
});

Deno.test("close: closeWrite in SYN-RECEIVED sends the FIN once the handshake completes", () => {
  const h = new Harness();
  const conn = h.endpoint.connect(REMOTE, REMOTE_PORT, { localAddr: LOCAL, localPort: LOCAL_PORT });
  const [syn] = h.recv();
  h.send({ seq: 7000, flags: "SYN", mss: 1460 });
  h.recv();
  conn.closeWrite();
  assert.equal(conn.state, TcpState.SynReceived);
  h.send({ seq: 7001, ack: syn.seq + 1, flags: "ACK" });
  assert.equal(conn.state, TcpState.FinWait1);
  expectSeg(h.recv()[0], { flags: "FIN|ACK", seq: syn.seq + 1 });
});
