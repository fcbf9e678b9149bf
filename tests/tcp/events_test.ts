/** The low-level handler API: typed events, the Send handler, per-connection settings. */
import assert from "node:assert/strict";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpEvent } from "../../stack/layer/tcp/events.ts";
import {
  established,
  expectSeg,
  Harness,
  LOCAL,
  LOCAL_PORT,
  pattern,
  REMOTE,
  REMOTE_ISN,
  REMOTE_PORT,
} from "./fixture.ts";

Deno.test("events: a stray segment reaches the app with its addresses and header", () => {
  const seen: { src: number; dst: number; dstPort: number; len: number }[] = [];
  const h = new Harness({
    handler: {
      receive: (event: TcpEvent) => {
        if (event.kind === "stray") {
          seen.push({
            src: event.src,
            dst: event.dst,
            dstPort: event.segment.dstPort,
            len: event.segment.payloadLength,
          });
        }
      },
    },
  });
  h.send({ seq: 1, ack: 2, flags: "ACK", payload: 7, dstPort: 9999 });
  assert.deepEqual(seen, [{ src: REMOTE, dst: LOCAL, dstPort: 9999, len: 7 }]);
});

Deno.test("events: the listener's own handler gets its open events", () => {
  const h = new Harness();
  const opened: number[] = [];
  const listener = h.endpoint.listen(LOCAL_PORT, {
    handler: { receive: (e: TcpEvent) => e.kind === "open" && opened.push(e.listener.port) },
  });
  h.send({ seq: REMOTE_ISN, flags: "SYN" });
  const [synAck] = h.recv();
  h.send({ seq: REMOTE_ISN + 1, ack: synAck.seq + 1, flags: "ACK" });
  assert.deepEqual(opened, [LOCAL_PORT]);
  assert.deepEqual(h.events, [], "not the endpoint's default handler");
  assert.ok(listener.accept());
});

Deno.test("events: an unaccepted connection raises no in events", () => {
  const h = new Harness();
  h.endpoint.listen(LOCAL_PORT);
  h.send({ seq: REMOTE_ISN, flags: "SYN" });
  const [synAck] = h.recv();
  h.send({ seq: REMOTE_ISN + 1, ack: synAck.seq + 1, flags: "ACK", payload: 5 });
  assert.deepEqual(h.events, ["open:80"]);
});

Deno.test("send handler: fills free send-buffer space during poll until it says stop", () => {
  const { h, conn, ls } = established();
  let calls = 0;
  conn.handler = {
    receive: () => {},
    send: (c: TcpConnection) => {
      calls++;
      c.write(pattern(100, calls * 100));
      return calls < 3;
    },
  };
  h.endpoint.requestSend(conn);
  const out = h.recv();
  assert.equal(calls, 1);
  expectSeg(out[0], { seq: ls, len: 100 });
  h.recv();
  h.recv();
  h.recv();
  assert.equal(calls, 3, "no calls after it returned false");
});

Deno.test("config: a listener's settings apply to its connections", () => {
  const h = new Harness();
  h.endpoint.listen(LOCAL_PORT, { config: { recvBufferSize: 3000 } });
  h.send({ seq: REMOTE_ISN, flags: "SYN" });
  expectSeg(h.recv()[0], { flags: "SYN|ACK", window: 3000 });
});

Deno.test("config: connect takes per-connection settings", () => {
  const h = new Harness();
  const conn = h.endpoint.connect(REMOTE, REMOTE_PORT, {
    localAddr: LOCAL,
    config: { recvBufferSize: 5000, sendBufferSize: 100 },
  });
  expectSeg(h.recv()[0], { flags: "SYN", window: 5000 });
  assert.equal(conn.writable, 100);
});

Deno.test("reassembly: out-of-order memory is bounded by the hole limit", () => {
  const { h, conn, rs, ls } = established({ tcp: { maxOutOfOrderHoles: 2 } });
  h.send({ seq: rs + 100, ack: ls, flags: "ACK", payload: pattern(10, 100) });
  h.send({ seq: rs + 200, ack: ls, flags: "ACK", payload: pattern(10, 200) });
  h.send({ seq: rs + 300, ack: ls, flags: "ACK", payload: pattern(10, 300) });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: pattern(100) });
  // At most two islands were kept: the first hole's fill joins only what was stored.
  assert.ok(conn.readable <= 110, `readable ${conn.readable}`);
  assert.ok(conn.readable >= 100);
});

Deno.test("keepalive: we answer the peer's probe (an old sequence number) with an ACK", () => {
  const { h, rs, ls } = established();
  h.send({ seq: rs - 1, ack: ls, flags: "ACK" });
  expectSeg(h.recv()[0], { flags: "ACK", seq: ls, ack: rs });
});

Deno.test("data: URG data is delivered in line like other data", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK|URG", payload: 20 });
  assert.equal(conn.readable, 20);
});

Deno.test("data: a delayed ACK rides on our next data segment", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10 });
  conn.write(pattern(5));
  const out = h.recv();
  assert.equal(out.length, 1);
  expectSeg(out[0], { seq: ls, ack: rs + 10, len: 5 });
  assert.deepEqual(h.at(100), [], "no separate ACK follows");
});
