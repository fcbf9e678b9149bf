import assert from "node:assert/strict";
import {
  AddrInUse,
  BadResource,
  ConnectionRefused,
  ConnectionReset,
  type TcpConn,
  TcpSockets,
  TimedOut,
} from "../../stack/socket/tcp.ts";
import { RecvBuffer } from "../../stack/layer/tcp/recv_buffer.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Sim } from "./sim.ts";

const waker = { wake() {} };

function sockets(options: ConstructorParameters<typeof Sim>[0] = {}) {
  const sim = new Sim(options);
  return { sim, a: new TcpSockets(sim.tcpA, waker), b: new TcpSockets(sim.tcpB, waker) };
}

/** Two stacks with a connection between them: the client on A, the server's end on B (port 7). */
async function connected(options: ConstructorParameters<typeof Sim>[0] = {}) {
  const { sim, a, b } = sockets(options);
  const listener = b.listen({ port: 7 });
  const accepted = listener.accept();
  const client = await sim.drive(a.connect({ hostname: "10.0.0.2", port: 7 }));
  const server = await sim.drive(accepted);
  return { sim, listener, client, server };
}

async function readAll(conn: TcpConn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("socket: connect, echo a message, and close like Deno.Conn", async () => {
  const { sim, a, b } = sockets();
  const listener = b.listen({ port: 7 });
  const server = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(100);
    const n = (await conn.read(buf))!;
    await conn.write(buf.subarray(0, n));
    assert.equal(await conn.read(buf), null);
    conn.close();
  })();
  const client = (async () => {
    const conn = await a.connect({ hostname: "10.0.0.2", port: 7 });
    assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname: "10.0.0.2", port: 7 });
    assert.equal(conn.localAddr.hostname, "10.0.0.1");
    assert.ok(conn.localAddr.port >= 49152);
    await conn.write(new TextEncoder().encode("hello"));
    await conn.closeWrite();
    const got = new TextDecoder().decode(await readAll(conn));
    conn.close();
    return got;
  })();
  assert.equal(await sim.drive(client), "hello");
  await sim.drive(server);
  listener.close();
});

Deno.test("socket: connecting to a closed port rejects with ConnectionRefused", async () => {
  const { sim, a } = sockets();
  await assert.rejects(sim.drive(a.connect({ hostname: "10.0.0.2", port: 9 })), ConnectionRefused);
});

Deno.test("socket: a peer that never answers makes connect reject with TimedOut", async () => {
  const { sim, a } = sockets({ tcp: { synRetries: 2 }, impair: { aToB: { loss: 1 } } });
  await assert.rejects(sim.drive(a.connect({ hostname: "10.0.0.2", port: 9 })), TimedOut);
});

Deno.test("socket: a reset from the peer rejects read with ConnectionReset", async () => {
  const { sim, listener, client: conn, server } = await connected();
  server.writable.abort();
  await assert.rejects(sim.drive(conn.read(new Uint8Array(10))), ConnectionReset);
  listener.close();
});

Deno.test("socket: listening twice on a port throws AddrInUse", () => {
  const { b } = sockets();
  const listener = b.listen({ port: 7 });
  assert.throws(() => b.listen({ port: 7 }), AddrInUse);
  listener.close();
});

Deno.test("socket: read after close rejects with BadResource", async () => {
  const { sim, a, b } = sockets();
  const listener = b.listen({ port: 7 });
  const conn = await sim.drive(a.connect({ hostname: "10.0.0.2", port: 7 }));
  conn.close();
  await assert.rejects(conn.read(new Uint8Array(1)), BadResource);
  listener.close();
});

Deno.test("socket: a closed listener ends its async iteration", async () => {
  const { sim, a, b } = sockets();
  const listener = b.listen({ port: 7 });
  const seen: number[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      seen.push(conn.remoteAddr.port);
      conn.close();
      if (seen.length === 3) listener.close();
    }
  })();
  for (let i = 0; i < 3; i++) await sim.drive(a.connect({ hostname: "10.0.0.2", port: 7 }));
  await sim.drive(loop);
  assert.equal(seen.length, 3);
  assert.equal(new Set(seen).size, 3);
});

Deno.test("socket: half-close keeps the other direction open", async () => {
  const { sim, listener, client, server } = await connected();
  await client.closeWrite();
  assert.equal(await sim.drive(server.read(new Uint8Array(10))), null);
  await sim.drive(server.write(new TextEncoder().encode("late reply")));
  await server.closeWrite();
  assert.equal(new TextDecoder().decode(await sim.drive(readAll(client))), "late reply");
  listener.close();
});

Deno.test("socket: Web Streams carry 1 MiB each way over a lossy link", async () => {
  const { sim, a, b } = sockets({ impair: { loss: 0.02, delayMs: 1 } });
  const listener = b.listen({ port: 7 });
  const data = new Uint8Array(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
  const server = (async () => {
    const conn = await listener.accept();
    // Echo with the streams: readable piped into writable.
    await conn.readable.pipeTo(conn.writable);
  })();
  const client = (async () => {
    const conn = await a.connect({ hostname: "10.0.0.2", port: 7 });
    const writer = conn.writable.getWriter();
    const sending = (async () => {
      for (let at = 0; at < data.length; at += 10_000) {
        await writer.write(data.subarray(at, Math.min(at + 10_000, data.length)));
      }
      await writer.close();
    })();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of conn.readable) {
      chunks.push(chunk.slice());
      total += chunk.length;
    }
    await sending;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  })();
  const echoed = await sim.drive(client);
  await sim.drive(server);
  assert.equal(echoed.length, data.length);
  assert.deepEqual(echoed, data);
  listener.close();
});

