import assert from "node:assert/strict";
import { challengeAck, oowAckAllowed } from "./challenge_ack.ts";
import { TCP_DEFAULTS } from "./config.ts";
import { TcpConnection, type TcpHost } from "./connection.ts";
import { SegmentTx } from "./segment_tx.ts";
import { newTcpStats } from "./stats.ts";

function connection(challengeAckLimit: number): { conn: TcpConnection; readies: number[] } {
  const readies: number[] = [];
  const host: TcpHost = {
    tx: new SegmentTx(),
    stats: newTcpStats(),
    ready: (conn) => readies.push(conn.key),
    control: () => {},
    challengeAckLimit,
  };
  const conn = new TcpConnection(host, TCP_DEFAULTS, 0x0a000001, 80, 0x0a000002, 40000, 0);
  return { conn, readies };
}

Deno.test("challenge ACKs stop at the per-second limit and resume the next second", () => {
  const { conn, readies } = connection(2);
  const stats = conn.tcb.host.stats;
  for (let i = 0; i < 5; i++) challengeAck(conn, 1000 + i * 100);
  assert.equal(stats.challengeAcks, 2);
  assert.equal(stats.challengeAcksSuppressed, 3);
  assert.equal(readies.length, 2);
  assert.equal(conn.tcb.ackNow, true);

  conn.tcb.ackNow = false;
  challengeAck(conn, 2000);
  assert.equal(stats.challengeAcks, 3);
  assert.equal(conn.tcb.ackNow, true);
});

Deno.test("a suppressed challenge ACK asks for nothing", () => {
  const { conn, readies } = connection(0);
  challengeAck(conn, 0);
  assert.equal(conn.tcb.host.stats.challengeAcksSuppressed, 1);
  assert.equal(conn.tcb.ackNow, false);
  assert.deepEqual(readies, []);
});

Deno.test("out-of-window ACKs go at most once per 500 ms", () => {
  const { conn } = connection(100);
  const stats = conn.tcb.host.stats;
  assert.equal(oowAckAllowed(conn, 10_000), true);
  assert.equal(oowAckAllowed(conn, 10_499), false);
  assert.equal(stats.oowAcksSuppressed, 1);
  assert.equal(oowAckAllowed(conn, 10_500), true);
  assert.equal(oowAckAllowed(conn, 10_500), false);
  assert.equal(stats.oowAcksSuppressed, 2);
});
