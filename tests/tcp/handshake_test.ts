import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import {
  buildSegment,
  established,
  expectSeg,
  Harness,
  listening,
  LOCAL,
  LOCAL_PORT,
  REMOTE,
  REMOTE_ISN,
  REMOTE_PORT,
  synReceived,
  synSent,
} from "./fixture.ts";

Deno.test("listen: a SYN is answered with SYN-ACK carrying our MSS", () => {
  const { synAck } = synReceived();
  expectSeg(synAck, { flags: "SYN|ACK", ack: REMOTE_ISN + 1, len: 0 });
  assert.equal(synAck.mss, 1460);
  assert.equal(synAck.srcPort, LOCAL_PORT);
  assert.equal(synAck.dstPort, REMOTE_PORT);
});

Deno.test("listen: the handshake's ACK establishes and raises an open event", () => {
  const { h, listener, iss } = synReceived();
  assert.equal(listener.pending, 0);
  assert.equal(listener.synReceived, 1);
  h.send({ seq: REMOTE_ISN + 1, ack: iss + 1, flags: "ACK" });
  assert.deepEqual(h.events, ["open:80"]);
  assert.equal(listener.synReceived, 0);
  const conn = listener.accept()!;
  assert.equal(conn.state, TcpState.Established);
  assert.equal(listener.accept(), undefined);
  assert.deepEqual(h.recv(), []);
});

Deno.test("SYN-RECEIVED: the SYN-ACK is retransmitted after the initial RTO", () => {
  const { h, iss } = synReceived();
  assert.deepEqual(h.at(999), []);
  const [again] = h.at(1000);
  expectSeg(again, { flags: "SYN|ACK", seq: iss, ack: REMOTE_ISN + 1 });
  assert.deepEqual(h.at(2999), []);
  expectSeg(h.at(3000)[0], { flags: "SYN|ACK", seq: iss });
});

Deno.test("SYN-RECEIVED: the half-open connection is dropped after its SYN-ACK retries", () => {
  const { h, listener } = synReceived({ tcp: { synAckRetries: 2 } });
  const out = h.runUntil(60_000);
  assert.equal(out.length, 2);
  assert.equal(h.endpoint.connectionCount, 0);
  assert.equal(listener.synReceived, 0);
  assert.deepEqual(h.events, []);
});

Deno.test("SYN-RECEIVED: an unacceptable ACK gets a RST from its ack number", () => {
  const { h, iss, conn } = synReceived();
  h.send({ seq: REMOTE_ISN + 1, ack: iss + 5, flags: "ACK" });
  expectSeg(h.recv()[0], { flags: "RST", seq: iss + 5 });
  assert.equal(conn.state, TcpState.SynReceived);
});

Deno.test("SYN-RECEIVED: a RST returns a passive open to LISTEN silently", () => {
  const { h, listener } = synReceived();
  h.send({ seq: REMOTE_ISN + 1, flags: "RST" });
  assert.equal(h.endpoint.connectionCount, 0);
  assert.equal(listener.synReceived, 0);
  assert.deepEqual(h.recv(), []);
  assert.deepEqual(h.events, []);
});

Deno.test("SYN-RECEIVED: a retransmitted SYN gets a challenge ACK, not a new connection", () => {
  const { h, iss } = synReceived();
  h.send({ seq: REMOTE_ISN, flags: "SYN", mss: 1460 });
  const out = h.recv();
  assert.equal(out.length, 1);
  expectSeg(out[0], { flags: "ACK", seq: iss + 1, ack: REMOTE_ISN + 1 });
  assert.equal(h.endpoint.connectionCount, 1);
});

Deno.test("SYN-SENT: connect sends a SYN with our options", () => {
  const { syn, conn } = synSent({ tcp: { windowScaling: true, sack: true, timestamps: true } });
  expectSeg(syn, { flags: "SYN", ack: 0, len: 0 });
  assert.equal(syn.mss, 1460);
  assert.equal(syn.sackPermitted, true);
  assert.notEqual(syn.windowScale, undefined);
  assert.notEqual(syn.tsVal, undefined);
  assert.equal(conn.state, TcpState.SynSent);
});

