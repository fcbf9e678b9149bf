import assert from "node:assert/strict";
import { SlotMap } from "./slot_map.ts";

Deno.test("SlotMap: insert, get and remove", () => {
  const map = new SlotMap<string>();
  const a = map.insert("a");
  const b = map.insert("b");
  assert.equal(map.get(a), "a");
  assert.equal(map.get(b), "b");
  assert.equal(map.size, 2);
  assert.equal(map.remove(a), "a");
  assert.equal(map.get(a), undefined);
  assert.equal(map.size, 1);
});

Deno.test("SlotMap: a stale key never reaches the value that reused its slot", () => {
  const map = new SlotMap<string>();
  const old = map.insert("old");
  map.remove(old);
  const reused = map.insert("new");
  assert.notEqual(reused, old);
  assert.equal(map.get(old), undefined);
  assert.equal(map.remove(old), undefined);
  assert.equal(map.get(reused), "new");
});

Deno.test("SlotMap: values lists what is stored", () => {
  const map = new SlotMap<number>();
  const keys = [1, 2, 3, 4].map((v) => map.insert(v));
  map.remove(keys[1]);
  assert.deepEqual([...map.values()].sort(), [1, 3, 4]);
});
