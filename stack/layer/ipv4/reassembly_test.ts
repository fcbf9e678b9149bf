import assert from "node:assert/strict";
import { Rng } from "../../util/rng.ts";
import { Reassembler } from "./reassembly.ts";

const HEADER = { bytes: new Uint8Array(20).fill(0x45), offset: 0, length: 20 };

function payload(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  new Rng(seed).fill(bytes);
  return bytes;
}

function frag(bytes: Uint8Array, offset: number, length: number) {
  return { bytes, offset, length };
}

/** Splits `data` into fragments of `size` bytes: [offset, more, length]. */
function split(data: Uint8Array, size: number): [number, boolean, number][] {
  const out: [number, boolean, number][] = [];
  for (let at = 0; at < data.length; at += size) {
    const length = Math.min(size, data.length - at);
    out.push([at, at + length < data.length, length]);
  }
  return out;
}

Deno.test("reassembly: in-order and shuffled fragments rebuild the datagram", () => {
  const rng = new Rng(7);
  for (let round = 0; round < 20; round++) {
    const data = payload(1 + rng.below(9000), round);
    const parts = split(data, 8 * (1 + rng.below(200)));
    for (let i = parts.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [parts[i], parts[j]] = [parts[j], parts[i]];
    }
    const r = new Reassembler();
    let done;
    for (const [offset, more, length] of parts) {
      assert.equal(done, undefined);
      done = r.add("k", offset, more, HEADER, frag(data, offset, length), 0);
    }
    assert.ok(done !== undefined);
    assert.equal(done.payloadLength, data.length);
    assert.equal(done.headerOffset + done.headerLength, done.payloadOffset);
    assert.deepEqual(
      done.bytes.subarray(done.payloadOffset, done.payloadOffset + data.length),
      data,
    );
    assert.deepEqual(done.bytes.subarray(done.headerOffset, done.payloadOffset), HEADER.bytes);
    assert.equal(r.inProgress, 0);
    assert.equal(r.bytesHeld, 0);
  }
});

Deno.test("reassembly: duplicates and consistent overlaps are accepted", () => {
  const data = payload(100);
  const r = new Reassembler();
  assert.equal(r.add("k", 0, true, HEADER, frag(data, 0, 48), 0), undefined);
  assert.equal(r.add("k", 0, true, HEADER, frag(data, 0, 48), 0), undefined);
  assert.equal(r.add("k", 40, true, HEADER, frag(data, 40, 40), 0), undefined);
  const done = r.add("k", 72, false, HEADER, frag(data, 72, 28), 0);
  assert.ok(done);
  assert.deepEqual(done.bytes.subarray(done.payloadOffset, done.payloadOffset + 100), data);
});

Deno.test("reassembly: an overlap with different bytes drops the whole datagram", () => {
  const data = payload(64);
  const evil = data.slice();
  evil[20] ^= 0xff;
  const r = new Reassembler();
  r.add("k", 0, true, HEADER, frag(data, 0, 32), 0);
  assert.equal(r.add("k", 16, false, HEADER, frag(evil, 16, 48), 0), undefined);
  assert.equal(r.stats.dropOverlap, 1);
  assert.equal(r.inProgress, 0);
  // The honest remainder alone no longer completes anything.
  assert.equal(r.add("k", 32, false, HEADER, frag(data, 32, 32), 0), undefined);
});

Deno.test("reassembly: fragments missing a piece never complete and time out", () => {
  const data = payload(300);
  const r = new Reassembler({ timeoutMs: 1000 });
  r.add("k", 0, true, HEADER, frag(data, 0, 96), 0);
  r.add("k", 192, false, HEADER, frag(data, 192, 108), 10);
  assert.equal(r.pollAt(), 1000);
  assert.equal(r.poll(999), false);
  const expired: number[] = [];
  assert.equal(r.poll(1000, (d) => expired.push(d.payloadLength)), true);
  assert.deepEqual(expired, [8]);
  assert.equal(r.stats.dropTimeout, 1);
  assert.equal(r.inProgress, 0);
  assert.equal(r.bytesHeld, 0);
  assert.equal(r.pollAt(), undefined);
});

Deno.test("reassembly: memory bound evicts the oldest datagram and refuses oversize ones", () => {
  const data = payload(4096);
  const r = new Reassembler({ maxBytes: 3000 });
  r.add("a", 0, true, HEADER, frag(data, 0, 800), 0);
  r.add("b", 0, true, HEADER, frag(data, 0, 800), 1);
  assert.equal(r.inProgress, 2);
  r.add("c", 0, true, HEADER, frag(data, 0, 800), 2);
  assert.equal(r.stats.dropMemory, 1);
  assert.equal(r.inProgress, 2);
  assert.ok(r.bytesHeld <= 3000);
  // Growing "c" past the whole budget cannot succeed.
  assert.equal(r.add("c", 800, true, HEADER, frag(data, 800, 3200), 3), undefined);
  assert.ok(r.bytesHeld <= 3000);
  assert.ok(r.stats.dropMemory >= 2);
});

Deno.test("reassembly: bounded number of datagrams in progress", () => {
  const data = payload(64);
  const r = new Reassembler({ maxDatagrams: 3 });
  for (const key of ["a", "b", "c", "d"]) r.add(key, 0, true, HEADER, frag(data, 0, 8), 0);
  assert.equal(r.inProgress, 3);
  assert.equal(r.stats.dropMemory, 1);
});

Deno.test("reassembly: invalid fragments are dropped and counted", () => {
  const data = payload(70000);
  const r = new Reassembler();
  // Not a multiple of 8 while more fragments follow.
  assert.equal(r.add("k", 0, true, HEADER, frag(data, 0, 13), 0), undefined);
  assert.equal(r.stats.dropInvalid, 1);
  // Would rebuild a datagram over 65535 bytes.
  assert.equal(r.add("k", 65528, false, HEADER, frag(data, 0, 100), 0), undefined);
  assert.equal(r.stats.dropOversize, 1);
  // Data beyond a known end.
  r.add("j", 16, false, HEADER, frag(data, 16, 8), 0);
  assert.equal(r.add("j", 16, true, HEADER, frag(data, 16, 16), 0), undefined);
  assert.equal(r.stats.dropInvalid, 2);
  // A second, different last fragment.
  r.add("m", 16, false, HEADER, frag(data, 16, 8), 0);
  assert.equal(r.add("m", 32, false, HEADER, frag(data, 32, 8), 0), undefined);
  assert.equal(r.stats.dropInvalid, 3);
  // A last fragment that ends before data already received.
  r.add("n", 64, true, HEADER, frag(data, 64, 16), 0);
  assert.equal(r.add("n", 0, false, HEADER, frag(data, 0, 8), 0), undefined);
  assert.equal(r.stats.dropInvalid, 4);
  assert.equal(r.inProgress, 0);
});
