/** An unmodified Hono app runs on our server with `serve(app.fetch)`. */
import assert from "node:assert/strict";
import { app } from "../../apps/hono_example.ts";
import { serve } from "../../stack/http/server.ts";
import { startServer } from "./fixture.ts";
import { startHttpApp } from "../../apps/http_echo.ts";
import type { Link } from "../../apps/lib/link.ts";
import { connect } from "../../stack/socket/tcp.ts";
import { parseResponse } from "./memory_conn.ts";

Deno.test("hono: routes, params and JSON bodies over in-memory connections", async () => {
  const { listener, server } = startServer(app.fetch);
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).body, "Hello from Hono on the Deno stack!");
  client.send("GET /hello/deno HTTP/1.1\r\nHost: h\r\n\r\n");
  const hello = await client.response();
  assert.equal(hello.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(hello.body), { hello: "deno" });
  const item = JSON.stringify({ name: "stack", n: 1 });
  client.send(
    `POST /items HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: ${item.length}\r\n\r\n${item}`,
  );
  const created = await client.response();
  assert.equal(created.status, 201);
  assert.deepEqual(JSON.parse(created.body), { created: { name: "stack", n: 1 } });
  client.send("GET /missing HTTP/1.1\r\nHost: h\r\n\r\n");
  const missing = await client.response();
  assert.equal(missing.status, 404);
  assert.equal(missing.body, "No such route");
  await server.shutdown();
});

Deno.test("hono: serve(app.fetch) over kernel sockets on loopback", async () => {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: () => {},
    handler: app.fetch,
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/hello/world`);
    assert.deepEqual(await res.json(), { hello: "world" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("hono: the example app on our own stack (--nic memory) over the stack's TCP", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  let link: Link | undefined;
  const server = await startHttpApp(
    { name: "hono_example", about: "", handler: app.fetch },
    ["--nic", "memory", "--port", "80"],
    { onLink: (l) => (link = l) },
  );
  console.log = log;
  assert.ok(server && link);
  try {
    assert.match(lines[0], /^hono_example listening on http:\/\/10\.0\.0\.2:80\/ \(nic memory\)$/);
    const conn = await connect({ iface: link.peer!.iface, runtime: link.runtime }, {
      hostname: "10.0.0.2",
      port: 80,
    });
    await conn.write(
      new TextEncoder().encode(
        "GET /hello/stack HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: close\r\n\r\n",
      ),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const res = parseResponse(text, false, true)!;
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { hello: "stack" });
    conn.close();
  } finally {
    await server.shutdown();
  }
});
