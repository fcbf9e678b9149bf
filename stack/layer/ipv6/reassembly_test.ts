import assert from "node:assert/strict";
import { Rng } from "../../util/rng.ts";
import { Ipv6Reassembler } from "./reassembly.ts";

const HEADER = { bytes: new Uint8Array(40).fill(0x60, 0, 1), offset: 0 };

function part(data: Uint8Array, from: number, to: number) {
  return { bytes: data, offset: from, length: to - from };
}

Deno.test("ipv6 reassembly: shuffled fragments rebuild the payload and header", () => {
  const rng = new Rng(3);
  const data = new Uint8Array(3000);
  rng.fill(data);
  for (let round = 0; round < 20; round++) {
    const r = new Ipv6Reassembler();
    const cuts = [0];
    while (cuts[cuts.length - 1] < data.length) {
      cuts.push(Math.min(data.length, cuts[cuts.length - 1] + 8 * (1 + rng.below(100))));
    }
    const order = cuts.slice(0, -1).map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    let done;
    for (const i of order) {
      const more = cuts[i + 1] < data.length;
      done = r.add("k", HEADER, 17, cuts[i], more, part(data, cuts[i], cuts[i + 1]), 0);
    }
    assert.ok(done !== undefined);
    assert.equal(done.length, 40 + data.length);
    assert.equal(done.nextHeader, 17);
    assert.equal((done.bytes[4] << 8) | done.bytes[5], data.length);
    assert.deepEqual(done.bytes.subarray(40, done.length), data);
    assert.equal(r.bytesHeld, 0);
  }
});

Deno.test("ipv6 reassembly: invalid fragments, memory bounds and timeouts", () => {
  const data = new Uint8Array(2000);
  const r = new Ipv6Reassembler({ maxBytes: 4000, maxPackets: 2, timeoutMs: 1000 });
  assert.equal(r.add("a", HEADER, 17, 0, true, part(data, 0, 12), 0), undefined); // not a multiple of 8
  assert.equal(r.stats.dropInvalid, 1);
  assert.equal(r.add("a", HEADER, 17, 65528, true, part(data, 0, 16), 0), undefined);
  assert.equal(r.stats.dropOversize, 1);
  r.add("b", HEADER, 17, 0, true, part(data, 0, 8), 0);
  r.add("c", HEADER, 17, 0, true, part(data, 0, 8), 0);
  assert.equal(r.add("d", HEADER, 17, 0, true, part(data, 0, 8), 0), undefined);
  assert.equal(r.stats.dropMemory, 1);
  // A last fragment that ends before data already received is inconsistent.
  r.add("b", HEADER, 17, 800, true, part(data, 0, 80), 0);
  r.add("b", HEADER, 17, 400, false, part(data, 0, 8), 0);
  assert.equal(r.stats.dropInvalid, 2);
  const expired: number[] = [];
  r.poll(1000, (h) => expired.push(h[0]));
  assert.deepEqual(expired, [0x60]); // only "c": "b" was abandoned, "a" never started
  assert.equal(r.inProgress, 0);
  assert.equal(r.bytesHeld, 0);
});
