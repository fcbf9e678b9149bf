/** The echo app's routes, in memory and over kernel sockets (`--nic kernel`). */
import assert from "node:assert/strict";
import { echoHandler, startEcho } from "../../apps/http_echo.ts";
import { UsageError } from "../../apps/lib/link_options.ts";
import { startServer } from "./fixture.ts";

Deno.test("http_echo: GET / greets", async () => {
  const { listener, server } = startServer(echoHandler);
  const client = listener.connect();
  client.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const res = await client.response();
  assert.equal(res.status, 200);
  assert.match(res.body, /^Hello from the Deno TCP\/IP stack!/);
  assert.equal(res.get("content-type"), "text/plain; charset=utf-8");
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  assert.equal((await client.response()).status, 405);
  await server.shutdown();
});

Deno.test("http_echo: /echo returns the body with its content type and length", async () => {
  const { listener, server } = startServer(echoHandler);
  const client = listener.connect();
  client.send(
    "PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Type: text/x-test\r\nContent-Length: 9\r\n\r\n",
  );
  client.send("echo ");
  client.send("me!");
  client.send("!");
  const res = await client.response();
  assert.equal(res.get("content-type"), "text/x-test");
  assert.equal(res.get("content-length"), "9");
  assert.equal(res.body, "echo me!!");
  await server.shutdown();
});

Deno.test("http_echo: /echo streams a chunked body back chunked", async () => {
  const { listener, server } = startServer(echoHandler);
  const client = listener.connect();
  client.send("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.send("4\r\nabcd\r\n");
  client.send("3\r\nefg\r\n0\r\n\r\n");
  const res = await client.response();
  assert.equal(res.get("content-type"), "application/octet-stream");
  assert.equal(res.get("transfer-encoding"), "chunked");
  assert.equal(res.body, "abcdefg");
  await server.shutdown();
});

Deno.test("http_echo: /json describes the request", async () => {
  const { listener, server } = startServer(echoHandler);
  const client = listener.connect();
  client.send(
    "POST /json?a=1&b=two HTTP/1.1\r\nHost: h\r\nX-Custom: yes\r\nContent-Length: 5\r\n\r\nhello",
  );
  const res = await client.response();
  assert.equal(res.get("content-type"), "application/json");
  const json = JSON.parse(res.body);
  assert.deepEqual(json, {
    method: "POST",
    path: "/json",
    query: { a: "1", b: "two" },
    headers: { "content-length": "5", host: "h", "x-custom": "yes" },
    bodyLength: 5,
  });
  await server.shutdown();
});

Deno.test("http_echo: /health and unknown paths", async () => {
  const { listener, server } = startServer(echoHandler);
  const client = listener.connect();
  client.send("GET /health HTTP/1.1\r\nHost: h\r\n\r\nGET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
  const health = await client.response();
  assert.equal(health.status, 200);
  assert.equal(health.body, "ok\n");
  assert.equal((await client.response()).status, 404);
  await server.shutdown();
});

Deno.test("http_echo --nic kernel serves over loopback sockets", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  const server = await startEcho(["--port", "0", "--hostname", "127.0.0.1"]);
  console.log = log;
  assert.ok(server);
  try {
    assert.match(lines[0], /^http_echo listening on http:\/\/127\.0\.0\.1:\d+\/ \(nic kernel\)$/);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const body = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const echo = await fetch(`${base}/echo`, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-bytes" },
    });
    assert.equal(echo.headers.get("content-type"), "application/x-bytes");
    assert.deepEqual(new Uint8Array(await echo.arrayBuffer()), body);
    const json = await (await fetch(`${base}/json?q=1`)).json();
    assert.equal(json.method, "GET");
    assert.deepEqual(json.query, { q: "1" });
    assert.equal(await (await fetch(`${base}/health`)).text(), "ok\n");
  } finally {
    await server.shutdown();
  }
});

Deno.test("http_echo --help prints usage and starts nothing", async () => {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  const server = await startEcho(["--help"]);
  console.log = log;
  assert.equal(server, undefined);
  assert.match(lines[0], /^Usage: http_echo\.ts/);
});

Deno.test("http_echo rejects bad options with usage errors", async () => {
  await assert.rejects(startEcho(["--port", "70000"]), UsageError);
  await assert.rejects(startEcho(["--bogus"]), UsageError);
  await assert.rejects(startEcho(["--nic", "memory", "--hostname", "0.0.0.0"]), UsageError);
});
