import assert from "node:assert/strict";
import { ControlQueue } from "./control_queue.ts";

Deno.test("ControlQueue: first in, first out, bounded", () => {
  const q = new ControlQueue(2);
  assert.equal(q.push(1, 2, 3, 4, 5, 6, 4), 0);
  assert.equal(q.push(1, 2, 3, 4, 7, 8, 20), 1);
  assert.equal(q.push(1, 2, 3, 4, 9, 9, 4), -1, "full");
  assert.equal(q.seq[q.head], 5);
  q.shift();
  assert.equal(q.seq[q.head], 7);
  assert.equal(q.flags[q.head], 20);
  q.shift();
  assert.equal(q.length, 0);
  assert.equal(q.push(1, 2, 3, 4, 0xffffffff, 0, 4) >= 0, true);
  assert.equal(q.seq[q.head], 0xffffffff);
  assert.equal(q.tsEcr[q.head], -1, "no timestamp unless set");
});
