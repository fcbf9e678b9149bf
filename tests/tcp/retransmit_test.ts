import assert from "node:assert/strict";
import { newReno } from "../../stack/layer/tcp/congestion/new_reno.ts";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established, expectSeg, pattern } from "./fixture.ts";

Deno.test("RTO: unacknowledged data is resent after the RTO, which then doubles", () => {
  const { h, conn, ls } = established();
  assert.equal(conn.info.rto, 200, "handshake RTT 0 gives the minimum RTO");
  conn.write(pattern(100));
  h.recv();
  assert.deepEqual(h.at(199), []);
  expectSeg(h.at(200)[0], { seq: ls, len: 100 });
  assert.deepEqual(h.at(599), []);
  expectSeg(h.at(600)[0], { seq: ls, len: 100 });
  assert.equal(h.endpoint.stats.rtoExpired, 2);
});

Deno.test("RTO: a timeout collapses cwnd to one segment", () => {
  const { h, conn } = established();
  conn.write(new Uint8Array(20_000));
  h.recv();
  h.at(200);
  assert.equal(conn.info.cwnd, conn.info.mss);
});

Deno.test("RTO: after the retry limit the connection times out", () => {
  const { h, conn } = established({ tcp: { maxRetries: 3 } });
  conn.write(pattern(100));
  const out = h.runUntil(100_000);
  assert.equal(out.filter((s) => s.payload.length > 0).length, 4);
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "timedOut");
  assert.deepEqual(h.events, ["in"]);
});

Deno.test("RTO: an ACK of new data clears the backoff", () => {
  const { h, conn, rs, ls } = established();
  conn.write(pattern(100));
  h.recv();
  h.at(200);
  h.at(600);
  h.now = 700;
  h.send({ seq: rs, ack: ls + 100, flags: "ACK" });
  conn.write(pattern(100));
  h.recv();
  assert.equal(conn.info.rtoAt, 700 + conn.info.rto);
  assert.equal(conn.info.rto, 200);
});

Deno.test("RTO: the timer stops when everything is acknowledged", () => {
  const { h, conn, rs, ls } = established();
  conn.write(pattern(100));
  h.recv();
  h.send({ seq: rs, ack: ls + 100, flags: "ACK" });
  assert.equal(conn.info.rtoAt, Infinity);
  assert.equal(h.endpoint.pollAt(h.now), undefined);
});

Deno.test("RTT: a clean ACK updates SRTT (RFC 6298)", () => {
  const { h, conn, rs, ls } = established();
  conn.write(pattern(100));
  h.recv();
  h.now = 80;
  h.send({ seq: rs, ack: ls + 100, flags: "ACK" });
  assert.equal(conn.info.srtt, 10, "7/8 × 0 + 1/8 × 80");
});

Deno.test("RTT: Karn's rule takes no sample from a retransmitted segment", () => {
  const { h, conn, rs, ls } = established();
  conn.write(pattern(100));
  h.recv();
  h.at(200);
  h.now = 300;
  h.send({ seq: rs, ack: ls + 100, flags: "ACK" });
  assert.equal(conn.info.srtt, 0);
});

Deno.test("fast retransmit: three duplicate ACKs resend the first segment at once", () => {
  const { h, conn, rs, ls } = established({ tcp: { congestion: newReno } });
  conn.write(new Uint8Array(5 * 1460));
  assert.equal(h.recv().length, 5);
  h.send({ seq: rs, ack: ls, flags: "ACK" });
  h.send({ seq: rs, ack: ls, flags: "ACK" });
  assert.deepEqual(h.recv(), [], "two duplicates are not enough");
  h.send({ seq: rs, ack: ls, flags: "ACK" });
  const out = h.recv();
  expectSeg(out[0], { seq: ls, len: 1460 });
  assert.equal(h.endpoint.stats.fastRetransmits, 1);
  assert.equal(conn.info.inRecovery, true);
  assert.equal(conn.info.ssthresh, Math.floor((5 * 1460) / 2));
});

