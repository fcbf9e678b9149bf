import assert from "node:assert/strict";
import { STATIC_BODY_SUPPORTED, takeStaticBody } from "./static_body.ts";

/** A response as the server sees it: its fields were read first, which builds a lazy body. */
function served(response: Response): Response {
  response.headers.forEach(() => {});
  return response;
}

Deno.test("takeStaticBody recognises this runtime's Response", () => {
  assert.equal(STATIC_BODY_SUPPORTED, true);
});

Deno.test("takeStaticBody takes a string or bytes body once and marks it used", () => {
  const text = served(new Response("héllo", { headers: { "content-type": "text/x" } }));
  assert.equal(takeStaticBody(text), "héllo");
  assert.equal(text.bodyUsed, true);
  assert.equal(takeStaticBody(text), undefined, "a used body is not taken twice");

  const bytes = served(new Response(new Uint8Array([1, 2, 3])));
  assert.deepEqual(takeStaticBody(bytes), new Uint8Array([1, 2, 3]));
  assert.equal(bytes.bodyUsed, true);

  assert.equal(takeStaticBody(served(Response.json({ a: 1 }))), '{"a":1}');
  assert.equal(takeStaticBody(served(new Response("gone", { status: 404 }))), "gone");
});

Deno.test("takeStaticBody leaves null, stream and blob bodies to the stream path", async () => {
  const none = served(new Response(null));
  assert.equal(takeStaticBody(none), undefined);
  const stream = served(new Response(new ReadableStream({ start: (c) => c.close() })));
  assert.equal(takeStaticBody(stream), undefined);
  assert.equal(stream.bodyUsed, false);
  const blob = served(new Response(new Blob(["xy"])));
  assert.equal(takeStaticBody(blob), undefined);
  assert.equal(await blob.text(), "xy");
});

Deno.test("takeStaticBody leaves a body alone once the handler made its stream", async () => {
  const response = served(new Response("streamed"));
  const stream = response.body;
  assert.ok(stream !== null);
  assert.equal(takeStaticBody(response), undefined);
  assert.equal(await new Response(stream).text(), "streamed");
});

Deno.test("takeStaticBody leaves a body already read by the handler", async () => {
  const response = served(new Response("read"));
  assert.equal(await response.text(), "read");
  assert.equal(takeStaticBody(response), undefined);
});
