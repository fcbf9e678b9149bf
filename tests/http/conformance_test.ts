import assert from "node:assert/strict";
import { describeHandler, startServer } from "./fixture.ts";
import { settle, VirtualClock } from "./virtual_clock.ts";
import { MemoryListener } from "./memory_conn.ts";
import { serve } from "../../stack/http/server.ts";
import { DEFAULT_LIMITS } from "../../stack/http/limits.ts";

const DEFAULT_IDLE = DEFAULT_LIMITS.idleTimeoutMs;

const GET = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: example.test\r\n${extra}\r\n`;

/** A response body the test writes into: `start` hands `onStart` a push (text, or null to close). */
function textStream(
  onStart: (push: (s: string | null) => void) => void,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      onStart((s) =>
        s === null ? controller.close() : controller.enqueue(new TextEncoder().encode(s))
      );
    },
  });
}

/** A body that enqueues `chunks` (text encoded as UTF-8) and closes on its first pull, a microtask late. */
function laterBody(...chunks: (Uint8Array | string)[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await null;
      for (const chunk of chunks) {
        controller.enqueue(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
      }
      controller.close();
    },
  });
}

/** A server answering every request with a text/event-stream body that `emit` writes (null ends it). */
function startEventStream() {
  let push: ((s: string | null) => void) | undefined;
  const { listener, server } = startServer(() =>
    new Response(textStream((p) => (push = p)), {
      headers: { "content-type": "text/event-stream" },
    })
  );
  return { listener, server, emit: (s: string | null) => push!(s) };
}

Deno.test("answers a GET with Content-Length and keeps the connection open", async () => {
  const { listener, server } = startServer(() => new Response("hello"));
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.status, 200);
  assert.equal(res.get("content-length"), "5");
  assert.equal(res.body, "hello");
  assert.equal(res.get("connection"), undefined);
  client.send(GET("/again"));
  assert.equal((await client.response()).body, "hello");
  assert.equal(client.closedByServer, false);
  await server.shutdown();
});

Deno.test("gives the handler the URL, method, headers and remote address", async () => {
  let seen: { url: string; method: string; agent: string | null; remote: string } | undefined;
  const { listener, server } = startServer((req, info) => {
    seen = {
      url: req.url,
      method: req.method,
      agent: req.headers.get("user-agent"),
      remote: `${info.remoteAddr.hostname}:${info.remoteAddr.transport}`,
    };
    return new Response(null, { status: 204 });
  });
  const client = listener.connect();
  client.send(
    "DELETE /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.test:8080\r\nUser-Agent:  t/1 \r\n\r\n",
  );
  const res = await client.response();
  assert.equal(res.status, 204);
  assert.equal(res.get("content-length"), undefined);
  assert.deepEqual(seen, {
    url: "http://example.test:8080/a/b?x=1&y=%20",
    method: "DELETE",
    agent: "t/1",
    remote: "10.0.0.2:tcp",
  });
  await server.shutdown();
});

Deno.test("serialises the request URL and normalises the method as the Request constructor does", async () => {
  const seen: string[] = [];
  const { listener, server } = startServer((req) => {
    seen.push(`${req.method} ${req.url} ${req.headers.get("x-a")}`);
    return new Response("");
  });
  const client = listener.connect();
  const requests = [
    ["GET /a/./b/../c?q=a'b HTTP/1.1", "Example.TEST:80"],
    ["get /%7e/{x} HTTP/1.1", "127.1:8080"],
    ["GET /a/./b/../c?q=a'b HTTP/1.1", "Example.TEST:80"], // a second time: remembered
    ["OPTIONS * HTTP/1.1", "h.test"],
    ["PATCH /p HTTP/1.1", "h.test"],
  ];
  for (const [line, host] of requests) {
    client.send(`${line}\r\nHost: ${host}\r\nX-A: v\r\n\r\n`);
    assert.equal((await client.response()).status, 200, line);
  }
  assert.deepEqual(seen, [
    "GET http://example.test/a/c?q=a%27b v",
    "GET http://127.0.0.1:8080/%7e/%7Bx%7D v",
    "GET http://example.test/a/c?q=a%27b v",
    "OPTIONS http://h.test/* v",
    "PATCH http://h.test/p v",
  ]);
  for (const method of ["trace", "connect"]) {
    const other = listener.connect();
    other.send(`${method} / HTTP/1.1\r\nHost: h.test\r\n\r\n`);
    assert.ok((await other.response()).status >= 400, `${method} is refused`);
  }
  assert.equal(seen.length, 5, "a refused method never reaches the handler");
  await server.shutdown();
});

Deno.test("answers pipelined requests in order even when earlier handlers finish last", async () => {
  const gates: (() => void)[] = [];
  const { listener, server } = startServer(async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/slow") await new Promise<void>((r) => gates.push(r));
    return new Response(path);
  });
  const client = listener.connect();
  client.send(
    GET("/slow") + GET("/fast") + "POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
  );
  await settle();
  assert.equal(client.pending, "", "nothing is sent before the first response is ready");
  gates.shift()!();
  assert.equal((await client.response()).body, "/slow");
  assert.equal((await client.response()).body, "/fast");
  assert.equal((await client.response()).body, "/post");
  await server.shutdown();
});

Deno.test("reads a Content-Length request body as a stream", async () => {
  const { listener, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello");
  await settle();
  client.send(" world");
  assert.equal((await client.response()).body, "POST /echo hello world");
  await server.shutdown();
});

Deno.test("decodes a chunked request body with extensions and trailers", async () => {
  const { listener, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.send("5;name=value\r\nhello\r\n");
  client.send("1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: yes\r\n\r\n");
  assert.equal((await client.response()).body, "POST /c hello world!");
  client.send(GET("/next"));
  assert.equal((await client.response()).body, "GET /next ");
  await server.shutdown();
});

Deno.test("parses a head and a chunked body delivered one byte at a time", async () => {
  const { listener, server } = startServer(describeHandler);
  const client = listener.connect();
  const wire = "\r\nPOST /bytes?q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
  for (const c of wire) client.send(c);
  assert.equal((await client.response()).body, "POST /bytes?q abc0123456789abcdef");
  await server.shutdown();
});

Deno.test("streams a ReadableStream response body with chunked coding", async () => {
  const { listener, server, emit } = startEventStream();
  const client = listener.connect();
  client.send(GET("/events"));
  await settle();
  emit("data: 1\n\n");
  await settle();
  assert.match(client.pending, /transfer-encoding: chunked\r\n/);
  assert.match(
    client.pending,
    /\r\n9\r\ndata: 1\n\n\r\n$/,
    "the first chunk is sent before the next exists",
  );
  emit("data: 2\n\n");
  emit(null);
  const res = await client.response();
  assert.equal(res.get("content-type"), "text/event-stream");
  assert.equal(res.body, "data: 1\n\ndata: 2\n\n");
  await server.shutdown();
});

Deno.test("streams a large chunk without framing errors", async () => {
  const big = "x".repeat(100_000);
  const { listener, server } = startServer(() =>
    new Response(
      laterBody(big, "tail"),
    )
  );
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.body, big + "tail");
  await server.shutdown();
});

Deno.test("keeps a handler's Content-Length when streaming", async () => {
  const { listener, server } = startServer(() =>
    new Response(
      laterBody(new Uint8Array([0x61, 0x62]), new Uint8Array([0x63])),
      { headers: { "content-length": "3" } },
    )
  );
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.get("transfer-encoding"), undefined);
  assert.equal(res.body, "abc");
  client.send(GET("/"));
  assert.equal((await client.response()).body, "abc");
  await server.shutdown();
});

Deno.test("closes the connection when a streamed body overruns its Content-Length", async () => {
  const { listener, server } = startServer(() =>
    new Response(
      laterBody(new Uint8Array([0x61, 0x62]), new Uint8Array([0x63, 0x64])),
      { headers: { "content-length": "3" } },
    )
  );
  const client = listener.connect();
  client.send(GET("/"));
  assert.equal((await client.response()).body, "abc");
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("answers HEAD with the fields and no body", async () => {
  const { listener, server } = startServer(() =>
    new Response("twelve bytes", { headers: { "content-length": "12", "x-a": "1" } })
  );
  const client = listener.connect();
  client.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
  const res = await client.response({ head: true });
  assert.equal(res.get("content-length"), "12");
  assert.equal(res.get("x-a"), "1");
  assert.equal(res.body, "");
  client.send(GET("/"));
  assert.equal((await client.response()).body, "twelve bytes", "no stray body bytes before it");
  await server.shutdown();
});

Deno.test("answers HEAD with the length a GET would have", async () => {
  const { listener, server } = startServer(() => new Response("seven!!"));
  const client = listener.connect();
  client.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
  const res = await client.response({ head: true });
  assert.equal(res.get("content-length"), "7");
  assert.equal(res.body, "");
  client.send(GET("/"));
  assert.equal((await client.response()).body, "seven!!");
  await server.shutdown();
});

Deno.test("sends 100 Continue only when the handler reads the body", async () => {
  const { listener, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  await client.expectText("HTTP/1.1 100 Continue\r\n\r\n");
  client.send("data");
  const res = await client.response();
  assert.equal(res.status, 200);
  assert.equal(res.body, "PUT /up data");
  await server.shutdown();
});

/** Answers with the request's own body stream and length, as the echo app does. */
function passBodyOn(declared?: string) {
  return (req: Request) =>
    new Response(req.body, {
      headers: { "content-length": declared ?? req.headers.get("content-length")! },
    });
}

Deno.test("a request body passed on as the response follows 100 Continue, whole and in order", async () => {
  const { listener, server } = startServer(passBodyOn());
  const client = listener.connect();
  client.send("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n");
  await client.expectText("HTTP/1.1 100 Continue\r\n\r\n");
  client.send("abc");
  client.send("def");
  client.send("ghi");
  const res = await client.response();
  assert.equal(res.status, 200);
  assert.equal(res.get("content-length"), "9");
  assert.equal(res.body, "abcdefghi");
  // The connection carries the next exchange.
  client.send("POST /again HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok");
  assert.equal((await client.response()).body, "ok");
  assert.equal(client.closedByServer, false);
  await server.shutdown();
});

Deno.test("a passed-on request body longer than the declared length is cut and the connection closed", async () => {
  const { listener, server } = startServer(passBodyOn("2"));
  const client = listener.connect();
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nwxyz");
  const res = await client.response();
  assert.equal(res.get("content-length"), "2");
  assert.equal(res.body, "wx");
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("skips 100 Continue and closes when the handler ignores an expected body", async () => {
  const { listener, server } = startServer(() => new Response("no thanks", { status: 403 }));
  const client = listener.connect();
  client.send("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  const res = await client.response();
  assert.equal(res.status, 403);
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("discards a small unread body and keeps the connection", async () => {
  const { listener, server } = startServer(() => new Response("ignored"));
  const client = listener.connect();
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde" + GET("/2"));
  assert.equal((await client.response()).body, "ignored");
  assert.equal((await client.response()).body, "ignored");
  assert.equal(client.closedByServer, false);
  await server.shutdown();
});

Deno.test("closes after a response when an unread body is over the drain limit", async () => {
  const { listener, server } = startServer(() => new Response("ignored"), {
    limits: { maxDrainBytes: 4 },
  });
  const client = listener.connect();
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nabcde" + GET("/2"));
  assert.equal((await client.response()).body, "ignored");
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("honours Connection: close", async () => {
  const { listener, server } = startServer(() => new Response("bye"));
  const client = listener.connect();
  client.send(GET("/", "Connection: close\r\n") + GET("/never"));
  const res = await client.response();
  assert.equal(res.get("connection"), "close");
  assert.equal(res.body, "bye");
  assert.equal(await client.closed(), "", "the pipelined request after close is not answered");
  await server.shutdown();
});

Deno.test("closes when the handler's response says Connection: close", async () => {
  const { listener, server } = startServer(() =>
    new Response("bye", { headers: { connection: "close" } })
  );
  const client = listener.connect();
  client.send(GET("/"));
  assert.equal((await client.response()).get("connection"), "close");
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("serves an HTTP/1.0 client and closes after the response", async () => {
  const { listener, server } = startServer(describeHandler);
  const client = listener.connect();
  client.send("GET /old HTTP/1.0\r\n\r\n");
  const res = await client.response();
  assert.equal(res.version, "HTTP/1.1");
  assert.equal(res.body, "GET /old ");
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("keeps an HTTP/1.0 keep-alive connection open", async () => {
  const { listener, server } = startServer(() => new Response("ok"));
  const client = listener.connect();
  client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const res = await client.response();
  assert.equal(res.get("connection"), "keep-alive");
  client.send("GET / HTTP/1.0\r\n\r\n");
  assert.equal((await client.response()).body, "ok");
  assert.equal(await client.closed(), "");
  await server.shutdown();
});

Deno.test("ends a streamed response to an HTTP/1.0 client by closing", async () => {
  const { listener, server } = startServer(() =>
    new Response(
      laterBody(new Uint8Array([0x61]), new Uint8Array([0x62])),
    )
  );
  const client = listener.connect();
  client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const tail = await client.closed();
  assert.match(tail, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(tail, /transfer-encoding|content-length/i);
  assert.match(tail, /\r\n\r\nab$/);
  await server.shutdown();
});

Deno.test("accepts an absolute-form target and uses its authority", async () => {
  let url = "";
  const { listener, server } = startServer((req) => {
    url = req.url;
    return new Response("");
  });
  const client = listener.connect();
  client.send("GET http://other.test:81/p?q=1 HTTP/1.1\r\nHost: ignored.test\r\n\r\n");
  assert.equal((await client.response()).status, 200);
  assert.equal(url, "http://other.test:81/p?q=1");
  await server.shutdown();
});

Deno.test("answers a higher HTTP/1.x minor version as HTTP/1.1", async () => {
  const { listener, server } = startServer(() => new Response("ok"));
  const client = listener.connect();
  client.send("GET / HTTP/1.9\r\nHost: h\r\n\r\n");
  const res = await client.response();
  assert.equal(res.version, "HTTP/1.1");
  assert.equal(res.status, 200);
  await server.shutdown();
});

Deno.test("sends the Date header from the clock's wall time", async () => {
  const { listener, server } = startServer(() => new Response("ok"));
  const client = listener.connect();
  client.send(GET("/"));
  assert.equal((await client.response()).get("date"), "Fri, 27 Nov 2026 07:00:00 GMT");
  await server.shutdown();
});

Deno.test("passes Set-Cookie fields through separately", async () => {
  const { listener, server } = startServer(() => {
    const headers = new Headers();
    headers.append("set-cookie", "a=1");
    headers.append("set-cookie", "b=2");
    return new Response("ok", { headers });
  });
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.deepEqual(res.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v), [
    "a=1",
    "b=2",
  ]);
  await server.shutdown();
});

Deno.test("turns a handler error into onError's response", async () => {
  const errors: unknown[] = [];
  const { listener, server } = startServer(() => {
    throw new Error("boom");
  }, {
    onError: (error) => {
      errors.push(error);
      return new Response("sorry", { status: 503 });
    },
  });
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.status, 503);
  assert.equal(res.body, "sorry");
  assert.equal((errors[0] as Error).message, "boom");
  client.send(GET("/"));
  assert.equal((await client.response()).status, 503, "the connection survives handler errors");
  await server.shutdown();
});

Deno.test("answers 500 when the handler returns something that is not a Response", async () => {
  const { listener, server } = startServer(
    (() => "nope") as unknown as () => Response,
    { onError: () => new Response("fallback", { status: 500 }) },
  );
  const client = listener.connect();
  client.send(GET("/"));
  assert.equal((await client.response()).status, 500);
  await server.shutdown();
});

Deno.test("echoes a request body straight into the response", async () => {
  const { listener, server } = startServer((req) => new Response(req.body));
  const client = listener.connect();
  client.send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  client.send("2\r\nde\r\n0\r\n\r\n");
  const res = await client.response();
  assert.equal(res.body, "abcde");
  await server.shutdown();
});

Deno.test("lingers after an error: ends its side, discards the rest, then closes", async () => {
  const { listener, clock, server } = startServer(() => new Response("never"), {
    limits: { maxBodyBytes: 10, maxDrainBytes: 100 },
  });
  const client = listener.connect({ closeWrite: true });
  client.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n" + "x".repeat(20));
  assert.equal((await client.response()).status, 413);
  assert.equal(await client.closed(), "", "the server ended its sending side");
  assert.equal(client.serverClosed, false, "but still reads what the client sends");
  client.send("x".repeat(30));
  await clock.advance(0);
  assert.equal(client.serverClosed, false);
  client.end();
  await clock.advance(0);
  assert.equal(client.serverClosed, true);
  await server.shutdown();
});

Deno.test("lingers no longer than the idle timeout or the drain limit", async () => {
  const { listener, clock, server } = startServer(() => new Response("never"), {
    limits: { maxBodyBytes: 10, maxDrainBytes: 100 },
  });
  const slow = listener.connect({ closeWrite: true });
  slow.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n");
  assert.equal((await slow.response()).status, 413);
  await clock.advance(DEFAULT_IDLE + 1000);
  assert.equal(slow.serverClosed, true, "closed by the idle timeout");
  const flood = listener.connect({ closeWrite: true });
  flood.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 500\r\n\r\n");
  assert.equal((await flood.response()).status, 413);
  flood.send("x".repeat(101));
  await clock.advance(0);
  assert.equal(flood.serverClosed, true, "closed past the drain limit");
  await server.shutdown();
});

Deno.test("writes a large body chunk to the connection without copying it", async () => {
  const big = new Uint8Array(64 * 1024).fill(0x61);
  // A stream hands its chunks over as they are (a Uint8Array body is copied by Response).
  const written = await recordWrites(big);
  assert.ok(
    written.some((c) => c.buffer === big.buffer),
    "the body's own buffer reached the writer",
  );
  assert.ok(written.every((c) => c.length < 1024 || c.buffer === big.buffer), "no copy of it");
});

Deno.test("opens its listener with the listen option's function", async () => {
  const listener = new MemoryListener();
  let asked;
  const server = serve({
    port: 1234,
    hostname: "10.0.0.9",
    clock: new VirtualClock(),
    onListen: () => {},
    listen: (options) => {
      asked = options;
      return listener;
    },
  }, () => new Response("via listen"));
  assert.deepEqual(asked, { port: 1234, hostname: "10.0.0.9" });
  const client = listener.connect();
  client.send(GET("/"));
  assert.equal((await client.response()).body, "via listen");
  await server.shutdown();
});

Deno.test("sends a streaming response's head before its first chunk exists", async () => {
  const { listener, server, emit } = startEventStream();
  const client = listener.connect();
  client.send(GET("/events"));
  await settle();
  assert.match(client.pending, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(client.pending, /\r\n\r\n$/, "the head and nothing else");
  emit("data: x\n\n");
  emit(null);
  assert.equal((await client.response()).body, "data: x\n\n");
  await server.shutdown();
});

Deno.test("answers HEAD for a never-ending stream without waiting for it", async () => {
  let cancelled = false;
  const { listener, server } = startServer(() =>
    new Response(new ReadableStream({ cancel: () => void (cancelled = true) }))
  );
  const client = listener.connect();
  client.send("HEAD /events HTTP/1.1\r\nHost: h\r\n\r\n");
  const res = await client.response({ head: true });
  assert.equal(res.status, 200);
  assert.equal(res.get("content-length"), undefined);
  assert.equal(cancelled, true);
  await server.shutdown();
});

Deno.test("ends a chunked response unterminated when its stream fails", async () => {
  const { listener, server } = startServer(() =>
    new Response(
      new ReadableStream({
        async pull(controller) {
          await null;
          controller.enqueue(new TextEncoder().encode("partial"));
          controller.error(new Error("source failed"));
        },
      }),
    )
  );
  const client = listener.connect();
  client.send(GET("/"));
  const rest = await client.closed();
  assert.match(rest, /transfer-encoding: chunked\r\n\r\n7\r\npartial\r\n$/);
  assert.doesNotMatch(
    rest,
    /\r\n0\r\n\r\n$/,
    "no last-chunk marker, so the client sees the failure",
  );
  await server.shutdown();
});

Deno.test("aborts the request's signal when the connection ends before the response", async () => {
  let signal: AbortSignal | undefined;
  let emit: ((s: string | null) => void) | undefined;
  const { listener, clock, server } = startServer((req) => {
    signal = req.signal;
    return new Response(textStream((push) => (emit = push)));
  }, { limits: { writeTimeoutMs: 100 } });
  const client = listener.connect();
  client.send(GET("/stream"));
  await settle();
  emit!("tick");
  await settle();
  assert.equal(signal!.aborted, false);
  server.shutdown();
  await clock.advance(0);
  assert.equal(signal!.aborted, false, "shutdown lets the response run");
  // The server closes the connection (as a transport failure would); the handler learns of it.
  client.serverConn.close();
  emit!("tock");
  await clock.advance(200);
  assert.equal(signal!.aborted, true);
  await server.finished;
});

Deno.test("leaves the signal alone once the response is complete", async () => {
  let signal: AbortSignal | undefined;
  const { listener, server } = startServer((req) => {
    signal = req.signal;
    return new Response("done");
  });
  const client = listener.connect();
  client.send(GET("/", "Connection: close\r\n"));
  await client.response();
  await client.closed();
  assert.equal(signal!.aborted, false);
  await server.shutdown();
});

Deno.test("answers 500 when the handler returns a Response whose body was used", async () => {
  const shared = new Response("once");
  await shared.text();
  const { listener, server } = startServer(() => shared, {
    onError: (error) => new Response(String((error as Error).message), { status: 500 }),
  });
  const client = listener.connect();
  client.send(GET("/"));
  const res = await client.response();
  assert.equal(res.status, 500);
  assert.match(res.body, /body was used/);
  await server.shutdown();
});

/** Serves a one-chunk stream body over a connection that records every write. */
async function recordWrites(body: Uint8Array, coalesceBytes?: number): Promise<Uint8Array[]> {
  const written: Uint8Array[] = [];
  const { listener, server } = startServer(
    () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(body);
            controller.close();
          },
        }),
      ),
    { coalesceBytes },
  );
  const client = listener.connect({ onWrite: (chunk) => written.push(chunk) });
  client.send(GET("/"));
  assert.equal((await client.response()).body.length, body.length);
  await server.shutdown();
  return written;
}

Deno.test("on a given listener, even a small body reaches the connection uncopied", async () => {
  const small = new Uint8Array(100).fill(0x62);
  const written = await recordWrites(small);
  assert.equal(written.length, 2, "the head, then the body");
  assert.equal(written[1].buffer, small.buffer);
});

Deno.test("with coalesceBytes, head and a small body go out in one write", async () => {
  const small = new Uint8Array(100).fill(0x62);
  const written = await recordWrites(small, 8192);
  assert.equal(written.length, 1);
  assert.ok(written[0].length > 100);
});

Deno.test("info.completed resolves once the response is written", async () => {
  let completed: Promise<void> | undefined;
  let done = false;
  const { listener, server } = startServer((_req, info) => {
    completed = info.completed.then(() => void (done = true));
    return new Response("ok");
  });
  const client = listener.connect();
  client.send(GET("/"));
  await client.response();
  await completed;
  assert.equal(done, true);
  await server.shutdown();
});

Deno.test("info.completed rejects when the connection fails before the response is out", async () => {
  let completed: Promise<void> | undefined;
  let emit: ((s: string | null) => void) | undefined;
  const { listener, server } = startServer((_req, info) => {
    completed = info.completed;
    return new Response(textStream((push) => (emit = push)));
  });
  const client = listener.connect();
  client.send(GET("/stream"));
  await settle();
  client.serverConn.close();
  emit!("too late");
  await assert.rejects(completed!, /Connection closed before the response was sent/);
  await server.shutdown();
});
