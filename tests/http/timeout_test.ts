/**
 * Timeouts on a virtual clock: a slow or idle client cannot hold a connection, and a slow handler
 * is never cut off.
 */
import assert from "node:assert/strict";
import type { HttpConn } from "../../stack/http/conn.ts";
import { DEFAULT_LIMITS } from "../../stack/http/limits.ts";
import { serve } from "../../stack/http/server.ts";
import { describeHandler, startServer } from "./fixture.ts";
import { MemoryListener } from "./memory_conn.ts";
import { VirtualClock } from "./virtual_clock.ts";

const { idleTimeoutMs, headersTimeoutMs, bodyTimeoutMs, writeTimeoutMs } = DEFAULT_LIMITS;
/** The sweeper's tick with the default limits: a quarter of the shortest timeout, at most 1 s. */
const TICK = 1000;

Deno.test("closes a connection that sends nothing after the idle timeout, silently", async () => {
  const { listener, clock, server } = startServer(describeHandler);
  const client = listener.connect();
  await clock.advance(idleTimeoutMs - TICK);
  assert.equal(client.closedByServer, false);
  await clock.advance(2 * TICK);
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("closes a keep-alive connection after the idle timeout", async () => {
  const { listener, clock, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).status, 200);
  await clock.advance(idleTimeoutMs - TICK);
  client.send("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).body, "GET /2 ", "activity restarts the idle timer");
  await clock.advance(idleTimeoutMs + TICK);
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("answers 408 to a head that does not complete in time", async () => {
  const { listener, clock, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\n");
  await clock.advance(headersTimeoutMs - TICK);
  assert.equal(client.pending, "");
  await clock.advance(2 * TICK);
  const res = await client.response();
  assert.equal(res.status, 408);
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("answers 408 to a slowloris client trickling header bytes", async () => {
  const { listener, clock, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\nHost: h\r\n");
  let sent = 0;
  while (!client.closedByServer && sent < 100) {
    client.send(`X-${sent}: a\r\n`);
    sent++;
    await clock.advance(TICK / 2);
  }
  assert.ok(sent * (TICK / 2) <= headersTimeoutMs + TICK, `cut off after ${sent} lines`);
  assert.equal((await client.response()).status, 408);
  await server.shutdown();
});

Deno.test("answers 408 when the request body stalls", async () => {
  const { listener, clock, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  await clock.advance(bodyTimeoutMs - TICK);
  assert.equal(client.pending, "");
  await clock.advance(2 * TICK);
  assert.equal((await client.response()).status, 408);
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("never times out a slow handler", async () => {
  let release: (() => void) | undefined;
  const { listener, clock, server } = startServer(async () => {
    await new Promise<void>((r) => (release = r));
    return new Response("late");
  });
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await clock.advance(10 * Math.max(idleTimeoutMs, headersTimeoutMs, bodyTimeoutMs));
  assert.equal(client.closedByServer, false);
  release!();
  assert.equal((await client.response()).body, "late");
  await server.shutdown();
});

Deno.test("closes a connection whose client stops reading responses", async () => {
  const listener = new MemoryListener();
  const clock = new VirtualClock();
  let closed = false;
  let fail: ((e: Error) => void) | undefined;
  const client = listener.connect();
  const stuck: HttpConn = {
    readable: client.serverConn.readable,
    // A peer that never reads: the write is accepted only when the connection closes and fails.
    writable: new WritableStream({ write: () => new Promise((_, reject) => (fail = reject)) }),
    remoteAddr: client.serverConn.remoteAddr,
    close: () => {
      closed = true;
      fail?.(new Error("Connection closed"));
      client.serverConn.close();
    },
  };
  const wrapped = {
    addr: listener.addr,
    close: () => listener.close(),
    async *[Symbol.asyncIterator]() {
      for await (const _ of listener) yield stuck;
    },
  };
  const server = serve({ listener: wrapped, clock, onListen: () => {} }, () => new Response("x"));
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await clock.advance(writeTimeoutMs - TICK);
  assert.equal(closed, false);
  await clock.advance(2 * TICK);
  assert.equal(closed, true);
  await server.shutdown();
});

Deno.test("uses a finer sweep tick for short timeouts", async () => {
  const { listener, clock, server } = startServer(describeHandler, {
    limits: { idleTimeoutMs: 100, headersTimeoutMs: 100 },
  });
  const client = listener.connect();
  await clock.advance(75);
  assert.equal(client.closedByServer, false);
  await clock.advance(50);
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("answers 408 to a body trickled slower than the request timeout allows", async () => {
  const { listener, clock, server } = startServer(describeHandler, {
    limits: { requestTimeoutMs: 60_000 },
  });
  const client = listener.connect();
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n");
  let sent = 0;
  // One byte every 20 s never trips the 30 s body timeout, only the total request timeout.
  while (!client.closedByServer && sent < 100) {
    client.send("x");
    sent++;
    await clock.advance(20_000);
  }
  assert.ok(sent <= 4, `cut off after ${sent} bytes`);
  assert.equal((await client.response()).status, 408);
  await server.shutdown();
});
