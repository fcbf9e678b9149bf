import assert from "node:assert/strict";
import { ServerRequest } from "./server_request.ts";

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
