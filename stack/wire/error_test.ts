import assert from "node:assert/strict";
import { isWireError, WireError } from "./error.ts";

Deno.test("WireError carries its code and message and is an Error", () => {
  const error = new WireError("truncated", "Cannot parse IPv4 header: 12 bytes is below 20");
  assert.ok(error instanceof Error);
  assert.equal(error.code, "truncated");
  assert.equal(error.name, "WireError");
  assert.equal(error.message, "Cannot parse IPv4 header: 12 bytes is below 20");
  assert.match(String(error), /^WireError: Cannot parse IPv4 header/);
});

Deno.test("isWireError narrows results and rejects other errors", () => {
  const results: unknown[] = [new WireError("checksum", "x"), new Error("x"), undefined, {
    code: "x",
  }];
  assert.deepEqual(results.map(isWireError), [true, false, false, false]);
});
