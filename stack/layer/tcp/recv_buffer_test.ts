import assert from "node:assert/strict";
import { RecvBuffer } from "./recv_buffer.ts";
import { Rng } from "../../util/rng.ts";

/** Stream byte `k` of version `v`: retransmissions with other versions carry other bytes. */
function streamByte(k: number, v = 0): number {
  return (k * 7 + v * 101 + 3) & 0xff;
}

function segment(from: number, n: number, v = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => streamByte(from + i, v));
}

function readAll(buf: RecvBuffer): number[] {
  const out = new Uint8Array(buf.readable);
  buf.read(out);
  return Array.from(out);
}

Deno.test("RecvBuffer in-order data is readable at once", () => {
  const buf = new RecvBuffer(100);
  assert.equal(buf.window, 100);
  assert.equal(buf.write(0, segment(0, 10), 0, 10), 10);
  assert.equal(buf.readable, 10);
  assert.equal(buf.window, 90);
  assert.equal(buf.write(0, segment(10, 5), 0, 5), 5);
  assert.deepEqual(readAll(buf), Array.from(segment(0, 15)));
  assert.equal(buf.window, 100);
});

Deno.test("RecvBuffer holds out-of-order data until the gap fills", () => {
  const buf = new RecvBuffer(100);
  assert.equal(buf.write(10, segment(10, 10), 0, 10), 0);
  assert.equal(buf.write(30, segment(30, 5), 0, 5), 0);
  assert.equal(buf.outOfOrderBytes, 15);
  assert.equal(buf.outOfOrderRanges, 2);
  assert.equal(buf.readable, 0);
  assert.equal(buf.window, 100);
  assert.equal(buf.write(0, segment(0, 10), 0, 10), 20);
  assert.equal(buf.outOfOrderBytes, 5);
  // RCV.NXT moved by 20: the remaining range is now 10 bytes after it.
  assert.equal(buf.write(0, segment(20, 10), 0, 10), 15);
  assert.equal(buf.outOfOrderBytes, 0);
  assert.deepEqual(readAll(buf), Array.from(segment(0, 35)));
});

Deno.test("RecvBuffer trims data beyond the window and before RCV.NXT", () => {
  const buf = new RecvBuffer(16);
  assert.equal(buf.write(0, segment(0, 20), 0, 20), 16);
  assert.equal(buf.window, 0);
  assert.equal(buf.write(0, segment(16, 4), 0, 4), 0);
  const out = new Uint8Array(6);
  assert.equal(buf.read(out), 6);
  assert.deepEqual(out, segment(0, 6));
  // A retransmission starting 4 bytes before RCV.NXT (stream byte 12) adds the 6 new bytes that fit.
  const src = segment(12, 12);
  assert.equal(buf.write(-4, src, 0, 12), 6);
  assert.equal(buf.write(-4, src, 0, 4), 0); // entirely old
  assert.equal(buf.readable, 16);
  const all = new Uint8Array(16);
  buf.read(all);
  assert.deepEqual(all, segment(6, 16));
});

Deno.test("RecvBuffer keeps the first-received bytes of overlapping segments", () => {
  const buf = new RecvBuffer(64);
  buf.write(10, segment(10, 10, 1), 0, 10); // version 1 of 10..20
  buf.write(5, segment(5, 20, 2), 0, 20); // version 2 of 5..25 overlaps it
  assert.equal(buf.outOfOrderBytes, 20);
  assert.equal(buf.outOfOrderRanges, 1);
  assert.equal(buf.write(0, segment(0, 8, 3), 0, 8), 25);
  const expected = [
    ...segment(0, 5, 3),
    ...segment(5, 5, 2),
    ...segment(10, 10, 1),
    ...segment(20, 5, 2),
  ];
  assert.deepEqual(readAll(buf), expected);
});

Deno.test("RecvBuffer drops a new range beyond maxHoles but still fills existing ones", () => {
  const buf = new RecvBuffer(1000, 2);
  buf.write(100, segment(100, 10), 0, 10);
  buf.write(200, segment(200, 10), 0, 10);
  assert.equal(buf.write(300, segment(300, 10), 0, 10), 0);
  assert.equal(buf.outOfOrderRanges, 2);
  assert.equal(buf.outOfOrderBytes, 20);
  // Touching or overlapping an existing range needs no new slot.
  buf.write(110, segment(110, 10), 0, 10);
  buf.write(195, segment(195, 10), 0, 10);
  assert.equal(buf.outOfOrderBytes, 35);
  assert.equal(buf.refused, 1, "only the segment that needed a third range was refused");
  // Data at RCV.NXT needs no slot either.
  assert.equal(buf.write(0, segment(0, 50), 0, 50), 50);
  assert.equal(buf.write(0, segment(50, 50), 0, 50), 70); // RCV.NXT is now stream byte 50
  assert.equal(buf.outOfOrderRanges, 1);
  const none = new RecvBuffer(100, 0);
  assert.equal(none.write(1, segment(1, 5), 0, 5), 0);
  assert.equal(none.outOfOrderBytes, 0);
  assert.equal(none.write(0, segment(0, 5), 0, 5), 5);
});

