import assert from "node:assert/strict";
import { zeroBytes } from "./zero_bytes.ts";

Deno.test("zeroBytes clears exactly the range, short and long", () => {
  for (const [start, end] of [[3, 15], [0, 0], [5, 6], [1, 200]]) {
    const bytes = new Uint8Array(256).fill(0xaa);
    zeroBytes(bytes, start, end);
    for (let i = 0; i < bytes.length; i++) {
      assert.equal(bytes[i], i >= start && i < end ? 0 : 0xaa, `byte ${i} of [${start}, ${end})`);
    }
  }
});
