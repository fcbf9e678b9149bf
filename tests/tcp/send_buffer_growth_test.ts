/**
 * Send buffer autotuning (as Linux's tcp_sndbuf_expand): a bulk sender that keeps its send buffer full
 * gets a larger one, twice what the windows let fly and at most `sendBufferMax`; an explicit
 * `sendBufferSize` fixes the size, and a connection that never fills its buffer keeps it.
 */
import assert from "node:assert/strict";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpConfig } from "../../stack/layer/tcp/config.ts";
import { Rng } from "../../stack/util/rng.ts";
import { ADDR_B, Sim } from "./sim.ts";
import { sha256 } from "./transfer.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** Sends `total` bytes from A to B, writing until the buffer is full; returns the sizes seen. */
async function bulk(tcp: Partial<TcpConfig>, total: number, chunk = 64 * KIB) {
  const sim = new Sim({ seed: 3, tcp });
  const data = new Uint8Array(total);
  new Rng(11).fill(data);
  const got = new Uint8Array(total + 1);
  let received = 0;
  let sent = 0;
  let first = 0;
  let largest = 0;
  sim.tcpB.listen(80, {
    handler: {
      receive(event) {
        if (event.kind !== "open") return;
        const conn = event.listener.accept()!;
        const drain = () => {
          for (let n = conn.read(got, received); n > 0; n = conn.read(got, received)) received += n;
        };
        conn.handler = { receive: drain };
        drain();
      },
    },
  });
  const pump = (c: TcpConnection) => {
    while (sent < total && c.writable > 0) {
      sent += c.write(data, sent, Math.min(chunk, total - sent));
    }
    // Unacknowledged plus writable is the buffer's size.
    const size = c.writable + c.unacknowledged;
    if (first === 0) first = size;
    largest = Math.max(largest, size);
    if (sent === total && !c.writeClosed) c.closeWrite();
  };
  const conn = sim.tcpA.connect(ADDR_B, 80, { handler: { receive: () => pump(conn) } });
  const done = sim.run(() => received === total && conn.unacknowledged === 0);
  assert.ok(done, `received ${received} of ${total}`);
  assert.equal(await sha256(got.subarray(0, received)), await sha256(data));
  return { first, largest };
}

Deno.test("send buffer: a bulk sender's buffer grows to twice the peer's window", async () => {
  const { first, largest } = await bulk({}, 8 * MIB);
  assert.equal(first, 256 * KIB);
  // The peer offers its 256 KiB receive buffer: twice that keeps a window in flight and one queued.
  assert.equal(largest, 512 * KIB);
});

Deno.test("send buffer: growth stops at sendBufferMax", async () => {
  const { largest } = await bulk({ recvBufferSize: 4 * MIB, sendBufferMax: 1 * MIB }, 16 * MIB);
  assert.equal(largest, 1 * MIB);
});

Deno.test("send buffer: an explicit sendBufferSize fixes the size, as SO_SNDBUF does", async () => {
  const { first, largest } = await bulk({ sendBufferSize: 64 * KIB }, 4 * MIB);
  assert.equal(first, 64 * KIB);
  assert.equal(largest, 64 * KIB);
});

Deno.test("send buffer: a sender that never fills its buffer keeps its size", () => {
  // 1 KiB writes, each only once the previous ones are acknowledged: never a full buffer.
  const sim = new Sim({ seed: 4 });
  let received = 0;
  sim.tcpB.listen(80, {
    handler: {
      receive(event) {
        if (event.kind !== "open") return;
        const conn = event.listener.accept()!;
        const buf = new Uint8Array(4096);
        conn.handler = {
          receive: () => {
            for (let n = conn.read(buf); n > 0; n = conn.read(buf)) received += n;
          },
        };
      },
    },
  });
  const piece = new Uint8Array(KIB);
  let writes = 0;
  let largest = 0;
  const conn = sim.tcpA.connect(ADDR_B, 80, {
    handler: {
      receive: (event) => {
        if (event.kind !== "in") return;
        const c = event.conn;
        if (c.unacknowledged === 0 && writes < 200) {
          c.write(piece);
          writes++;
        }
        largest = Math.max(largest, c.writable + c.unacknowledged);
      },
    },
  });
  assert.ok(sim.run(() => received === 200 * KIB && conn.unacknowledged === 0));
  assert.equal(largest, 256 * KIB);
});
