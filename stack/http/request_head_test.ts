import assert from "node:assert/strict";
import { HttpError } from "./error.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { parseRequestHead, RequestHead } from "./request_head.ts";

function parse(text: string, limits = DEFAULT_LIMITS): RequestHead | HttpError {
  const bytes = new Uint8Array([...text].map((c) => c.charCodeAt(0)));
  return parseRequestHead(bytes, 0, bytes.length, limits);
}

Deno.test("parseRequestHead reads the request line, fields and framing", () => {
  const head = parse(
    "POST /x?y HTTP/1.1\r\nHost: h:1\r\nContent-Length: 12\r\nConnection: Keep-Alive, CLOSE\r\n" +
      "X-Empty:\r\nX-Pad: \t v a \t\r\n\r\n",
  );
  assert.ok(head instanceof RequestHead);
  assert.equal(head.method, "POST");
  assert.equal(head.target, "/x?y");
  assert.equal(head.minor, 1);
  assert.equal(head.host, "h:1");
  assert.equal(head.framing, "length");
  assert.equal(head.contentLength, 12);
  assert.equal(head.close, true);
  assert.equal(head.keepAlive, true);
  assert.deepEqual(head.fields, [
    ["host", "h:1"],
    ["content-length", "12"],
    ["connection", "Keep-Alive, CLOSE"],
    ["x-empty", ""],
    ["x-pad", "v a"],
  ]);
});

Deno.test("parseRequestHead treats Content-Length 0 as no body and finds chunked", () => {
  const zero = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") as RequestHead;
  assert.equal(zero.framing, "none");
  const chunked = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , Chunked\r\n\r\n");
  assert.equal((chunked as RequestHead).framing, "chunked");
});

Deno.test("parseRequestHead ignores Expect in HTTP/1.0 and flags 100-continue in 1.1", () => {
  const old = parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") as RequestHead;
  assert.equal(old.expectContinue, false);
  assert.equal(old.host, undefined);
  const cont = parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n") as RequestHead;
  assert.equal(cont.expectContinue, true);
});

Deno.test("parseRequestHead returns errors with their statuses", () => {
  const cases: [string, number][] = [
    ["GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505],
    ["GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", 0],
    ["GET / HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n", 501],
  ];
  for (const [text, status] of cases) {
    const result = parse(text);
    if (status === 0) assert.ok(result instanceof RequestHead, text);
    else assert.equal((result as HttpError).status, status, text);
  }
  const tooBig = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", {
    ...DEFAULT_LIMITS,
    maxBodyBytes: 10,
  });
  assert.equal((tooBig as HttpError).status, 413);
});

Deno.test("parseRequestHead handles more fields than its mark buffer starts with", () => {
  const many = Array.from({ length: 300 }, (_, i) => `X-${i}: ${i}\r\n`).join("");
  const head = parse(`GET / HTTP/1.1\r\nHost: h\r\n${many}\r\n`, {
    ...DEFAULT_LIMITS,
    maxHeaderCount: 400,
  });
  assert.ok(head instanceof RequestHead);
  assert.equal(head.fields.length, 301);
  assert.deepEqual(head.fields[300], ["x-299", "299"]);
});
