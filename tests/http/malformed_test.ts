/**
 * Every malformed, ambiguous or over-limit request gets its status code and a closed connection.
 * Head errors never reach the handler; body errors surface while the handler reads the body.
 */
import assert from "node:assert/strict";
import { startServer } from "./fixture.ts";

const H = "Host: h\r\n";
const TE = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;

type Case = [name: string, raw: string, status: number, limits?: Record<string, number>];

// deno-fmt-ignore
const HEAD_CASES: Case[] = [
  // Request line (RFC 9112 §3)
  ["invalid byte in method", `G(T / HTTP/1.1\r\n${H}\r\n`, 400],
  ["empty method", ` / HTTP/1.1\r\n${H}\r\n`, 400],
  ["two spaces before the target", `GET  / HTTP/1.1\r\n${H}\r\n`, 400],
  ["missing version", `GET /\r\n${H}\r\n`, 400],
  ["lower-case version", `GET / http/1.1\r\n${H}\r\n`, 400],
  ["malformed version", `GET / HTTP/1.x\r\n${H}\r\n`, 400],
  ["trailing space after version", `GET / HTTP/1.1 \r\n${H}\r\n`, 400],
  ["non-ASCII byte in target", `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, 400],
  ["control byte in target", `GET /\x01 HTTP/1.1\r\n${H}\r\n`, 400],
  ["relative target", `GET foo HTTP/1.1\r\n${H}\r\n`, 400],
  ["asterisk target outside OPTIONS", `GET * HTTP/1.1\r\n${H}\r\n`, 400],
  ["HTTP/2.0", `GET / HTTP/2.0\r\n${H}\r\n`, 505],
  ["HTTP/0.9 style version", `GET / HTTP/0.9\r\n${H}\r\n`, 505],
  ["CONNECT", `CONNECT h:443 HTTP/1.1\r\n${H}\r\n`, 501],
  ["TRACE", `TRACE / HTTP/1.1\r\n${H}\r\n`, 501],
  // Line endings (RFC 9112 §2.2)
  ["bare LF ending the request line", `GET / HTTP/1.1\n${H}\r\n`, 400],
  ["bare LF ending a field line", `GET / HTTP/1.1\r\nHost: h\n\r\n`, 400],
  ["bare LF ending the head", `GET / HTTP/1.1\r\n${H}\n`, 400],
  ["bare CR inside a field value", `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, 400],
  ["bare CR inside the request line", `GET /\r HTTP/1.1\r\n${H}\r\n`, 400],
  ["bare LF as a leading empty line", `\nGET / HTTP/1.1\r\n${H}\r\n`, 400],
  // Field lines (RFC 9112 §5, RFC 9110 §5)
  ["obs-fold continuation line", `GET / HTTP/1.1\r\n${H}X: a\r\n  b\r\n\r\n`, 400],
  ["whitespace before the first field", `GET / HTTP/1.1\r\n ${H}\r\n`, 400],
  ["whitespace between name and colon", `GET / HTTP/1.1\r\nHost : h\r\n\r\n`, 400],
  ["empty field name", `GET / HTTP/1.1\r\n${H}: x\r\n\r\n`, 400],
  ["field line without a colon", `GET / HTTP/1.1\r\n${H}NoColon\r\n\r\n`, 400],
  ["NUL in a field value", `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, 400],
  ["DEL in a field value", `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, 400],
  ["non-token byte in a field name", `GET / HTTP/1.1\r\n${H}X[1]: a\r\n\r\n`, 400],
  // Host (RFC 9112 §3.2)
  ["HTTP/1.1 without Host", `GET / HTTP/1.1\r\n\r\n`, 400],
  ["two Host fields", `GET / HTTP/1.1\r\n${H}${H}\r\n`, 400],
  ["Host with a space", `GET / HTTP/1.1\r\nHost: a b\r\n\r\n`, 400],
  ["Host with a path", `GET / HTTP/1.1\r\nHost: a/b\r\n\r\n`, 400],
  ["Host with userinfo", `GET / HTTP/1.1\r\nHost: u@a\r\n\r\n`, 400],
  // Framing and smuggling (RFC 9112 §6)
  ["Content-Length with Transfer-Encoding", `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ["Transfer-Encoding with Content-Length", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`, 400],
  ["duplicate identical Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 1\r\n\r\na`, 400],
  ["duplicate differing Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 400],
  ["Content-Length list", `POST / HTTP/1.1\r\n${H}Content-Length: 1, 1\r\n\r\na`, 400],
  ["negative Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
  ["Content-Length with a plus sign", `POST / HTTP/1.1\r\n${H}Content-Length: +1\r\n\r\na`, 400],
  ["hexadecimal Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: 0x1\r\n\r\na`, 400],
  ["empty Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: \r\n\r\n`, 400],
  ["overflowing Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, 400],
  ["Transfer-Encoding not ending in chunked", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, 400],
  ["unknown Transfer-Encoding", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 400],
  ["chunked applied twice", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
  ["obfuscated chunked", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`, 400],
  ["Transfer-Encoding in HTTP/1.0", `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ["unsupported coding before chunked", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501],
  // Expectations (RFC 9110 §10.1.1)
  ["unknown expectation", `POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 0\r\n\r\n`, 417],
  // Limits
  ["request line over the limit", `GET /${"a".repeat(100)} HTTP/1.1\r\n${H}\r\n`, 414, { maxRequestLineBytes: 64 }],
  ["request line one byte over the limit", `GET /${"a".repeat(51)} HTTP/1.1\r\n${H}\r\n`, 414, { maxRequestLineBytes: 64 }],
  ["unterminated request line over the limit", `GET /${"a".repeat(100)}`, 414, { maxRequestLineBytes: 64 }],
  ["head over the limit", `GET / HTTP/1.1\r\n${H}X: ${"a".repeat(300)}\r\n\r\n`, 431, { maxHeaderBytes: 256 }],
  ["unterminated head over the limit", `GET / HTTP/1.1\r\n${H}X: ${"a".repeat(300)}`, 431, { maxHeaderBytes: 256 }],
  ["too many fields", `GET / HTTP/1.1\r\n${H}${"X: 1\r\n".repeat(5)}\r\n`, 431, { maxHeaderCount: 5 }],
  ["declared body over the limit", `POST / HTTP/1.1\r\n${H}Content-Length: 11\r\n\r\n`, 413, { maxBodyBytes: 10 }],
];

// deno-fmt-ignore
const BODY_CASES: Case[] = [
  // Chunked coding (RFC 9112 §7.1)
  ["non-hex chunk size", `${TE}zz\r\n`, 400],
  ["0x chunk size prefix", `${TE}0x5\r\nhello\r\n0\r\n\r\n`, 400],
  ["negative chunk size", `${TE}-5\r\nhello\r\n0\r\n\r\n`, 400],
  ["empty chunk size", `${TE}\r\n`, 400],
  ["chunk size with 17 hex digits", `${TE}00000000000000001\r\na\r\n0\r\n\r\n`, 400],
  ["chunk size followed by space only", `${TE}5 \r\nhello\r\n0\r\n\r\n`, 400],
  ["bare LF after chunk size", `${TE}5\nhello\r\n0\r\n\r\n`, 400],
  ["bare CR in a chunk extension", `${TE}5;a\rb\r\nhello\r\n0\r\n\r\n`, 400],
  ["chunk data longer than its size", `${TE}3\r\nhello\r\n0\r\n\r\n`, 400],
  ["chunk data ending in a bare LF", `${TE}5\r\nhello\n0\r\n\r\n`, 400],
  ["malformed trailer field", `${TE}0\r\nbad trailer\r\n\r\n`, 400],
  ["obs-fold in the trailer section", `${TE}0\r\nX: a\r\n b\r\n\r\n`, 400],
  ["over-long chunk extension", `${TE}5;${"e".repeat(2000)}\r\nhello\r\n0\r\n\r\n`, 400],
  ["chunked body over the limit", `${TE}6\r\nhello!\r\n6\r\nhello!\r\n0\r\n\r\n`, 413, { maxBodyBytes: 10 }],
  ["trailers over the limit", `${TE}0\r\nX: ${"a".repeat(300)}\r\n\r\n`, 400, { maxHeaderBytes: 256 }],
  ["body cut short by the client", `POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`, 400],
];

for (const [group, cases] of [["head", HEAD_CASES], ["body", BODY_CASES]] as const) {
  for (const [name, raw, status, limits] of cases) {
    Deno.test(`rejects ${name} with ${status}`, async () => {
      let handled = 0;
      // The handler reads the body, so body errors surface while it runs.
      const { listener, server } = startServer(async (req) => {
        handled++;
        await req.arrayBuffer();
        return new Response("handled");
      }, { limits, onError: () => new Response("handler error", { status: 500 }) });
      const client = listener.connect();
      client.send(raw);
      if (name === "body cut short by the client") client.end();
      const res = await client.response();
      assert.equal(res.status, status, res.raw);
      assert.equal(res.get("connection"), "close");
      assert.equal(await client.closed(), "", "nothing follows the error and the server closes");
      assert.equal(handled, group === "body" ? 1 : 0);
      await server.shutdown();
    });
  }
}

Deno.test("accepts the well-formed neighbours of the rejected cases", async () => {
  const { listener, server } = startServer(async (req) => new Response(await req.text()));
  const client = listener.connect();
  const ok = [
    `${TE.replace("chunked", "CHUNKED")}5 ; ext="q"\r\nhello\r\n0\r\n\r\n`,
    `POST / HTTP/1.1\r\n${H}Content-Length: 0005\r\n\r\nhello`,
    `${TE}0000000000000005\r\nhello\r\n0\r\n\r\n`,
    `POST / HTTP/1.1\r\nHost: [::1]:8080\r\nX:\t hello\t\r\nContent-Length: 5\r\n\r\nhello`,
    `POST / HTTP/1.1\r\n${H}X: caf\xe9\r\nContent-Length: 5\r\n\r\nhello`,
  ];
  for (const raw of ok) {
    client.send(raw);
    const res = await client.response();
    assert.equal(res.status, 200, raw);
    assert.equal(res.body, "hello");
  }
  await server.shutdown();
});

Deno.test("accepts heads exactly at the limits", async () => {
  const line = `GET /${"a".repeat(50)} HTTP/1.1`;
  assert.equal(line.length, 64);
  const head = `${line}\r\n${H}X: 1\r\n\r\n`;
  const { listener, server } = startServer(() => new Response("ok"), {
    limits: { maxRequestLineBytes: 64, maxHeaderBytes: head.length, maxHeaderCount: 2 },
  });
  const client = listener.connect();
  client.send(head);
  assert.equal((await client.response()).status, 200);
  await server.shutdown();
});

Deno.test("decodes obs-text in a field value as Latin-1", async () => {
  let value: string | null = null;
  const { listener, server } = startServer((req) => {
    value = req.headers.get("x");
    return new Response("ok");
  });
  const client = listener.connect();
  client.send(`GET / HTTP/1.1\r\n${H}X: caf\xe9\r\n\r\n`);
  assert.equal((await client.response()).status, 200);
  assert.equal(value, "caf\xe9");
  await server.shutdown();
});

Deno.test("answers a malformed HEAD request without content", async () => {
  const { listener, server } = startServer(() => new Response("never"));
  const client = listener.connect();
  client.send("HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n");
  const res = await client.response({ head: true });
  assert.equal(res.status, 400);
  assert.ok(Number(res.get("content-length")) > 0, "the length a GET would get");
  assert.equal(await client.closed(), "", "but no content follows");
  await server.shutdown();
});
