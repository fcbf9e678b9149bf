import assert from "node:assert/strict";
import { BODILESS_SUPPORTED, type HeaderEntry, ServerRequest } from "./server_request.ts";

Deno.test("ServerRequest is a Request with the given URL, method and fields", async () => {
  const req = new ServerRequest("http://example.test/a?b=1", {
    method: "POST",
    headers: [["content-type", "text/plain"], ["x-two", "a"], ["x-two", "b"]],
    body: "hi",
  });
  assert.ok(req instanceof Request);
  assert.equal(req.url, "http://example.test/a?b=1");
  assert.equal(req.method, "POST");
  assert.equal(req.headers.get("x-two"), "a, b");
  assert.equal(await req.text(), "hi");
});

Deno.test("ServerRequest's signal stays quiet until the request is abandoned", () => {
  const req = new ServerRequest("http://example.test/");
  const signal = req.signal;
  assert.equal(req.signal, signal, "one signal per request");
  assert.equal(signal.aborted, false);
  let events = 0;
  signal.addEventListener("abort", () => events++);
  req.abandon();
  req.abandon();
  assert.equal(signal.aborted, true);
  assert.equal(events, 1);
});

Deno.test("ServerRequest's signal asked for after abandonment is already aborted", () => {
  const req = new ServerRequest("http://example.test/");
  req.abandon();
  assert.equal(req.signal.aborted, true);
});

Deno.test("this runtime's Request internals are recognised for requests without a body", () => {
  // Deno 2.9: if this fails after a Deno upgrade, the server still works, through the constructor.
  assert.equal(BODILESS_SUPPORTED, true);
});

Deno.test("a bodiless ServerRequest behaves like the one the constructor builds", async () => {
  const fields: HeaderEntry[] = [["host", "example.test"], ["accept", "*/*"], ["x-two", "a"], [
    "x-two",
    "b",
  ]];
  const req = ServerRequest.bodiless("http://example.test/a?b=1", "GET", fields);
  const built = new ServerRequest("http://example.test/a?b=1", { headers: fields });
  assert.ok(req instanceof Request);
  for (const r of [req, built]) {
    assert.equal(r.url, "http://example.test/a?b=1");
    assert.equal(r.method, "GET");
    assert.equal(r.body, null);
    assert.equal(r.bodyUsed, false);
    assert.equal(r.headers.get("X-Two"), "a, b");
    assert.equal(r.redirect, "follow");
  }
  assert.deepEqual([...req.headers], [...built.headers]);
  req.headers.set("x-added", "1"); // a server request's fields may be changed, as before
  assert.equal(req.headers.get("x-added"), "1");
  assert.equal(await req.text(), "");
  assert.equal(req.bodyUsed, false, "an absent body is never used");

  const copy = new Request(req, { method: "HEAD" });
  assert.equal(copy.url, req.url);
  assert.equal(copy.method, "HEAD");
  assert.equal(copy.headers.get("x-added"), "1");
  const clone = req.clone();
  assert.equal(clone.url, req.url);
  clone.headers.delete("x-two");
  assert.equal(req.headers.get("x-two"), "a, b", "a clone's fields are its own");
  assert.match(Deno.inspect(req), /url: "http:\/\/example\.test\/a\?b=1"/);

  req.abandon();
  assert.equal(req.signal.aborted, true);
});
