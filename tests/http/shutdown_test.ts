/** Graceful shutdown: in-flight requests finish, idle connections close, `finished` resolves. */
import assert from "node:assert/strict";
import { serve } from "../../stack/http/server.ts";
import { startServer } from "./fixture.ts";
import { MemoryListener } from "./memory_conn.ts";
import { settle, VirtualClock } from "./virtual_clock.ts";

Deno.test("shutdown closes idle connections and resolves finished", async () => {
  const { listener, server } = startServer(() => new Response("ok"));
  const idle = listener.connect();
  const used = listener.connect();
  used.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await used.response();
  await server.shutdown();
  assert.equal(await idle.closed(), "");
  assert.equal(await used.closed(), "");
});

Deno.test("shutdown lets an in-flight request finish and then closes its connection", async () => {
  let release: (() => void) | undefined;
  const { listener, server } = startServer(async () => {
    await new Promise<void>((r) => (release = r));
    return new Response("finished");
  });
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  await settle();
  let done = false;
  const finished = server.shutdown().then(() => (done = true));
  await settle();
  assert.equal(done, false, "finished waits for the in-flight request");
  release!();
  const res = await client.response();
  assert.equal(res.body, "finished");
  assert.equal(res.get("connection"), "close");
  assert.equal(await client.closed(), "", "the pipelined request is not started");
  await finished;
  assert.equal(done, true);
});

Deno.test("aborting the signal shuts the server down", async () => {
  const controller = new AbortController();
  const { listener, server } = startServer(() => new Response("ok"), {
    signal: controller.signal,
  });
  const client = listener.connect();
  await settle();
  controller.abort();
  await server.finished;
  assert.equal(await client.closed(), "");
});

Deno.test("an already aborted signal starts the server shut down", async () => {
  const { server } = startServer(() => new Response("ok"), { signal: AbortSignal.abort() });
  await server.finished;
});

Deno.test("await using shuts the server down at the end of the scope", async () => {
  const listener = new MemoryListener();
  const clock = new VirtualClock();
  let client;
  {
    await using _server = serve({
      listener,
      clock,
      onListen: () => {},
      handler: () => new Response("scoped"),
    });
    client = listener.connect();
    client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert.equal((await client.response()).body, "scoped");
  }
  assert.equal(await client.closed(), "");
});

Deno.test("onListen receives the listener's address", async () => {
  const listener = new MemoryListener();
  let seen;
  const server = serve(
    { listener, clock: new VirtualClock(), onListen: (a) => (seen = a) },
    () => new Response(""),
  );
  assert.deepEqual(seen, listener.addr);
  assert.deepEqual(server.addr, listener.addr);
  await server.shutdown();
});

Deno.test("serve without a handler function throws", () => {
  const options = { listener: new MemoryListener() } as Parameters<typeof serve>[0];
  assert.throws(() => serve(options as never), /no handler/);
});
