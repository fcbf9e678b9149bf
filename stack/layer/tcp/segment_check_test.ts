import assert from "node:assert/strict";
import { acceptable } from "./segment_check.ts";

Deno.test("acceptable: the four cases of RFC 9293 Table 6", () => {
  // Zero length, zero window: only exactly RCV.NXT.
  assert.equal(acceptable(100, 0, 100, 0), true);
  assert.equal(acceptable(101, 0, 100, 0), false);
  // Zero length, open window: RCV.NXT <= SEQ < RCV.NXT + RCV.WND.
  assert.equal(acceptable(100, 0, 100, 10), true);
  assert.equal(acceptable(109, 0, 100, 10), true);
  assert.equal(acceptable(110, 0, 100, 10), true, "the right edge, as Linux accepts");
  assert.equal(acceptable(111, 0, 100, 10), false);
  assert.equal(acceptable(99, 0, 100, 10), false);
  // Data, zero window: never.
  assert.equal(acceptable(100, 5, 100, 0), false);
  // Data, open window: either end inside.
  assert.equal(acceptable(95, 10, 100, 10), true);
  assert.equal(acceptable(105, 10, 100, 10), true);
  assert.equal(acceptable(90, 10, 100, 10), false);
  assert.equal(acceptable(110, 10, 100, 10), false);
});

Deno.test("acceptable: holds across the 32-bit wrap", () => {
  assert.equal(acceptable(0xfffffff0, 0x20, 0xfffffffa, 100), true);
  assert.equal(acceptable(5, 0, 0xfffffffa, 100), true);
  assert.equal(acceptable(0xffffff00, 10, 0xfffffffa, 100), false);
});