Deno.test("RecvBuffer SACK blocks are in sequence space, most recent first (RFC 2018 §4)", () => {
  const buf = new RecvBuffer(10_000, 8);
  const rcvNxt = 0xfffffff0; // the blocks wrap around 2^32
  const blocks: number[] = [];
  assert.equal(buf.sackBlocks(rcvNxt, blocks), 0);
  buf.write(100, segment(0, 10), 0, 10);
  buf.write(300, segment(0, 10), 0, 10);
  buf.write(500, segment(0, 10), 0, 10);
  assert.equal(buf.sackBlocks(rcvNxt, blocks), 3);
  const seq = (n: number) => (rcvNxt + n) >>> 0;
  assert.deepEqual(blocks, [seq(500), seq(510), seq(300), seq(310), seq(100), seq(110)]);
  // Extending the oldest block makes it the most recent.
  buf.write(110, segment(0, 10), 0, 10);
  buf.write(700, segment(0, 10), 0, 10);
  buf.write(900, segment(0, 10), 0, 10);
  buf.write(120, segment(0, 5), 0, 5);
  assert.equal(buf.sackBlocks(rcvNxt, blocks), 4);
  assert.deepEqual(blocks, [
    seq(100),
    seq(125),
    seq(900),
    seq(910),
    seq(700),
    seq(710),
    seq(500),
    seq(510),
  ]);
  // After the gap fills, blocks are relative to the new RCV.NXT.
  assert.equal(buf.write(0, segment(0, 100), 0, 100), 125);
  buf.sackBlocks(seq(125), blocks);
  assert.deepEqual(blocks.slice(0, 2), [seq(900), seq(910)]);
  buf.dropOutOfOrder();
  assert.equal(buf.sackBlocks(seq(125), blocks), 0);
  assert.equal(buf.outOfOrderBytes, 0);
});

Deno.test("RecvBuffer reassembles random segment orders like a model", () => {
  const rng = new Rng(2024);
  for (let trial = 0; trial < 60; trial++) {
    const capacity = 64 + rng.below(2000);
    const buf = new RecvBuffer(capacity, 1000);
    const total = capacity * 3;
    const model: (number | undefined)[] = []; // first-received byte per stream offset
    let rcvNxt = 0; // stream offset of RCV.NXT
    let readPos = 0; // stream offset of the next byte the application reads
    const read: number[] = [];
    for (let step = 0; step < 3000 && readPos < total; step++) {
      if (rng.below(4) === 0) {
        const out = new Uint8Array(rng.below(300));
        const n = buf.read(out);
        assert.equal(n, Math.min(out.length, rcvNxt - readPos));
        read.push(...out.subarray(0, n));
        readPos += n;
        continue;
      }
      // A segment near RCV.NXT, sometimes old, sometimes beyond the window, in a random version.
      const from = Math.max(0, rcvNxt - 50 + rng.below(capacity + 100));
      const n = Math.min(1 + rng.below(200), total - from);
      if (n <= 0) continue;
      const v = rng.below(3);
      const advanced = buf.write(from - rcvNxt, segment(from, n, v), 0, n);
      // The model: accept bytes inside [rcvNxt, readPos + capacity), keeping the first received.
      const windowEnd = readPos + capacity;
      for (let k = Math.max(from, rcvNxt); k < Math.min(from + n, windowEnd); k++) {
        model[k] ??= streamByte(k, v);
      }
      let next = rcvNxt;
      while (model[next] !== undefined) next++;
      assert.equal(advanced, next - rcvNxt, `trial ${trial} step ${step}`);
      rcvNxt = next;
      assert.equal(buf.readable, rcvNxt - readPos);
      assert.equal(buf.window, capacity - (rcvNxt - readPos));
      let ooo = 0;
      for (let k = rcvNxt; k < windowEnd; k++) if (model[k] !== undefined) ooo++;
      assert.equal(buf.outOfOrderBytes, ooo);
    }
    const rest = new Uint8Array(buf.readable);
    buf.read(rest);
    read.push(...rest);
    assert.deepEqual(read, model.slice(0, read.length));
    assert.ok(read.length > capacity, `trial ${trial} read ${read.length}`);
  }
});

Deno.test("RecvBuffer peek and consume", () => {
  const buf = new RecvBuffer(8);
  buf.write(0, segment(0, 6), 0, 6);
  buf.consume(4);
  buf.write(0, segment(6, 6), 0, 6); // wraps
  const out = new Uint8Array(8);
  assert.equal(buf.peek(out), 8);
  assert.deepEqual(out, segment(4, 8));
  assert.equal(buf.readable, 8);
  buf.consume(100);
  assert.equal(buf.readable, 0);
  assert.equal(buf.read(out), 0);
  assert.throws(() => new RecvBuffer(0), RangeError);
});

