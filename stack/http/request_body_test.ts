import assert from "node:assert/strict";
import { parseChunkSize } from "./request_body.ts";

function size(text: string): number {
  const bytes = new TextEncoder().encode(text);
  return parseChunkSize(bytes, 0, bytes.length);
}

Deno.test("parseChunkSize reads hex sizes with optional extensions", () => {
  assert.equal(size("0"), 0);
  assert.equal(size("a"), 10);
  assert.equal(size("FF"), 255);
  assert.equal(size("00010"), 16);
  assert.equal(size("5;ext"), 5);
  assert.equal(size('5 ; a=b ; c="d e"'), 5);
  assert.equal(size("ffffffffffff"), 0xffffffffffff);
});

Deno.test("parseChunkSize rejects malformed sizes", () => {
  for (
    const bad of ["", " 5", "5 ", "x", "0x5", "-1", "+1", "5\t", "5;\x00", "5;\x7f", "1".repeat(17)]
  ) {
    assert.equal(size(bad), -1, JSON.stringify(bad));
  }
});
