/**
 * Zero-window stalls held open by a peer (RFC 9293 §3.8.6.1): the sender probes with backoff, holds no
 * more than its send buffer, and resumes when the window opens. A peer that holds the window shut
 * forever, or stops answering, must not pin a connection the app has given up on.
 */

import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established, pattern } from "../tcp/fixture.ts";

/** An established connection whose peer took the first flight and then shut its window. */
function stalled() {
  const e = established({ tcp: { sendBufferSize: 32 * 1024 } });
  const { h, conn, rs, ls } = e;
  const accepted = conn.write(pattern(100_000));
  assert.equal(accepted, 32 * 1024, "write takes no more than the send buffer");
  const flight = h.recv();
  const sent = flight.reduce((n, s) => n + s.payload.length, 0);
  h.send({ seq: rs, ack: ls + sent, flags: "ACK", window: 0 });
  h.recv();
  return { ...e, acked: sent };
}

/** Runs to `until`, the peer answering every probe with a zero window when `answer`. */
function hold(e: ReturnType<typeof stalled>, until: number, answer: boolean): number {
  const { h, rs, ls, acked } = e;
  let probes = 0;
  for (let i = 0; i < 100_000 && h.now < until; i++) {
    const next = h.endpoint.pollAt(h.now);
    if (next === undefined) break;
    const out = h.at(Math.min(Math.max(next, h.now), until));
    for (const seg of out) {
      probes++;
      assert.ok(seg.payload.length <= 1, "a probe carries at most one byte");
      if (answer) h.send({ seq: rs, ack: ls + acked, flags: "ACK", window: 0 });
    }
    if (next > until) break;
  }
  return probes;
}

Deno.test("zero window: probes back off, memory stays at the send buffer, data resumes", () => {
  const e = stalled();
  const { h, conn, rs, ls, acked } = e;
  const probes = hold(e, 3_600_000, true);
  // Exponential backoff capped at the maximum RTO (120 s): about 30 probes in an hour, not thousands.
  assert.ok(probes >= 10 && probes <= 60, `${probes} probes in an hour`);
  assert.equal(conn.state, TcpState.Established);
  assert.ok(conn.unacknowledged <= 32 * 1024);
  assert.equal(conn.writable, 32 * 1024 - conn.unacknowledged);
  // The window opens: the rest flows.
  h.send({ seq: rs, ack: ls + acked, flags: "ACK", window: 65535 });
  const out = h.recv();
  assert.ok(out.some((s) => s.payload.length > 1), "data flows once the window opens");
});

// Linux kills an orphaned connection (closed by the app) after tcp_orphan_retries probes, whatever
// the peer answers; here a peer that keeps its window at zero holds a closed connection, and its send
// buffer, for ever: thousands of such peers exhaust memory. Fixed: config.orphanRetries (default 8)
// probes, then a RST.
Deno.test({
  name: "zero window: a connection the app closed is not held open for ever by the peer",
  fn() {
    const e = stalled();
    e.conn.close();
    hold(e, 3_600_000, true);
    assert.equal(e.conn.state, TcpState.Closed);
    assert.equal(e.h.endpoint.connectionCount, 0);
  },
});

// RFC 9293 §3.8.6.1 keeps probing while the peer answers; a peer that stopped answering is dead, and
// Linux closes after tcp_retries2 unanswered probes. Unanswered probes went on for ever; fixed:
// config.maxRetries probes since the last ACK, then a time-out.
Deno.test({
  name: "zero window: a peer that stops answering probes times the connection out",
  fn() {
    const e = stalled();
    hold(e, 4 * 3_600_000, false);
    assert.equal(e.conn.state, TcpState.Closed);
    assert.equal(e.conn.error, "timedOut");
  },
});
