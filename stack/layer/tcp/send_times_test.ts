import assert from "node:assert/strict";
import { SendTimes } from "./send_times.ts";

Deno.test("SendTimes: finds the segment holding a byte", () => {
  const t = new SendTimes(8);
  t.record(100, 200, 1);
  t.record(200, 300, 2);
  t.record(300, 350, 3);
  assert.equal(t.lookup(100), 1);
  assert.equal(t.lookup(199), 1);
  assert.equal(t.lookup(200), 2);
  assert.equal(t.lookup(349), 3);
  assert.equal(t.lookup(350), undefined);
  assert.equal(t.lookup(99), undefined);
});

Deno.test("SendTimes: old entries fall off the ring, and retransmissions are ignored", () => {
  const t = new SendTimes(2);
  t.record(0, 10, 1);
  t.record(10, 20, 2);
  t.record(20, 30, 3);
  assert.equal(t.lookup(5), undefined);
  assert.equal(t.lookup(15), 2);
  t.record(10, 20, 9);
  assert.equal(t.lookup(15), 2);
});

Deno.test("SendTimes: works across the sequence wrap", () => {
  const t = new SendTimes(8);
  t.record(0xfffffff0, 0x10, 5);
  t.record(0x10, 0x30, 6);
  assert.equal(t.lookup(0xfffffff8), 5);
  assert.equal(t.lookup(0x05), 5);
  assert.equal(t.lookup(0x20), 6);
});