Deno.test("RecvBuffer with few holes stays bounded and delivers the right bytes", () => {
  const rng = new Rng(77);
  const buf = new RecvBuffer(4096, 3);
  let rcvNxt = 0;
  const out = new Uint8Array(4096);
  let readPos = 0;
  for (let step = 0; step < 20_000; step++) {
    const from = rcvNxt + rng.below(3000);
    const n = 1 + rng.below(100);
    const v = rng.below(3);
    rcvNxt += buf.write(from - rcvNxt, segment(from, n, v), 0, n);
    assert.ok(buf.outOfOrderRanges <= 3);
    assert.ok(buf.outOfOrderBytes <= buf.window);
    const got = buf.read(out, 0, rng.below(500));
    for (let i = 0; i < got; i++) {
      const k = readPos + i;
      const b = out[i];
      assert.ok(b === streamByte(k, 0) || b === streamByte(k, 1) || b === streamByte(k, 2));
    }
    readPos += got;
  }
  assert.ok(readPos > 10_000, `${readPos}`);
});

Deno.test("RecvBuffer lends an in-order segment to an empty ring and reads straight from it", () => {
  const buf = new RecvBuffer(100);
  const frame = new Uint8Array(40);
  frame.set(segment(0, 30), 10); // payload at offset 10 of a "frame"
  assert.equal(buf.write(0, frame, 10, 30, true), 30);
  assert.equal(buf.lending, true);
  assert.equal(buf.readable, 30);
  assert.equal(buf.window, 70);
  const out = new Uint8Array(30);
  assert.equal(buf.read(out), 30);
  assert.deepEqual(out, segment(0, 30));
  assert.equal(buf.lending, false, "fully read: nothing is left to copy");
  buf.settle();
  assert.equal(buf.readable, 0);
  assert.equal(buf.window, 100);
});

Deno.test("RecvBuffer settle copies what the app left of a lent segment before its buffer is reused", () => {
  const buf = new RecvBuffer(64);
  // Move the head near the end of the ring, so that the settled bytes wrap around.
  buf.write(0, segment(0, 50), 0, 50);
  buf.read(new Uint8Array(50));
  const frame = segment(50, 30);
  assert.equal(buf.write(0, frame, 0, 30, true), 30);
  const first = new Uint8Array(12);
  assert.equal(buf.read(first), 12);
  assert.deepEqual(first, segment(50, 12));
  buf.settle();
  assert.equal(buf.lending, false);
  frame.fill(0xee); // the NIC reuses its buffer
  assert.equal(buf.write(0, segment(80, 10), 0, 10, true), 10, "the ring is not empty: copied");
  assert.equal(buf.lending, false);
  assert.deepEqual(readAll(buf), Array.from(segment(62, 28)));
});

Deno.test("RecvBuffer settles a lent segment before taking the next one", () => {
  const buf = new RecvBuffer(100);
  const frame = segment(0, 20);
  buf.write(0, frame, 0, 20, true);
  // Out of order while lent: the lent bytes go to the ring first, then the range is held.
  assert.equal(buf.write(10, segment(30, 10), 0, 10, true), 0);
  assert.equal(buf.lending, false);
  frame.fill(0);
  assert.equal(buf.write(0, segment(20, 10), 0, 10, true), 20);
  assert.deepEqual(readAll(buf), Array.from(segment(0, 40)));
});

Deno.test("RecvBuffer never lends out-of-order data or a segment behind unread bytes", () => {
  const buf = new RecvBuffer(100);
  buf.write(5, segment(5, 5), 0, 5, true);
  assert.equal(buf.lending, false);
  buf.write(0, segment(0, 5), 0, 5, true);
  assert.equal(buf.lending, false, "a hole filled: the ranges merged in the ring");
  assert.equal(buf.write(0, segment(10, 5), 0, 5, true), 5);
  assert.equal(buf.lending, false, "unread bytes ahead of it");
  assert.deepEqual(readAll(buf), Array.from(segment(0, 15)));
});

Deno.test("RecvBuffer starts again at the front of the ring once it is read empty", () => {
  const buf = new RecvBuffer(16, 4);
  buf.write(0, segment(0, 5), 0, 5);
  buf.consume(3);
  assert.equal(buf.ringOffset, 3, "partly read: the head stays where the data is");
  buf.consume(2);
  assert.equal(buf.ringOffset, 0);
  // Out-of-order bytes are placed relative to the head: it must not move while they are held.
  buf.write(0, segment(5, 4), 0, 4);
  buf.write(2, segment(11, 2), 0, 2); // offsets count from RCV.NXT, now 9
  buf.consume(4);
  assert.equal(buf.ringOffset, 4, "held out-of-order data pins the head");
  assert.equal(buf.write(0, segment(9, 2), 0, 2), 4);
  assert.deepEqual(readAll(buf), Array.from(segment(9, 4)));
  assert.equal(buf.ringOffset, 0);
  // A lent segment read to its end leaves the ring empty too.
  buf.write(0, segment(13, 3), 0, 3, true);
  buf.consume(3);
  assert.equal(buf.ringOffset, 0);
  assert.equal(buf.lending, false);
});
