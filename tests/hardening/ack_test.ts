/**
 * ACK floods and optimistic ACKs: an ACK for data never sent moves nothing; a flood of duplicate or
 * tiny ACKs (ACK division, Savage et al. 1999) cannot inflate the congestion window beyond the bytes
 * actually acknowledged or make the sender retransmit without bound.
 */

import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established, pattern } from "../tcp/fixture.ts";

/** An established connection with `bytes` written and the first flight sent. */
function inFlight(bytes: number) {
  const e = established();
  e.conn.write(pattern(bytes));
  const flight = e.h.recv();
  return { ...e, flight };
}

Deno.test("optimistic ACK: acknowledging unsent data moves neither SND.UNA nor cwnd", () => {
  const { h, conn, rs, ls, flight } = inFlight(60_000);
  assert.ok(flight.length > 0);
  const before = conn.info;
  for (const ahead of [1, 1000, 60_000, 1 << 20, 0x7fffffff]) {
    h.send({ seq: rs, ack: before.sndMax + ahead, flags: "ACK" });
  }
  h.recv();
  const after = conn.info;
  assert.equal(after.sndUna, ls);
  assert.equal(after.cwnd, before.cwnd);
  assert.equal(conn.unacknowledged, 60_000);
  assert.equal(h.endpoint.stats.dropAckUnsent, 5);
  assert.equal(conn.state, TcpState.Established);
});

Deno.test("ACK division: a flood of one-byte ACKs grows cwnd by no more than the bytes acknowledged", () => {
  const { h, conn, rs, ls } = inFlight(60_000);
  const before = conn.info.cwnd;
  const acked = 2000;
  for (let i = 1; i <= acked; i++) h.send({ seq: rs, ack: ls + i, flags: "ACK" });
  h.recv();
  const grown = conn.info.cwnd - before;
  assert.ok(grown <= acked, `cwnd grew by ${grown} for ${acked} bytes acknowledged`);
});

Deno.test("duplicate-ACK flood: 100,000 duplicates cause one fast retransmit, not a storm", () => {
  const { h, conn, rs, ls, flight } = inFlight(60_000);
  const sentBefore = flight.reduce((n, s) => n + s.payload.length, 0);
  let segments = 0;
  let bytes = 0;
  for (let i = 0; i < 100_000; i++) {
    h.send({ seq: rs, ack: ls, flags: "ACK" });
    if (i % 100 === 99) {
      for (const s of h.recv()) {
        segments++;
        bytes += s.payload.length;
      }
    }
  }
  const stats = h.endpoint.stats;
  assert.equal(stats.fastRetransmits, 1);
  // Everything sent is at most the rest of the buffer plus one retransmitted segment.
  assert.ok(bytes <= 60_000 - sentBefore + 1460, `${bytes} bytes in ${segments} segments`);
  assert.equal(conn.unacknowledged, 60_000);
  assert.equal(conn.state, TcpState.Established);
});

// A segment outside the window is answered with an ACK (RFC 9293 §3.10.7.4), and so is an ACK of
// unsent data; nothing limits how many. Two endpoints that disagree about the window (or an attacker
// spoofing one side) then exchange ACKs as fast as they can: an ACK loop. Linux answers at most one
// such segment per 500 ms per socket (net.ipv4.tcp_invalid_ratelimit, RFC 5961 §4.2's spirit).
// Fixed by a per-connection 500 ms limiter (old data below RCV.NXT is still always answered).
Deno.test({
  name: "out-of-window segments and ACKs of unsent data draw rate-limited ACKs",
  fn() {
    const { h, conn, rs, ls } = established();
    let acks = 0;
    for (let i = 0; i < 10_000; i++) {
      h.send({ seq: rs + 100_000 + i, ack: ls, flags: "ACK", payload: 10 });
      h.send({ seq: rs, ack: ls + 1000 + i, flags: "ACK" });
      acks += h.recv().length;
    }
    assert.ok(acks <= 1000, `${acks} ACKs for 20,000 invalid segments`);
    assert.ok(h.endpoint.stats.oowAcksSuppressed >= 19_000);
    assert.equal(conn.state, TcpState.Established);
  },
});
