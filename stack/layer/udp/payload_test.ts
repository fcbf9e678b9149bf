import assert from "node:assert/strict";
import { UdpPayload } from "./payload.ts";

Deno.test("UdpPayload copies held data, calls a held fill, and writes nothing once cleared", () => {
  const payload = new UdpPayload();
  const buffer = new Uint8Array(8);
  payload.copy(new Uint8Array([1, 2, 3]));
  payload.write(buffer, 2, 3);
  assert.deepEqual([...buffer], [0, 0, 1, 2, 3, 0, 0, 0]);

  const calls: number[][] = [];
  payload.fillWith((bytes, offset, length) => {
    calls.push([offset, length]);
    bytes.fill(9, offset, offset + length);
  });
  payload.write(buffer, 5, 2);
  assert.deepEqual(calls, [[5, 2]]);
  assert.deepEqual([...buffer], [0, 0, 1, 2, 3, 9, 9, 0]);

  payload.clear();
  payload.write(buffer, 0, 0);
  assert.deepEqual(calls, [[5, 2]], "the fill is not called after clear");
  assert.deepEqual([...buffer], [0, 0, 1, 2, 3, 9, 9, 0]);

  // A copy after a fill uses the data, not the old fill.
  payload.fillWith(() => calls.push([-1]));
  payload.copy(new Uint8Array([7]));
  payload.write(buffer, 0, 1);
  assert.equal(buffer[0], 7);
  assert.equal(calls.length, 1);
});
