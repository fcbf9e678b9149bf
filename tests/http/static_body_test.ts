import assert from "node:assert/strict";
import { startServer } from "./fixture.ts";

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: example.test\r\n\r\n`;
const utf8 = (s: string) => new TextEncoder().encode(s);
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/** Serves `handler` over a connection that records every write; returns the writes of one GET. */
async function writesOf(handler: () => Response, request = GET("/")): Promise<Uint8Array[]> {
  const written: Uint8Array[] = [];
  const { listener, server } = startServer(handler);
  // Copies: the server may reuse a head buffer once it was written.
  const client = listener.connect({ onWrite: (chunk) => written.push(chunk.slice()) });
  client.send(request);
  await client.response({ head: request.startsWith("HEAD") });
  await server.shutdown();
  return written;
}

Deno.test("a string body goes out with its head in one write, its UTF-8 length declared", async () => {
  const text = "grüße, 世界 🌍\n";
  const written = await writesOf(() => new Response(text, { headers: { "x-a": "1" } }));
  assert.equal(written.length, 1);
  const raw = latin1(written[0]);
  const length = utf8(text).length;
  assert.match(raw, new RegExp(`^HTTP/1\\.1 200 OK\\r\\n`));
  assert.match(raw, new RegExp(`\\r\\ncontent-length: ${length}\\r\\n`));
  assert.ok(raw.endsWith(`\r\n\r\n${latin1(utf8(text))}`));
});

Deno.test("a string body keeps obs-text field values as single bytes", async () => {
  const written = await writesOf(() =>
    new Response("ok", { headers: { "x-latin": String.fromCharCode(0xe9) + "t\u00e9" } })
  );
  assert.equal(written.length, 1);
  assert.ok(written[0].includes(0xe9));
  assert.match(latin1(written[0]), /\r\nx-latin: \xe9t\xe9\r\n/);
  assert.ok(latin1(written[0]).endsWith("\r\n\r\nok"));
});

Deno.test("a string body over the inline limit is encoded on its own and sent whole", async () => {
  const text = "z".repeat(100_000) + "é";
  const { listener, server } = startServer(() => new Response(text));
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.get("content-length"), String(utf8(text).length));
  assert.equal(res.body, latin1(utf8(text).subarray(0, 100_000)) + latin1(utf8("é")));
  await server.shutdown();
});

Deno.test("HEAD answers carry the UTF-8 length of a string body and no body", async () => {
  const { listener, server } = startServer(() => new Response("€uro"));
  const client = listener.connect();
  client.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
  const res = await client.response({ head: true });
  assert.equal(res.get("content-length"), "6");
  assert.equal(res.body, "");
  client.send(GET("/"));
  assert.equal((await client.response()).body, latin1(utf8("€uro")));
  await server.shutdown();
});

Deno.test("a bytes body follows its head without being copied into it", async () => {
  const written = await writesOf(() => new Response(new Uint8Array(3000).fill(0x61)));
  assert.equal(written.length, 2, "the head, then the body");
  assert.match(latin1(written[0]), /content-length: 3000\r\n\r\n$/);
  assert.equal(written[1].length, 3000);
});

Deno.test("a string body with Connection: close closes after the response", async () => {
  const { listener, server } = startServer(() =>
    new Response("bye", { headers: { connection: "close" } })
  );
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.body, "bye");
  assert.equal(res.get("connection"), "close");
  await client.closed();
  assert.equal(client.closedByServer, true);
  await server.shutdown();
});
