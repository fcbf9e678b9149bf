import assert from "node:assert/strict";
import { copyBytes } from "./copy.ts";

Deno.test("copyBytes copies short and long regions exactly", () => {
  for (const length of [0, 1, 255, 256, 257, 1500]) {
    const src = new Uint8Array(length + 10).map((_, i) => i * 7);
    const dst = new Uint8Array(length + 20);
    copyBytes(src, 5, dst, 9, length);
    assert.deepEqual(dst.subarray(9, 9 + length), src.subarray(5, 5 + length));
    assert.equal(dst[8], 0);
    assert.equal(dst[9 + length], 0);
  }
});