Deno.test("SYN-SENT: a SYN-ACK establishes and is acknowledged at once", () => {
  const { h, conn, iss } = synSent();
  h.send({ seq: 5000, ack: iss + 1, flags: "SYN|ACK", mss: 1000 });
  assert.equal(conn.state, TcpState.Established);
  assert.deepEqual(h.events, ["in"]);
  expectSeg(h.recv()[0], { flags: "ACK", seq: iss + 1, ack: 5001, len: 0 });
  assert.equal(conn.info.mss, 1000);
});

Deno.test("SYN-SENT: an acceptable RST refuses the connection", () => {
  const { h, conn, iss } = synSent();
  h.send({ seq: 0, ack: iss + 1, flags: "RST|ACK" });
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "refused");
  assert.equal(h.endpoint.connectionCount, 0);
});

Deno.test("SYN-SENT: a RST without ACK is ignored", () => {
  const { h, conn } = synSent();
  h.send({ seq: 0, flags: "RST" });
  assert.equal(conn.state, TcpState.SynSent);
});

Deno.test("SYN-SENT: a RST with an unacceptable ACK is ignored", () => {
  const { h, conn, iss } = synSent();
  h.send({ seq: 0, ack: iss + 7, flags: "RST|ACK" });
  assert.equal(conn.state, TcpState.SynSent);
});

Deno.test("SYN-SENT: an ACK of something never sent gets a RST", () => {
  const { h, conn, iss } = synSent();
  h.send({ seq: 5000, ack: iss + 100, flags: "SYN|ACK" });
  expectSeg(h.recv()[0], { flags: "RST", seq: iss + 100 });
  assert.equal(conn.state, TcpState.SynSent);
});

Deno.test("SYN-SENT: the SYN is retransmitted with exponential backoff, then connect times out", () => {
  const { h, conn, iss } = synSent({ tcp: { synRetries: 3 } });
  expectSeg(h.at(1000)[0], { flags: "SYN", seq: iss });
  assert.deepEqual(h.at(2999), []);
  expectSeg(h.at(3000)[0], { flags: "SYN", seq: iss });
  expectSeg(h.at(7000)[0], { flags: "SYN", seq: iss });
  assert.deepEqual(h.at(14_999), []);
  h.at(15_000);
  assert.equal(conn.state, TcpState.Closed);
  assert.equal(conn.error, "timedOut");
});

Deno.test("SYN-SENT: a SYN without ACK is a simultaneous open answered with SYN-ACK", () => {
  const { h, conn, iss } = synSent();
  h.send({ seq: 7000, flags: "SYN", mss: 1460 });
  assert.equal(conn.state, TcpState.SynReceived);
  expectSeg(h.recv()[0], { flags: "SYN|ACK", seq: iss, ack: 7001 });
  h.send({ seq: 7001, ack: iss + 1, flags: "ACK" });
  assert.equal(conn.state, TcpState.Established);
});

Deno.test("simultaneous open: the peer's SYN-ACK completes SYN-RECEIVED", () => {
  const { h, conn, iss } = synSent();
  h.send({ seq: 7000, flags: "SYN", mss: 1460 });
  h.recv();
  h.send({ seq: 7000, ack: iss + 1, flags: "SYN|ACK", mss: 1460 });
  // RFC 5961 §4: a SYN in SYN-RECEIVED draws a challenge ACK; the state machine stays consistent.
  assert.notEqual(conn.state, TcpState.Closed);
});

Deno.test("CLOSED: a SYN to a closed port gets RST|ACK acknowledging it", () => {
  const h = new Harness();
  h.send({ seq: 1234, flags: "SYN" });
  expectSeg(h.recv()[0], { flags: "RST|ACK", seq: 0, ack: 1235 });
  assert.deepEqual(h.events, ["stray"]);
  assert.equal(h.endpoint.stats.rstSent, 1);
});

