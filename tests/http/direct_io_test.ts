/** The read/write path the server takes for connections that have them (Deno.Conn, TcpConn). */
import assert from "node:assert/strict";
import { describeHandler, startServer } from "./fixture.ts";
import { settle } from "./virtual_clock.ts";

Deno.test("direct I/O: pipelined requests with bodies, written in 7-byte pieces", async () => {
  const { listener, server } = startServer(describeHandler);
  const client = listener.connect({ direct: true });
  client.send(
    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n" +
      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  );
  assert.equal((await client.response()).body, "GET /a ");
  assert.equal((await client.response()).body, "POST /b hello");
  assert.equal((await client.response()).body, "POST /c abc");
  await server.shutdown();
});

Deno.test("direct I/O: body chunks a handler keeps are not overwritten by later reads", async () => {
  const kept: Uint8Array[] = [];
  const { listener, server } = startServer(async (req) => {
    if (req.body === null) return new Response("next");
    // Keep the views as delivered, without copying, and look at them only at the end.
    for await (const chunk of req.body!) kept.push(chunk);
    const text = kept.map((c) => String.fromCharCode(...c)).join("");
    return new Response(text);
  });
  const client = listener.connect({ direct: true });
  const parts = ["aaaa", "bbbb", "cccc", "dddd"];
  client.send(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 16\r\n\r\n${parts[0]}`);
  for (const part of parts.slice(1)) {
    await settle();
    client.send(part);
  }
  client.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).body, parts.join(""));
  assert.ok(kept.length > 1, "the body arrived in several reads");
  assert.equal((await client.response()).body, "next");
  await server.shutdown();
});

Deno.test("direct I/O: a large streamed response survives partial writes", async () => {
  const big = "z".repeat(50_000);
  const { listener, server } = startServer(() =>
    new Response(
      new ReadableStream({
        async pull(controller) {
          await null;
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      }),
    )
  );
  const client = listener.connect({ direct: true });
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).body, big);
  await server.shutdown();
});

Deno.test("direct I/O: kept body views survive later requests that lend nothing", async () => {
  const kept: Uint8Array[] = [];
  const { listener, server } = startServer(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/keep") { for await (const chunk of req.body!) kept.push(chunk); }
    if (path === "/show") return new Response(kept.map((c) => String.fromCharCode(...c)).join(""));
    return new Response("ok");
  });
  const client = listener.connect({ direct: true });
  client.send("POST /keep HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nsecret");
  assert.equal((await client.response()).body, "ok");
  // Heads alone: each read lands in the same buffer, and must land after the kept bytes.
  for (let i = 0; i < 50; i++) {
    await settle();
    client.send(`GET /filler-${"x".repeat(i)} HTTP/1.1\r\nHost: h\r\n\r\n`);
    assert.equal((await client.response()).body, "ok");
  }
  client.send("GET /show HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).body, "secret");
  await server.shutdown();
});
