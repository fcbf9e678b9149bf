import assert from "node:assert/strict";
import { Rng } from "../../util/rng.ts";
import { TimerHeap } from "./timer_heap.ts";

Deno.test("TimerHeap: pops deadlines in order", () => {
  const heap = new TimerHeap();
  const rng = new Rng(3);
  const times: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = rng.below(10_000);
    times.push(t);
    heap.push(t, i);
  }
  times.sort((a, b) => a - b);
  const popped: number[] = [];
  while (heap.length > 0) {
    popped.push(heap.peekTime());
    heap.pop();
  }
  assert.deepEqual(popped, times);
  assert.equal(heap.peekTime(), Infinity);
});

Deno.test("TimerHeap: compact keeps only approved entries", () => {
  const heap = new TimerHeap();
  for (let i = 0; i < 10; i++) heap.push(10 - i, i);
  heap.compact((_time, key) => key % 2 === 0);
  assert.equal(heap.length, 5);
  assert.equal(heap.peekKey(), 8);
  assert.equal(heap.peekTime(), 2);
});