Deno.test("CLOSED: an ACK to a closed port gets a RST from its ack number", () => {
  const h = new Harness();
  h.send({ seq: 1234, ack: 999, flags: "ACK", payload: 10 });
  expectSeg(h.recv()[0], { flags: "RST", seq: 999 });
});

Deno.test("CLOSED: data without ACK is answered with RST|ACK covering it", () => {
  const h = new Harness();
  h.send({ seq: 100, flags: "PSH|FIN", payload: 10 });
  expectSeg(h.recv()[0], { flags: "RST|ACK", seq: 0, ack: 111 });
});

Deno.test("CLOSED: a RST is never answered", () => {
  const h = new Harness();
  h.send({ seq: 1234, flags: "RST" });
  assert.deepEqual(h.recv(), []);
});

Deno.test("LISTEN: a bare ACK with no valid cookie gets a RST", () => {
  const { h } = listening();
  h.send({ seq: 1, ack: 4242, flags: "ACK" });
  expectSeg(h.recv()[0], { flags: "RST", seq: 4242 });
  assert.equal(h.endpoint.stats.synCookiesRejected, 1);
});

Deno.test("LISTEN: a RST is ignored", () => {
  const { h } = listening();
  h.send({ seq: 1, flags: "RST" });
  assert.deepEqual(h.recv(), []);
});

Deno.test("LISTEN: many pending handshakes fit the backlog", () => {
  const { h, listener } = listening({}, 8);
  for (let i = 0; i < 8; i++) h.send({ seq: 100 * i, flags: "SYN", srcPort: 40000 + i });
  assert.equal(h.recv().length, 8);
  assert.equal(listener.synReceived, 8);
  assert.equal(h.endpoint.connectionCount, 8);
});

Deno.test("LISTEN: past the backlog a SYN cookie answers, and its ACK opens a connection", () => {
  const { h, listener } = listening({}, 1);
  h.send({ seq: 1, flags: "SYN", srcPort: 40000 });
  h.recv();
  h.send({ seq: 500, flags: "SYN", srcPort: 40001, mss: 1400 });
  const [cookie] = h.recv();
  expectSeg(cookie, { flags: "SYN|ACK", ack: 501 });
  assert.equal(h.endpoint.connectionCount, 1, "no state for the cookie SYN");
  assert.equal(h.endpoint.stats.synCookiesSent, 1);
  h.send({ seq: 501, ack: cookie.seq + 1, flags: "ACK", srcPort: 40001, payload: 5 });
  assert.equal(h.endpoint.stats.synCookiesAccepted, 1);
  assert.deepEqual(h.events, ["open:80"]);
  const conn = listener.accept()!;
  assert.equal(conn.remotePort, 40001);
  assert.equal(conn.state, TcpState.Established);
  assert.equal(conn.info.mss, 1300, "the MSS rounded down to the cookie table");
  assert.equal(conn.readable, 5);
});

Deno.test("LISTEN: past the backlog without cookies the SYN is dropped", () => {
  const { h } = listening({ synCookies: false }, 1);
  h.send({ seq: 1, flags: "SYN", srcPort: 40000 });
  h.send({ seq: 2, flags: "SYN", srcPort: 40001 });
  assert.equal(h.recv().length, 1);
  assert.equal(h.endpoint.stats.dropBacklogFull, 1);
});

Deno.test("LISTEN: a forged cookie ACK is reset", () => {
  const { h } = listening({}, 1);
  h.send({ seq: 1, flags: "SYN", srcPort: 40000 });
  h.recv();
  h.send({ seq: 500, flags: "SYN", srcPort: 40001 });
  const [cookie] = h.recv();
  h.send({ seq: 501, ack: cookie.seq + 1000, flags: "ACK", srcPort: 40001 });
  expectSeg(h.recv()[0], { flags: "RST" });
  assert.equal(h.endpoint.connectionCount, 1);
});

