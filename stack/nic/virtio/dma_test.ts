import assert from "node:assert/strict";
import { allocateDma, DmaArena, HeapDma } from "./dma.ts";
import { onesSum } from "../../wire/checksum.ts";

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

Deno.test({
  name: "allocateDma puts the region in a WebAssembly memory whose checksums run there (root)",
  ignore: Deno.build.os !== "linux" || Deno.uid() !== 0,
  fn() {
    const memory = allocateDma(300_000);
    try {
      assert.ok(
        memory.kind === "hugepages 2 MiB" || memory.kind === "locked 4 KiB pages",
        memory.kind,
      );
      assert.ok(memory.bytes.length >= 300_000);
      // A page starts at a page boundary on the bus, and every page has a frame.
      for (let at = 0; at < memory.bytes.length; at += memory.pageSize) {
        assert.equal(memory.busAddress(at) % 4096, 0);
        assert.equal(memory.busAddress(at + 100), memory.busAddress(at) + 100);
      }
      // The bytes are a view into a WebAssembly memory, which onesSum sums in WebAssembly.
      const buffer = memory.bytes.buffer;
      assert.equal(buffer.byteLength % 65536, 0);
      memory.bytes.fill(0x12, 1000, 2501);
      let expected = 0;
      for (let i = 1001; i < 2501; i += 2) expected += (0x12 << 8) | (i + 1 < 2501 ? 0x12 : 0);
      expected = ((expected - 1) % 0xffff) + 1;
      assert.equal(onesSum(memory.bytes, 1001, 1500), expected);
    } finally {
      memory.close();
    }
  },
});