Deno.test("socket: connect needs an IPv4 literal until a resolver is plugged in", async () => {
  const { a } = sockets();
  await assert.rejects(a.connect({ hostname: "example.test", port: 80 }), TypeError);
  const { sim, b } = sockets();
  const resolving = new TcpSockets(sim.tcpA, waker, { resolve: () => Promise.resolve(0x0a000002) });
  const listener = b.listen({ port: 80 });
  const conn = await sim.drive(resolving.connect({ hostname: "peer.test", port: 80 }));
  assert.equal(conn.remoteAddr.hostname, "10.0.0.2");
  listener.close();
});

Deno.test("socket: concurrent reads and writes on one connection all complete", async () => {
  const { sim, listener, client, server } = await connected();
  const buf1 = new Uint8Array(10);
  const buf2 = new Uint8Array(10);
  const reads = Promise.all([server.read(buf1), server.read(buf2)]);
  const writes = Promise.all([
    client.write(new Uint8Array(5).fill(1)),
    client.write(new Uint8Array(5).fill(2)),
  ]);
  assert.deepEqual(await sim.drive(writes), [5, 5]);
  await client.closeWrite();
  const [n1, n2] = await sim.drive(reads);
  assert.equal((n1 ?? 0) + (n2 ?? 0) >= 5, true);
  listener.close();
});

/** Runs `body` while counting the lent segments the receive buffer had to copy before release. */
async function countingRingCopies(body: () => Promise<void>): Promise<number> {
  const settle = RecvBuffer.prototype.settle;
  let copies = 0;
  RecvBuffer.prototype.settle = function (this: RecvBuffer) {
    if (this.lending) copies++;
    settle.call(this);
  };
  try {
    await body();
  } finally {
    RecvBuffer.prototype.settle = settle;
  }
  return copies;
}

Deno.test("socket: a waiting read takes a whole flight straight from the segments", async () => {
  const { sim, listener, client, server } = await connected();
  const data = new Uint8Array(8 * 1460);
  new Rng(9293).fill(data);
  const buf = new Uint8Array(64 * 1024);
  let n: number | null = 0;
  const copies = await countingRingCopies(async () => {
    const read = server.read(buf);
    await sim.drive(client.write(data));
    n = await sim.drive(read);
  });
  // Eight segments in one flight, polled before the reader ran again: all landed in its buffer.
  assert.equal(n, data.length);
  assert.deepEqual(buf.subarray(0, data.length), data);
  assert.equal(copies, 0);
  assert.equal(server.connection.readable, 0);
  listener.close();
});

Deno.test("socket: what a waiting read cannot take stays readable, in order", async () => {
  const { sim, listener, client, server } = await connected({
    seed: 17,
    impair: { loss: 0.05, delayMs: 1 },
  });
  const data = new Uint8Array(200_000);
  new Rng(1122).fill(data);
  const writing = (async () => {
    for (let at = 0; at < data.length;) at += await client.write(data.subarray(at));
    await client.closeWrite();
  })();
  // Reads smaller than a segment, and of odd sizes, each waiting before the bytes come.
  const got = new Uint8Array(data.length);
  let at = 0;
  let size = 1;
  for (;;) {
    const n = await sim.drive(server.read(got.subarray(at, Math.min(got.length, at + size))));
    if (n === null) break;
    at += n;
    size = (size * 7 + 3) % 3001 + 1;
    if (at === got.length) {
      assert.equal(await sim.drive(server.read(new Uint8Array(1))), null);
      break;
    }
  }
  await sim.drive(writing);
  assert.equal(at, data.length);
  assert.deepEqual(got, data);
  listener.close();
});

Deno.test("socket: an echo through pipeTo with small buffers and loss never deadlocks", async () => {
  for (let seed = 1; seed <= 4; seed++) {
    const { sim, a, b } = sockets({
      seed,
      impair: { loss: 0.03, delayMs: 1 },
      tcp: { recvBufferSize: 16 << 10, sendBufferSize: 16 << 10 },
    });
    const listener = b.listen({ port: 7 });
    const server = (async () => {
      const conn = await listener.accept();
      await conn.readable.pipeTo(conn.writable);
    })();
    const client = (async () => {
      const conn = await a.connect({ hostname: "10.0.0.2", port: 7 });
      const writer = conn.writable.getWriter();
      const sending = (async () => {
        for (let i = 0; i < 64; i++) await writer.write(new Uint8Array(4096).fill(i));
        await writer.close();
      })();
      let total = 0;
      for await (const chunk of conn.readable) total += chunk.length;
      await sending;
      return total;
    })();
    assert.equal(await sim.drive(client), 64 * 4096, `seed ${seed}`);
    await sim.drive(server);
    listener.close();
  }
});