Deno.test("fast retransmit: ACKs carrying data or a new window are not duplicates", () => {
  const { h, conn, rs, ls } = established();
  conn.write(new Uint8Array(5 * 1460));
  h.recv();
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10 });
  h.send({ seq: rs + 10, ack: ls, flags: "ACK", window: 60000 });
  h.send({ seq: rs + 10, ack: ls, flags: "ACK", window: 50000 });
  assert.equal(conn.info.dupAcks, 0);
});

Deno.test("NewReno: a partial ACK resends the next hole and a full ACK ends recovery", () => {
  const { h, conn, rs, ls } = established({ tcp: { congestion: newReno } });
  conn.write(new Uint8Array(5 * 1460));
  h.recv();
  for (let i = 0; i < 3; i++) h.send({ seq: rs, ack: ls, flags: "ACK" });
  h.recv();
  h.send({ seq: rs, ack: ls + 2 * 1460, flags: "ACK" });
  expectSeg(h.recv()[0], { seq: ls + 2 * 1460, len: 1460 });
  assert.equal(conn.info.inRecovery, true);
  h.send({ seq: rs, ack: ls + 5 * 1460, flags: "ACK" });
  assert.equal(conn.info.inRecovery, false);
  assert.equal(conn.info.cwnd, conn.info.ssthresh);
});

Deno.test("NewReno: no second fast retransmit for losses from before the last recovery", () => {
  const { h, conn, rs, ls } = established({ tcp: { congestion: newReno } });
  conn.write(new Uint8Array(5 * 1460));
  h.recv();
  h.at(200); // RTO: recover = SND.MAX
  for (let i = 0; i < 4; i++) h.send({ seq: rs, ack: ls, flags: "ACK" });
  assert.equal(h.endpoint.stats.fastRetransmits, 0);
});

Deno.test("congestion: CUBIC is the default and NewReno is pluggable", () => {
  assert.equal(established().conn.info.congestion, "cubic");
  assert.equal(established({ tcp: { congestion: newReno } }).conn.info.congestion, "newreno");
});

Deno.test("congestion: slow start grows cwnd with each ACK", () => {
  const { h, conn, rs, ls } = established();
  const before = conn.info.cwnd;
  conn.write(new Uint8Array(10 * 1460));
  h.recv();
  h.send({ seq: rs, ack: ls + 2 * 1460, flags: "ACK" });
  assert.ok(conn.info.cwnd > before);
});

const sackOpts = { tcp: { sack: true } };
const sackSyn = { sackPermitted: true };

Deno.test("SACK: out-of-order data is reported in SACK blocks", () => {
  const { h, rs, ls } = established(sackOpts, sackSyn);
  h.send({ seq: rs + 100, ack: ls, flags: "ACK", payload: 100 });
  const [ack] = h.recv();
  expectSeg(ack, { ack: rs });
  assert.deepEqual(ack.sackBlocks, [rs + 100, rs + 200]);
});

Deno.test("SACK: several islands give several blocks, the newest first", () => {
  const { h, rs, ls } = established(sackOpts, sackSyn);
  h.send({ seq: rs + 100, ack: ls, flags: "ACK", payload: 100 });
  h.send({ seq: rs + 400, ack: ls, flags: "ACK", payload: 100 });
  const out = h.recv();
  assert.deepEqual(out.at(-1)!.sackBlocks, [rs + 400, rs + 500, rs + 100, rs + 200]);
});

Deno.test("SACK: no blocks once the holes are filled", () => {
  const { h, rs, ls } = established(sackOpts, sackSyn);
  h.send({ seq: rs + 100, ack: ls, flags: "ACK", payload: 100 });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 100 });
  const out = h.recv();
  expectSeg(out.at(-1), { ack: rs + 200 });
  assert.deepEqual(out.at(-1)!.sackBlocks, []);
});