Deno.test("LISTEN: a closed listener refuses new SYNs and resets unaccepted connections", () => {
  const { h, listener } = established();
  h.send({ seq: 1, flags: "SYN", srcPort: 40000 });
  h.recv();
  h.send({ seq: 2, ack: h.ip.sent.length, flags: "ACK", srcPort: 40000 });
  listener.close();
  h.send({ seq: 9, flags: "SYN", srcPort: 40002 });
  const out = h.recv();
  assert.ok(out.some((s) => s.flags === 0x14 && s.dstPort === 40002), "RST|ACK for the new SYN");
});

Deno.test("receive: a bad checksum is dropped and counted", () => {
  const { h } = listening();
  const { bytes, src, dst } = buildSegment({ seq: 1, flags: "SYN", payload: 4, corrupt: true });
  h.endpoint.receive({ src, dst, bytes, offset: 0, length: bytes.length }, 0);
  assert.deepEqual(h.recv(), []);
  assert.equal(h.endpoint.stats.dropChecksum, 1);
});

Deno.test("receive: a truncated header is dropped and counted", () => {
  const { h } = listening();
  const { bytes, src, dst } = buildSegment({ seq: 1, flags: "SYN" });
  h.endpoint.receive({ src, dst, bytes, offset: 0, length: 12 }, 0);
  assert.equal(h.endpoint.stats.dropMalformed, 1);
});

Deno.test("receive: random garbage never throws", () => {
  const { h } = established();
  let state = 12345;
  for (let i = 0; i < 2000; i++) {
    const length = 20 + (i % 60);
    const bytes = new Uint8Array(length);
    for (let j = 0; j < length; j++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      bytes[j] = state >>> 24;
    }
    h.endpoint.receive({ src: REMOTE, dst: LOCAL, bytes, offset: 0, length }, i);
  }
  h.endpoint.poll(3000, h.ip);
  assert.ok(h.endpoint.stats.dropChecksum + h.endpoint.stats.dropMalformed > 1900);
});

Deno.test("options: a peer without an MSS option gets 536-byte segments", () => {
  const { h, conn } = established({}, { mss: undefined });
  assert.equal(conn.info.mss, 536);
  conn.write(new Uint8Array(2000));
  const out = h.recv();
  assert.ok(out.every((s) => s.payload.length <= 536));
  assert.equal(out[0].payload.length, 536);
});

Deno.test("options: a small link MTU lowers the MSS we announce", () => {
  const h = new Harness();
  h.ip.mtu = 1280 - 20; // a 1280-byte link: the IPv4 layer reports its payload size
  h.endpoint.connect(REMOTE, REMOTE_PORT, { localAddr: LOCAL });
  // RFC 9293 §3.7.1, RFC 6691: the MSS is the IP payload less a bare TCP header.
  assert.equal(h.recv()[0].mss, 1240);
});

Deno.test("options: the MSS on a 1500-byte link is 1460, and 1448 with timestamps", () => {
  const { h, syn, conn, iss } = synSent({ tcp: { timestamps: true } });
  assert.equal(h.ip.mtu, 1480);
  assert.equal(syn.mss, 1460);
  h.send({ seq: 7000, ack: iss + 1, flags: "SYN|ACK", mss: 1460, tsVal: 1 });
  assert.equal(conn.info.mss, 1448, "timestamps take 12 of the 1460 bytes (RFC 6691)");
  conn.write(new Uint8Array(4000));
  assert.equal(h.recv().find((s) => s.payload.length > 0)?.payload.length, 1448);
});

