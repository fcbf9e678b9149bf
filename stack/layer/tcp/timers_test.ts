import assert from "node:assert/strict";
import { ConnTimers } from "./timers.ts";

Deno.test("ConnTimers: the deadline is the earliest armed timer", () => {
  const t = new ConnTimers();
  assert.equal(t.deadline, Infinity);
  t.rtoAt = 500;
  t.delAckAt = 40;
  t.keepAt = 7_200_000;
  assert.equal(t.deadline, 40);
  t.clear();
  assert.equal(t.deadline, Infinity);
});