Deno.test("SACK: the sender resends only the hole the peer reports", () => {
  const { h, conn, rs, ls } = established(sackOpts, sackSyn);
  conn.write(new Uint8Array(6 * 1460));
  h.recv();
  const m = 1460;
  for (let i = 2; i <= 4; i++) {
    h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: [ls + m, ls + i * m] });
  }
  const out = h.recv();
  expectSeg(out[0], { seq: ls, len: m });
  assert.ok(out.every((s) => s.seq !== ls + m), "SACKed data is not resent");
  assert.equal(conn.info.inRecovery, true);
  h.send({ seq: rs, ack: ls + 6 * m, flags: "ACK" });
  assert.equal(conn.info.inRecovery, false);
});

Deno.test("SACK: a loss is detected from SACKed bytes before three duplicate ACKs", () => {
  const { h, conn, rs, ls } = established(sackOpts, sackSyn);
  conn.write(new Uint8Array(6 * 1460));
  h.recv();
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: [ls + 1460, ls + 5 * 1460] });
  expectSeg(h.recv()[0], { seq: ls, len: 1460 });
});

Deno.test("SACK: two holes are both resent in one recovery", () => {
  const { h, conn, rs, ls } = established(sackOpts, sackSyn);
  const m = 1460;
  conn.write(new Uint8Array(8 * m));
  h.recv();
  const blocks = [ls + 4 * m, ls + 8 * m, ls + m, ls + 3 * m];
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: blocks });
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: blocks });
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: blocks });
  const seqs = h.recv().map((s) => s.seq);
  assert.ok(seqs.includes(ls >>> 0));
  assert.ok(seqs.includes((ls + 3 * m) >>> 0));
});

const tsOpts = { tcp: { timestamps: true } };
const tsSyn = { tsVal: 1000 };

Deno.test("timestamps: segments carry TSval and echo the peer's latest TSval", () => {
  const { h, conn, rs, ls } = established(tsOpts, tsSyn);
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10, tsVal: 1005, tsEcr: 0 });
  conn.write(pattern(10));
  const [seg] = h.recv();
  assert.equal(seg.tsEcr, 1005);
  assert.notEqual(seg.tsVal, undefined);
});

Deno.test("PAWS: a segment with an older timestamp is dropped and answered", () => {
  const { h, conn, rs, ls } = established(tsOpts, tsSyn);
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10, tsVal: 900 });
  assert.equal(conn.readable, 0);
  assert.equal(h.endpoint.stats.dropPaws, 1);
  expectSeg(h.recv()[0], { flags: "ACK", ack: rs });
});

Deno.test("PAWS: timestamps wrap like sequence numbers", () => {
  const { h, conn, rs, ls } = established(tsOpts, { tsVal: 0xfffffff0 });
  h.send({ seq: rs, ack: ls, flags: "ACK", payload: 10, tsVal: 5 });
  assert.equal(conn.readable, 10);
});

Deno.test("RTTM: the echoed timestamp measures RTT even for a retransmission", () => {
  const { h, conn, rs, ls } = established(tsOpts, tsSyn);
  conn.write(pattern(100));
  h.recv();
  const [again] = h.at(200);
  h.now = 260;
  h.send({ seq: rs, ack: ls + 100, flags: "ACK", tsVal: 1010, tsEcr: again.tsVal });
  assert.equal(conn.info.srtt, 60 / 8);
});

Deno.test("TLP: with SACK a tail loss probe resends the last segment after 2·SRTT", () => {
  const { h, conn, ls } = established(sackOpts, sackSyn);
  conn.write(new Uint8Array(3 * 1460));
  assert.equal(h.recv().length, 3);
  assert.equal(conn.info.rtoAt, 200);
  assert.deepEqual(h.at(9), []);
  const [probe] = h.at(10);
  expectSeg(probe, { seq: ls + 2 * 1460, len: 1460 });
  assert.equal(h.endpoint.stats.tailLossProbes, 1);
  assert.deepEqual(h.at(209), [], "one probe, then the RTO restarted from the probe");
  expectSeg(h.at(210)[0], { seq: ls });
});

