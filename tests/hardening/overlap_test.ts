/**
 * TCP segments that overlap with different data (the evasion attacks of Ptacek and Newsham, and
 * Linux's behaviour): the bytes received first win, in order and out of order, so a later segment
 * cannot rewrite what the app will read; out-of-order state is bounded by the receive buffer and the
 * hole limit.
 */

import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established } from "../tcp/fixture.ts";

function fill(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

function readAll(conn: { read(dst: Uint8Array): number; readable: number }): Uint8Array {
  const out = new Uint8Array(conn.readable);
  conn.read(out);
  return out;
}

Deno.test("overlap: a retransmission with different bytes does not rewrite delivered data", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: fill(1000, 0xaa) });
  h.send({ seq: rs + 500, ack: ls, flags: "ACK", payload: fill(1000, 0xbb) });
  h.recv();
  const data = readAll(conn);
  assert.equal(data.length, 1500);
  assert.ok(data.subarray(0, 1000).every((b) => b === 0xaa));
  assert.ok(data.subarray(1000).every((b) => b === 0xbb));
});

Deno.test("overlap: out-of-order pieces that disagree keep the bytes that came first", () => {
  const { h, conn, rs, ls } = established();
  h.send({ seq: rs + 1000, ack: ls, flags: "ACK", payload: fill(1000, 1) }); // [1000, 2000)
  h.send({ seq: rs + 500, ack: ls, flags: "ACK", payload: fill(1000, 2) }); // [500, 1500)
  h.send({ seq: rs + 1500, ack: ls, flags: "ACK", payload: fill(1000, 3) }); // [1500, 2500)
  assert.equal(conn.readable, 0);
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: fill(700, 4) }); // [0, 700)
  h.recv();
  const data = readAll(conn);
  assert.equal(data.length, 2500);
  const expect = (from: number, to: number, v: number) =>
    assert.ok(data.subarray(from, to).every((b) => b === v), `bytes ${from}..${to} are ${v}`);
  expect(0, 500, 4);
  expect(500, 1000, 2);
  expect(1000, 2000, 1);
  expect(2000, 2500, 3);
  assert.equal(conn.info.rcvNxt, (rs + 2500) >>> 0);
});

Deno.test("overlap: a segment straddling the right window edge is trimmed to the window", () => {
  const { h, conn, rs, ls } = established({ tcp: { recvBufferSize: 4096 } });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: fill(3000, 7) });
  h.send({ seq: rs + 3000, ack: ls, flags: "ACK", payload: fill(3000, 8) });
  h.recv();
  assert.ok(conn.readable <= 4096);
  assert.equal(conn.info.rcvNxt, (rs + conn.readable) >>> 0);
});

Deno.test("overlap: thousands of scattered out-of-order pieces hold no more than the hole limit", () => {
  const { h, conn, rs, ls } = established({
    tcp: { maxOutOfOrderHoles: 8, recvBufferSize: 65535 },
  });
  for (let i = 0; i < 5000; i++) {
    const at = 10 + ((i * 7919) % 6000) * 10; // disjoint 5-byte pieces with gaps, in a scrambled order
    h.send({ seq: rs + at, ack: ls, flags: "ACK", payload: fill(5, 9) });
  }
  h.recv();
  assert.equal(conn.readable, 0);
  assert.ok(conn.info.rcvWnd <= 65535);
  // The in-order data still arrives whole after all that.
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: fill(10, 5) });
  h.recv();
  assert.ok(conn.readable >= 10);
  assert.equal(conn.state, TcpState.Established);
});
