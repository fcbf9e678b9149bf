import assert from "node:assert/strict";
import { TCP_DEFAULTS } from "./config.ts";
import type { TcpHost } from "./connection.ts";
import { SegmentTx } from "./segment_tx.ts";
import { SendBuffer } from "./send_buffer.ts";
import { newTcpStats } from "./stats.ts";
import { Tcb } from "./tcb.ts";

const host: TcpHost = {
  tx: new SegmentTx(),
  stats: newTcpStats(),
  ready: () => {},
  control: () => {},
  challengeAckLimit: 100,
};

Deno.test("setIss starts the send sequence space, the buffer one past the SYN across the wrap", () => {
  const t = new Tcb(host, TCP_DEFAULTS, 0);
  t.setIss(-1);
  assert.equal(t.iss, 0xffffffff);
  assert.equal(t.sndUna, 0xffffffff);
  assert.equal(t.sndNxt, 0xffffffff);
  assert.equal(t.sndMax, 0xffffffff);
  assert.equal(t.recover, 0xffffffff);
  assert.equal(t.sndBufSeq, 0);
});

Deno.test("dataEnd is where FIN goes: past the last byte the app wrote", () => {
  const t = new Tcb(host, TCP_DEFAULTS, 0);
  t.setIss(0xfffffff0);
  assert.equal(t.dataEnd(), 0xfffffff1);
  t.sendBuf = new SendBuffer(64);
  t.sendBuf.write(new Uint8Array(20));
  assert.equal(t.dataEnd(), 5);
});

Deno.test("recvFree is the whole configured buffer until the buffer exists", () => {
  const t = new Tcb(host, { ...TCP_DEFAULTS, recvBufferSize: 4096 }, 0);
  assert.equal(t.recvFree(), 4096);
});
