import assert from "node:assert/strict";
import { SendBuffer } from "./send_buffer.ts";
import { Rng } from "../../util/rng.ts";

function bytes(from: number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);
}

Deno.test("SendBuffer accepts what fits and reports length and free", () => {
  const buf = new SendBuffer(10);
  assert.equal(buf.capacity, 10);
  assert.equal(buf.write(bytes(0, 4)), 4);
  assert.equal(buf.length, 4);
  assert.equal(buf.free, 6);
  assert.equal(buf.write(bytes(4, 20), 0, 20), 6);
  assert.equal(buf.free, 0);
  assert.equal(buf.write(bytes(0, 1)), 0);
  const out = new Uint8Array(10);
  buf.copyOut(0, out, 0, 10);
  assert.deepEqual(out, bytes(0, 10));
});

Deno.test("SendBuffer writes from an offset and copies out at any offset across the wrap", () => {
  const buf = new SendBuffer(8);
  buf.write(bytes(100, 6));
  buf.consume(5); // head at 5: the next writes wrap
  assert.equal(buf.write(bytes(0, 10), 2, 7), 7);
  assert.equal(buf.length, 8);
  const out = new Uint8Array(12).fill(0xee);
  buf.copyOut(1, out, 3, 7);
  assert.deepEqual(out.subarray(3, 10), bytes(2, 7));
  assert.equal(out[2], 0xee);
  assert.equal(out[10], 0xee);
  buf.copyOut(0, out, 0, 0); // nothing to copy
  assert.throws(() => buf.copyOut(2, out, 0, 7), RangeError);
  assert.throws(() => buf.copyOut(-1, out, 0, 1), RangeError);
});

Deno.test("SendBuffer matches a model under random writes, reads and acks", () => {
  const rng = new Rng(42);
  const buf = new SendBuffer(1000);
  let model: number[] = [];
  let next = 0;
  for (let step = 0; step < 5000; step++) {
    const op = rng.below(3);
    if (op === 0) {
      const n = rng.below(400);
      const src = bytes(next, n);
      const accepted = buf.write(src);
      assert.equal(accepted, Math.min(n, 1000 - model.length));
      for (let i = 0; i < accepted; i++) model.push(src[i]);
      next += accepted;
    } else if (op === 1 && model.length > 0) {
      const from = rng.below(model.length);
      const n = rng.below(model.length - from + 1);
      const out = new Uint8Array(n);
      buf.copyOut(from, out, 0, n);
      assert.deepEqual(Array.from(out), model.slice(from, from + n));
    } else {
      const n = rng.below(300);
      buf.consume(n);
      model = model.slice(Math.min(n, model.length));
    }
    assert.equal(buf.length, model.length);
  }
});

Deno.test("SendBuffer consume clamps and resize keeps the bytes", () => {
  const buf = new SendBuffer(6);
  buf.write(bytes(0, 6));
  buf.consume(4);
  buf.write(bytes(6, 3)); // wraps
  buf.consume(-3);
  assert.equal(buf.length, 5);
  buf.resize(20);
  assert.equal(buf.capacity, 20);
  assert.equal(buf.free, 15);
  const out = new Uint8Array(5);
  buf.copyOut(0, out, 0, 5);
  assert.deepEqual(out, bytes(4, 5));
  assert.throws(() => buf.resize(4), RangeError);
  buf.consume(100);
  assert.equal(buf.length, 0);
  assert.throws(() => new SendBuffer(0), RangeError);
});
