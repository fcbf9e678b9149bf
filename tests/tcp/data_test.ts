import assert from "node:assert/strict";
import { buildSegment, established, expectSeg, pattern } from "./fixture.ts";

Deno.test("receive: in-order data is readable and acknowledged after the delayed-ACK time", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK|PSH", payload: pattern(100) });
  assert.deepEqual(h.events, ["in"]);
  assert.equal(conn.readable, 100);
  const dst = new Uint8Array(200);
  assert.equal(conn.read(dst), 100);
  assert.deepEqual(dst.subarray(0, 100), pattern(100));
  assert.deepEqual(h.recv(), [], "the ACK is delayed");
  assert.deepEqual(h.at(39), []);
  expectSeg(h.at(40)[0], { flags: "ACK", seq: ls, ack: rs + 100, len: 0 });
});

Deno.test("receive: every second full-sized segment is acknowledged at once", () => {
  const { h, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 1460 });
  assert.deepEqual(h.recv(), []);
  h.send({ seq: rs + 1460, ack: ls, flags: "ACK", payload: 1460 });
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 2920 });
});

Deno.test("receive: out-of-order data draws an immediate duplicate ACK", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 100, ack: ls, flags: "ACK", payload: 100 });
  assert.equal(conn.readable, 0);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs });
  assert.equal(h.endpoint.stats.rxOutOfOrder, 1);
});

Deno.test("receive: filling the hole acknowledges everything at once", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 100, ack: ls, flags: "ACK", payload: pattern(100, 100) });
  h.recv();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: pattern(100) });
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 200 });
  const dst = new Uint8Array(200);
  assert.equal(conn.read(dst), 200);
  assert.deepEqual(dst, pattern(200));
});

Deno.test("receive: a duplicate of old data is acknowledged and not delivered twice", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 50 });
  h.at(40);
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 50 });
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 50 });
  assert.equal(conn.readable, 50);
});

Deno.test("receive: a segment overlapping old data delivers only the new part", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: pattern(50) });
  h.send({ seq: rs + 25, ack: ls, flags: "ACK", payload: pattern(50, 25) });
  const dst = new Uint8Array(100);
  assert.equal(conn.read(dst), 75);
  assert.deepEqual(dst.subarray(0, 75), pattern(75));
});

Deno.test("receive: data beyond the advertised window is trimmed", () => {
  const { h, conn, rs, ls } = established({ tcp: { recvBufferSize: 1000 } });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 1500 });
  assert.equal(conn.readable, 1000);
  expectSeg(h.at(40)[0], { flags: "ACK", ack: rs + 1000, window: 0 });
});

Deno.test("receive: a full buffer advertises zero, and reading sends a window update", () => {
  const { h, conn, rs, ls } = established({ tcp: { recvBufferSize: 4000 } });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 4000 });
  expectSeg(h.recv()[0], { ack: rs + 4000, window: 0 });
  conn.read(new Uint8Array(100));
  assert.deepEqual(h.recv(), [], "a tiny opening is not advertised (receiver SWS avoidance)");
  conn.read(new Uint8Array(3000));
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs + 4000, window: 3100 });
});

Deno.test("receive: a zero window still processes ACKs", () => {
  const { h, conn, rs, ls } = established({ tcp: { recvBufferSize: 1000 } });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 1000 });
  h.recv();
  conn.write(pattern(10));
  h.recv();
  h.send({ seq: rs + 1000, ack: ls + 10, flags: "ACK", payload: 10 });
  assert.equal(conn.unacknowledged, 0);
  assert.equal(conn.readable, 1000);
});

Deno.test("send: written data goes out with PSH on the last segment", () => {
  const { h, conn, rs, ls } = established();
  assert.equal(conn.write(pattern(100)), 100);
  const [seg] = h.recv();
  expectSeg(seg, { flags: "ACK|PSH", seq: ls, ack: rs, len: 100 });
  assert.deepEqual(seg.payload, pattern(100));
});

Deno.test("send: a large write is cut into MSS segments limited by the initial window", () => {
  const { h, conn, ls } = established();
  conn.write(new Uint8Array(30_000));
  const out = h.recv();
  assert.equal(out.length, 10, "RFC 6928 initial window of ten segments");
  out.forEach((s, i) => expectSeg(s, { seq: ls + i * 1460, len: 1460 }));
});

Deno.test("send: the peer's window limits what is sent", () => {
  const { h, conn, rs, ls } = established({}, { window: 2920 });
  conn.write(new Uint8Array(10_000));
  assert.equal(h.recv().reduce((n, s) => n + s.payload.length, 0), 2920);
  h.send({ seq: rs, ack: ls + 2920, flags: "ACK", window: 2920 });
  assert.equal(h.recv().reduce((n, s) => n + s.payload.length, 0), 2920);
});

Deno.test("send: ACKs free the send buffer and raise an in event", () => {
  const { h, conn, rs, ls } = established();
  conn.write(new Uint8Array(1000));
  h.recv();
  assert.equal(conn.unacknowledged, 1000);
  h.send({ seq: rs, ack: ls + 600, flags: "ACK" });
  assert.equal(conn.unacknowledged, 400);
  assert.deepEqual(h.events, ["in"]);
});

Deno.test("send: the send buffer bounds write", () => {
  const { conn } = established({ tcp: { sendBufferSize: 1000 } });
  assert.equal(conn.write(new Uint8Array(1500)), 1000);
  assert.equal(conn.writable, 0);
});

Deno.test("Nagle: a small segment waits while data is unacknowledged", () => {
  const { h, conn, rs, ls } = established();
  conn.write(pattern(10));
  expectSeg(h.recv()[0], { len: 10 });
  conn.write(pattern(10));
  assert.deepEqual(h.recv(), []);
  h.send({ seq: rs, ack: ls + 10, flags: "ACK" });
  expectSeg(h.recv()[0], { seq: ls + 10, len: 10 });
});

