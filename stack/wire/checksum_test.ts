import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import {
  foldSum,
  internetChecksum,
  onesSum,
  pseudoHeaderSum,
  updateChecksum16,
  updateChecksum32,
} from "./checksum.ts";

/** The textbook RFC 1071 loop: big-endian 16-bit words, odd byte padded, carries folded at the end. */
function naiveChecksum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    const hi = bytes[offset + i];
    const lo = i + 1 < length ? bytes[offset + i + 1] : 0;
    sum += (hi << 8) | lo;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

Deno.test("internetChecksum matches the naive loop for every length 0..300 at every alignment", () => {
  const rng = new Rng(1071);
  const backing = new Uint8Array(320 + 8);
  for (let round = 0; round < 2; round++) {
    rng.fill(backing);
    for (let align = 0; align < 4; align++) {
      // Both the view's byteOffset and the offset inside the view move the alignment.
      const view = new Uint8Array(backing.buffer, align, backing.length - 4);
      for (let length = 0; length <= 300; length++) {
        for (const offset of [0, 1, 2, 3]) {
          assert.equal(
            internetChecksum(view, offset, length),
            naiveChecksum(view, offset, length),
            `align ${align} offset ${offset} length ${length}`,
          );
        }
      }
    }
  }
});

Deno.test("20-byte regions (the unrolled path) match RFC 1071, including the extreme sums", () => {
  const rng = new Rng(791);
  const bytes = new Uint8Array(64);
  for (let round = 0; round < 2000; round++) {
    rng.fill(bytes);
    const at = round % 44;
    assert.equal(internetChecksum(bytes, at, 20), naiveChecksum(bytes, at, 20), `round ${round}`);
    assert.equal(onesSum(bytes, at, 20, 0x1234), foldSum(0x1234 + onesSum(bytes, at, 20)));
  }
  assert.equal(onesSum(new Uint8Array(20), 0, 20), 0);
  assert.equal(onesSum(new Uint8Array(20).fill(0xff), 0, 20), 0xffff);
  // Words summing to exactly 0xffff fold to 0xffff (a valid header's checksum), never to 0.
  const edge = new Uint8Array(20);
  edge[0] = 0xff;
  edge[1] = 0xfe;
  edge[19] = 1;
  assert.equal(onesSum(edge, 0, 20), 0xffff);
  assert.equal(internetChecksum(edge, 0, 20), 0);
});

Deno.test("internetChecksum handles all-ones and all-zero data (the largest sums)", () => {
  for (const fill of [0x00, 0xff]) {
    for (const length of [0, 1, 2, 33, 64, 1499, 1500, 200_001]) {
      const bytes = new Uint8Array(length + 3).fill(fill);
      for (let offset = 0; offset < 3; offset++) {
        assert.equal(internetChecksum(bytes, offset, length), naiveChecksum(bytes, offset, length));
      }
    }
  }
});

Deno.test("internetChecksum over a large buffer matches the naive loop", () => {
  const rng = new Rng(7);
  const bytes = new Uint8Array(256 * 1024 + 3);
  rng.fill(bytes);
  for (const offset of [0, 1, 2, 3]) {
    const length = bytes.length - offset;
    assert.equal(internetChecksum(bytes, offset, length), naiveChecksum(bytes, offset, length));
  }
});

Deno.test("internetChecksum gives the RFC 1071 §3 example", () => {
  // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded), so the checksum is 220d.
  const bytes = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(onesSum(bytes, 0, 8), 0xddf2);
  assert.equal(internetChecksum(bytes, 0, 8), 0x220d);
});

Deno.test("a buffer including its own checksum sums to zero", () => {
  const rng = new Rng(3);
  for (let length = 2; length < 200; length += 2) {
    const bytes = new Uint8Array(length);
    rng.fill(bytes);
    bytes[0] = 0;
    bytes[1] = 0;
    const checksum = internetChecksum(bytes, 0, length);
    bytes[0] = checksum >>> 8;
    bytes[1] = checksum & 0xff;
    assert.equal(internetChecksum(bytes, 0, length), 0);
  }
});

Deno.test("onesSum partial sums of even-length pieces add up to the whole", () => {
  const rng = new Rng(11);
  const bytes = new Uint8Array(700);
  rng.fill(bytes);
  for (let cut = 0; cut <= 700; cut += 2) {
    const first = onesSum(bytes, 0, cut);
    const whole = onesSum(bytes, cut, 700 - cut, first);
    assert.equal(~whole & 0xffff, naiveChecksum(bytes, 0, 700), `cut ${cut}`);
  }
});