Deno.test("options: window scaling is used only when both sides offer it", () => {
  const both = established({ tcp: { windowScaling: true, recvBufferSize: 1 << 20 } }, {
    windowScale: 7,
  });
  assert.equal(both.synAck.windowScale, 5);
  assert.equal(both.conn.info.sndWscale, 7);
  assert.equal(both.conn.info.rcvWscale, 5);
  const one = established({ tcp: { windowScaling: true, recvBufferSize: 1 << 20 } });
  assert.equal(one.synAck.windowScale, undefined);
  assert.equal(one.conn.info.sndWscale, 0);
  assert.equal(one.conn.info.rcvWscale, 0);
});

Deno.test("options: the SYN's window is never scaled, later windows are", () => {
  const { h, conn, iss } = synReceived({ tcp: { windowScaling: true } }, {
    windowScale: 2,
    window: 1000,
  });
  assert.equal(conn.info.sndWnd, 1000);
  h.send({ seq: REMOTE_ISN + 1, ack: iss + 1, flags: "ACK", window: 1000 });
  assert.equal(conn.info.sndWnd, 4000);
});

Deno.test("options: SACK-permitted and timestamps are echoed when offered", () => {
  const { synAck, conn } = established({ tcp: { sack: true, timestamps: true } }, {
    sackPermitted: true,
    tsVal: 777,
  });
  assert.equal(synAck.sackPermitted, true);
  assert.equal(synAck.tsEcr, 777);
  assert.equal(conn.info.sack, true);
  assert.equal(conn.info.timestamps, true);
  assert.equal(conn.info.mss, 1460 - 12, "timestamps take 12 bytes of each segment");
});

Deno.test("options: nothing is echoed that the peer did not offer", () => {
  const { synAck, conn } = established({ tcp: { sack: true, timestamps: true } });
  assert.equal(synAck.sackPermitted, false);
  assert.equal(synAck.tsVal, undefined);
  assert.equal(conn.info.sack, false);
});

Deno.test("ISN: different four-tuples get unrelated initial sequence numbers", () => {
  const { h } = listening();
  h.send({ seq: 1, flags: "SYN", srcPort: 40000 });
  h.send({ seq: 1, flags: "SYN", srcPort: 40001 });
  const [a, b] = h.recv();
  assert.notEqual(a.seq, b.seq);
  assert.ok(Math.abs(a.seq - b.seq) > 1000);
});

Deno.test("connect: an ephemeral port is chosen and the source address comes from the IP layer", () => {
  const h = new Harness();
  const conn = h.endpoint.connect(REMOTE, 443);
  const [syn] = h.recv();
  assert.equal(conn.localAddr, LOCAL);
  assert.ok(syn.srcPort >= 49152 && syn.srcPort < 65536);
  assert.equal(syn.srcPort, conn.localPort);
});

Deno.test("LISTEN: a cookie carries window scale and SACK in the timestamp, as in Linux", () => {
  const { h, listener } = listening({
    tcp: { timestamps: true, sack: true, windowScaling: true, recvBufferSize: 1 << 20 },
  }, 1);
  h.send({ seq: 1, flags: "SYN", srcPort: 40000 });
  h.recv();
  h.send({
    seq: 500,
    flags: "SYN",
    srcPort: 40001,
    mss: 1460,
    windowScale: 6,
    sackPermitted: true,
    tsVal: 12345,
  });
  const [cookie] = h.recv();
  expectSeg(cookie, { flags: "SYN|ACK", ack: 501 });
  assert.equal(cookie.tsEcr, 12345);
  assert.equal(cookie.windowScale, 5);
  assert.equal(cookie.sackPermitted, true);
  h.send({
    seq: 501,
    ack: cookie.seq + 1,
    flags: "ACK",
    srcPort: 40001,
    tsVal: 12346,
    tsEcr: cookie.tsVal,
    window: 100,
  });
  const conn = listener.accept()!;
  assert.equal(conn.info.timestamps, true);
  assert.equal(conn.info.sack, true);
  assert.equal(conn.info.sndWscale, 6);
  assert.equal(conn.info.rcvWscale, 5);
  assert.equal(conn.info.sndWnd, 6400);
});