Deno.test("Nagle: noDelay sends small segments at once", () => {
  const { h, conn } = established({ tcp: { noDelay: true } });
  conn.write(pattern(10));
  conn.write(pattern(10));
  h.recv();
  conn.write(pattern(10));
  assert.equal(h.recv().length, 1);
});

Deno.test("Nagle: setNoDelay switches it off on a live connection", () => {
  const { h, conn } = established();
  conn.write(pattern(10));
  h.recv();
  conn.write(pattern(10));
  assert.deepEqual(h.recv(), []);
  conn.setNoDelay(true);
  expectSeg(h.recv()[0], { len: 10 });
});

Deno.test("Nagle: full-sized segments are not held back", () => {
  const { h, conn } = established();
  conn.write(new Uint8Array(100));
  h.recv();
  conn.write(new Uint8Array(1460));
  expectSeg(h.recv()[0], { len: 1460 });
});

Deno.test("window: the window follows SND.WL1/WL2 and ignores older segments", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", window: 5000 });
  h.send({ seq: rs, ack: ls, flags: "ACK", window: 100 });
  assert.equal(conn.info.sndWnd, 100, "same seq and ack: the later segment wins");
  h.send({ seq: rs + 10, ack: ls, flags: "ACK", payload: 10, window: 9000 });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10, window: 50 });
  assert.equal(conn.info.sndWnd, 9000, "an older sequence number does not set the window");
  assert.equal(conn.readable, 20);
});

Deno.test("window: a zero window is probed after the RTO and data flows once it opens", () => {
  const { h, conn, rs, ls } = established({}, { window: 0 });
  conn.write(pattern(100));
  assert.deepEqual(h.recv(), []);
  const rto = conn.info.rto;
  assert.equal(conn.info.persistAt, rto);
  const [probe] = h.at(rto);
  expectSeg(probe, { flags: "ACK", seq: ls - 1, len: 0 });
  assert.equal(h.endpoint.stats.windowProbes, 1);
  assert.deepEqual(h.at(3 * rto - 1), [], "probes back off");
  expectSeg(h.at(3 * rto)[0], { seq: ls - 1, len: 0 });
  h.send({ seq: rs, ack: ls, flags: "ACK", window: 1000 });
  expectSeg(h.recv()[0], { seq: ls, len: 100 });
  assert.equal(conn.info.persistAt, Infinity);
});

Deno.test("window: sender SWS avoidance waits instead of sending a sliver", () => {
  const { h, conn, rs, ls } = established({}, { window: 4000 });
  conn.write(new Uint8Array(5000));
  assert.equal(
    h.recv().reduce((n, s) => n + s.payload.length, 0),
    2920,
    "the 1080 bytes left in the window are a sliver",
  );
  h.send({ seq: rs, ack: ls + 100, flags: "ACK", window: 4000 });
  assert.deepEqual(h.recv(), [], "1180 usable bytes with data in flight wait");
  h.send({ seq: rs, ack: ls + 2920, flags: "ACK", window: 4000 });
  expectSeg(h.recv()[0], { seq: ls + 2920, len: 1460 });
});

Deno.test("window: a 32-bit sequence wrap is transparent", () => {
  const { h, conn, rs, ls } = established({}, { seq: 0xffffff00 });
  assert.equal(rs, 0xffffff01);
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: pattern(1000) });
  assert.equal(conn.readable, 1000);
  h.at(40);
  assert.equal(conn.info.rcvNxt, (rs + 1000) >>> 0);
  const dst = new Uint8Array(1000);
  conn.read(dst);
  assert.deepEqual(dst, pattern(1000));
});

Deno.test("window: ACKs never carry a sequence number past the peer's window", () => {
  const { h, conn, rs, ls } = established({}, { window: 3000 });
  conn.write(new Uint8Array(2920));
  assert.equal(h.recv().length, 2);
  // The peer shrinks its window to zero before our data arrived (RFC 9293 §3.8.6.2.2 discourages it,
  // but it happens): an ACK from SND.MAX would be outside its zero window and dropped.
  h.send({ seq: rs, ack: ls, flags: "ACK", window: 0 });
  h.send({ seq: rs, ack: ls, flags: "ACK|PSH", payload: 10, window: 0 });
  expectSeg(h.at(40)[0], { flags: "ACK", seq: ls, ack: rs + 10 });
});

Deno.test("receive: data read after the packet's buffer was reused is intact (lent segments settle)", () => {
  const { h, conn, rs, ls } = established();
  let readInHandler = 0;
  const early = new Uint8Array(10);
  conn.handler = { receive: () => readInHandler += conn.read(early) };
  // Two segments through one reused buffer, as a NIC ring slot would be: the app reads 10 bytes of
  // the first from inside its handler, the rest only after the buffer was overwritten.
  const slot = new Uint8Array(600);
  for (const [i, seq] of [rs, rs + 500].entries()) {
    const { bytes, src, dst } = buildSegment({
      seq,
      ack: ls,
      flags: "ACK",
      payload: pattern(500, i * 500),
    });
    slot.fill(0xee);
    slot.set(bytes);
    h.endpoint.receive({ src, dst, bytes: slot, offset: 0, length: bytes.length }, h.now);
    conn.handler = undefined; // read only the first segment's head from the handler
  }
  slot.fill(0xee);
  assert.equal(readInHandler, 10);
  assert.deepEqual(early, pattern(10));
  const rest = new Uint8Array(990);
  assert.equal(conn.read(rest), 990);
  assert.deepEqual(rest, pattern(990, 10));
});