Deno.test("TLP: a probe sends new data when the window holds some back", () => {
  const { h, conn, ls } = established(sackOpts, sackSyn);
  conn.write(new Uint8Array(20 * 1460));
  assert.equal(h.recv().length, 10);
  expectSeg(h.at(10)[0], { seq: ls + 10 * 1460, len: 1460 });
});

Deno.test("RACK: SACKed later data marks the first segment lost after RTT + SRTT/4", () => {
  const { h, conn, rs, ls } = established(sackOpts, sackSyn);
  const m = 1460;
  conn.write(new Uint8Array(4 * m));
  h.recv();
  h.now = 40;
  // Segment 1 is missing; 2 and 3 arrived. Too few duplicate ACKs for fast retransmit.
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: [ls + m, ls + 3 * m] });
  assert.equal(conn.info.inRecovery, true, "sent 40 ms ago, far beyond the 2 ms RTT");
  expectSeg(h.recv()[0], { seq: ls, len: m });
  assert.equal(h.endpoint.stats.rtoExpired, 0);
});

Deno.test("RACK: within the reordering window it waits, then a timer decides", () => {
  const { h, conn, rs, ls } = established(sackOpts, sackSyn);
  const m = 1460;
  conn.write(new Uint8Array(4 * m));
  h.recv();
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: [ls + m, ls + 2 * m] });
  assert.equal(conn.info.inRecovery, false, "just sent: maybe only reordered");
  assert.ok(h.endpoint.pollAt(h.now)! <= 1);
  expectSeg(h.at(1)[0], { seq: ls, len: m });
  assert.equal(conn.info.inRecovery, true);
});

Deno.test("TLP: not used without SACK", () => {
  const { h, conn } = established();
  conn.write(new Uint8Array(3 * 1460));
  h.recv();
  assert.deepEqual(h.at(100), []);
});

Deno.test("SACK: a lost retransmission is resent once SACKs show an RTT has passed", () => {
  const { h, conn, rs, ls } = established(sackOpts, sackSyn);
  const m = 1460;
  conn.write(new Uint8Array(8 * m));
  h.recv();
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: [ls + m, ls + 4 * m] });
  const first = h.recv();
  expectSeg(first[0], { seq: ls, len: m });
  // More SACKs arrive well after an RTT while the hole stays: the resend was lost too.
  h.now = 50;
  h.send({ seq: rs, ack: ls, flags: "ACK", sackBlocks: [ls + m, ls + 6 * m] });
  const again = h.recv();
  assert.ok(again.some((s) => s.seq === ls >>> 0), "the hole is resent again");
  assert.equal(h.endpoint.stats.lostRetransmits, 1);
});

Deno.test("congestion: an idle period longer than the RTO restarts from the initial window", () => {
  const { h, conn, rs, ls } = established({ tcp: { congestion: newReno } });
  conn.write(new Uint8Array(40 * 1460));
  let acked = 0;
  for (let round = 0; round < 4; round++) {
    const out = h.recv();
    acked += out.reduce((n, s) => n + s.payload.length, 0);
    h.send({ seq: rs, ack: ls + acked, flags: "ACK" });
  }
  assert.ok(conn.info.cwnd > 10 * 1460);
  h.now = 10_000;
  conn.write(new Uint8Array(40 * 1460));
  assert.equal(h.recv().length, 10);
});

Deno.test("congestion: a stretch ACK still doubles cwnd in slow start", () => {
  const { h, conn, rs, ls } = established({ tcp: { congestion: newReno } });
  conn.write(new Uint8Array(60 * 1460));
  const before = conn.info.cwnd;
  const out = h.recv();
  assert.equal(out.length, 10);
  // One ACK for all ten segments, as a batching receiver sends.
  h.send({ seq: rs, ack: ls + 10 * 1460, flags: "ACK" });
  assert.equal(conn.info.cwnd, 2 * before);
});