Deno.test("onesSum accepts a large unfolded initial value", () => {
  const bytes = new Uint8Array([0x12, 0x34]);
  assert.equal(onesSum(bytes, 0, 2, 0x1_0000_0000), foldSum(0x1_0000_0000 + 0x1234));
  assert.equal(foldSum(0x1_0000_0000), 1);
  assert.equal(foldSum(0xffff), 0xffff);
  assert.equal(foldSum(0x1fffe), 0xffff);
  assert.equal(foldSum(0x10000), 1);
  assert.equal(foldSum(0), 0);
});

Deno.test("pseudoHeaderSum equals the sum over the pseudo-header bytes", () => {
  const rng = new Rng(17);
  for (let i = 0; i < 500; i++) {
    const src = rng.nextU32();
    const dst = rng.nextU32();
    const protocol = rng.below(256);
    const length = rng.below(65536);
    // deno-fmt-ignore
    const bytes = new Uint8Array([
      src >>> 24, (src >>> 16) & 0xff, (src >>> 8) & 0xff, src & 0xff,
      dst >>> 24, (dst >>> 16) & 0xff, (dst >>> 8) & 0xff, dst & 0xff,
      0, protocol, length >>> 8, length & 0xff,
    ]);
    assert.equal(
      ~pseudoHeaderSum(src, dst, protocol, length) & 0xffff,
      naiveChecksum(bytes, 0, 12),
    );
  }
});

Deno.test("updateChecksum16 and updateChecksum32 agree with a full recomputation", () => {
  const rng = new Rng(1624);
  const bytes = new Uint8Array(40);
  for (let i = 0; i < 2000; i++) {
    rng.fill(bytes);
    const at = rng.below(18) * 2;
    const before = naiveChecksum(bytes, 0, 40);
    const oldWord = (bytes[at] << 8) | bytes[at + 1];
    const oldValue = ((oldWord << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
    const newValue = i % 7 === 0 ? 0 : rng.nextU32();
    bytes[at] = newValue >>> 24;
    bytes[at + 1] = newValue >>> 16;
    bytes[at + 2] = newValue >>> 8;
    bytes[at + 3] = newValue;
    const newWord = newValue >>> 16;
    const after = naiveChecksum(bytes, 0, 40);
    // RFC 1624 §3: the incremental result may differ from a recomputation only in 0x0000 vs 0xffff,
    // which never happens for data that is not all zero.
    assert.equal(updateChecksum32(before, oldValue, newValue), after);
    // Restore the low word so that only the high word changed, then test the 16-bit update.
    bytes[at + 2] = oldValue >>> 8;
    bytes[at + 3] = oldValue;
    assert.equal(updateChecksum16(before, oldWord, newWord), naiveChecksum(bytes, 0, 40));
  }
});

Deno.test("the word-view cache follows buffers that alternate and buffers that grow", () => {
  const rng = new Rng(99);
  const a = new Uint8Array(1500);
  const b = new Uint8Array(1600);
  rng.fill(a);
  rng.fill(b);
  for (let i = 0; i < 4; i++) {
    assert.equal(internetChecksum(a, 2, 1400), naiveChecksum(a, 2, 1400));
    assert.equal(internetChecksum(b, 1, 1500), naiveChecksum(b, 1, 1500));
  }
  const growable = new ArrayBuffer(64, { maxByteLength: 4096 });
  const small = new Uint8Array(growable);
  rng.fill(small);
  assert.equal(internetChecksum(small, 0, 64), naiveChecksum(small, 0, 64));
  growable.resize(4096);
  const big = new Uint8Array(growable);
  rng.fill(big);
  assert.equal(internetChecksum(big, 3, 4000), naiveChecksum(big, 3, 4000));
});

Deno.test("checksums over a SharedArrayBuffer match", () => {
  const bytes = new Uint8Array(new SharedArrayBuffer(2048));
  new Rng(5).fill(bytes);
  for (const offset of [0, 1, 2, 3]) {
    assert.equal(internetChecksum(bytes, offset, 1500), naiveChecksum(bytes, offset, 1500));
  }
});

Deno.test("a region reaching past the view counts the missing bytes as zero", () => {
  const backing = new Uint8Array(256).fill(0xab);
  const view = backing.subarray(0, 100);
  const padded = new Uint8Array(200);
  padded.set(view);
  assert.equal(internetChecksum(view, 0, 200), naiveChecksum(padded, 0, 200));
});
