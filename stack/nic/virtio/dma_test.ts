import assert from "node:assert/strict";
import { DmaArena, HeapDma } from "./dma.ts";

Deno.test("HeapDma maps offsets to shuffled bus frames and back", () => {
  const memory = new HeapDma(3, 4096, [0x500, 0x100, 0x900]);
  assert.equal(memory.busAddress(0), 0x500000);
  assert.equal(memory.busAddress(4096 + 12), 0x100000 + 12);
  assert.equal(memory.offsetOf(0x900000 + 7), 2 * 4096 + 7);
  assert.equal(memory.offsetOf(0x200000), -1);
  assert.throws(() => new HeapDma(2, 4096, [1]), /Expected 2 frames/);
});

Deno.test("DmaArena aligns pieces and never lets one straddle a page", () => {
  const arena = new DmaArena(new HeapDma(4));
  assert.equal(arena.alloc(100, 16), 0);
  assert.equal(arena.alloc(10, 16), 112);
  // 4000 bytes do not fit in the rest of page 0, so the piece starts on page 1.
  assert.equal(arena.alloc(4000, 4), 4096);
  assert.equal(arena.alloc(2048, 2048), 2 * 4096);
  assert.equal(arena.alloc(2048, 2048), 2 * 4096 + 2048);
  assert.throws(() => arena.alloc(5000, 4), /Cannot place 5000 bytes/);
  arena.alloc(4096, 4096);
  assert.throws(() => arena.alloc(1, 1), /DMA memory exhausted/);
});
