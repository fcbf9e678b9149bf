import assert from "node:assert/strict";
import { internetChecksum, onesSum } from "./checksum.ts";
import { checksumMemory } from "./checksum_wasm.ts";
import { Rng } from "../util/rng.ts";

/** RFC 1071 the slow way: big-endian 16-bit words, a final odd byte padded with zero. */
function naiveSum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    sum += (bytes[offset + i] << 8) | (i + 1 < length ? bytes[offset + i + 1] : 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

Deno.test("sums over a WebAssembly checksum memory match RFC 1071 at every length and alignment", () => {
  const memory = checksumMemory(4 * 65536)!;
  const bytes = new Uint8Array(memory.buffer);
  new Rng(11).fill(bytes);
  for (let offset = 0; offset < 9; offset++) {
    for (let length = 0; length <= 300; length++) {
      assert.equal(
        onesSum(bytes, offset, length),
        naiveSum(bytes, offset, length),
        `${offset}+${length}`,
      );
    }
  }
  // Views that start inside the memory (a frame in a ring buffer), and a region of over 64 KiB.
  const view = bytes.subarray(4099, 4099 + 2048);
  for (const [offset, length] of [[0, 1514], [12, 1500], [33, 1467], [0, 2048]]) {
    const expected = naiveSum(view, offset, length) + 77;
    assert.equal(
      onesSum(view, offset, length, 77),
      expected > 0xffff ? expected - 0xffff : expected,
    );
  }
  assert.equal(onesSum(bytes, 5, 200_001), naiveSum(bytes, 5, 200_001));
});

Deno.test("the largest sums fold correctly in WebAssembly (all ones)", () => {
  const memory = checksumMemory(65536)!;
  const bytes = new Uint8Array(memory.buffer).fill(0xff);
  for (const length of [64, 65, 1500, 65535, 65536]) {
    assert.equal(onesSum(bytes, 0, length), naiveSum(bytes, 0, length), `${length}`);
  }
  bytes.fill(0);
  assert.equal(internetChecksum(bytes, 0, 1000), 0xffff);
});

Deno.test("a region reaching past its view is summed by the JavaScript path, missing bytes as zero", () => {
  const memory = checksumMemory(65536)!;
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(0xab);
  const view = bytes.subarray(100, 200);
  // 100 bytes in the view, 50 beyond it: those count as zero, never as the memory's next bytes.
  const inside = naiveSum(view, 0, 100);
  assert.equal(onesSum(view, 0, 150), inside);
});
