import assert from "node:assert/strict";
import { FourTupleMap } from "./tuple_map.ts";

Deno.test("FourTupleMap: tuples differing in any field are distinct", () => {
  const map = new FourTupleMap();
  map.set(0x0a000001, 80, 0x0a000002, 5000, 1);
  map.set(0x0a000001, 80, 0x0a000002, 5001, 2);
  map.set(0x0a000001, 81, 0x0a000002, 5000, 3);
  map.set(0x0a000003, 80, 0x0a000002, 5000, 4);
  map.set(0x0a000001, 80, 0xffffffff, 5000, 5);
  assert.equal(map.size, 5);
  assert.equal(map.get(0x0a000001, 80, 0x0a000002, 5000), 1);
  assert.equal(map.get(0x0a000001, 80, 0x0a000002, 5001), 2);
  assert.equal(map.get(0x0a000001, 81, 0x0a000002, 5000), 3);
  assert.equal(map.get(0x0a000003, 80, 0x0a000002, 5000), 4);
  assert.equal(map.get(0x0a000001, 80, 0xffffffff, 5000), 5);
  assert.equal(map.get(0x0a000001, 80, 0x0a000002, 5002), undefined);
});

Deno.test("FourTupleMap: delete removes one tuple only", () => {
  const map = new FourTupleMap();
  map.set(1, 2, 3, 4, 10);
  map.set(1, 2, 3, 5, 11);
  assert.equal(map.delete(1, 2, 3, 4), true);
  assert.equal(map.delete(1, 2, 3, 4), false);
  assert.equal(map.get(1, 2, 3, 5), 11);
  assert.equal(map.size, 1);
});

Deno.test("FourTupleMap: the last tuple found is forgotten when it is replaced or deleted", () => {
  const map = new FourTupleMap();
  map.set(1, 2, 3, 4, 10);
  assert.equal(map.get(1, 2, 3, 4), 10);
  assert.equal(map.get(1, 2, 3, 4), 10, "found again, from the cache");
  map.set(1, 2, 3, 4, 12);
  assert.equal(map.get(1, 2, 3, 4), 12);
  assert.equal(map.delete(1, 2, 3, 4), true);
  assert.equal(map.get(1, 2, 3, 4), undefined);
  assert.equal(map.get(1, 2, 3, 5), undefined);
  map.set(1, 2, 3, 5, 13);
  assert.equal(map.get(1, 2, 3, 5), 13);
});
