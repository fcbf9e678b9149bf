import assert from "node:assert/strict";
import { Loopback, MEMORY_TSO_MAX_BYTES, MemoryPair } from "./memory.ts";
import type { Nic } from "./nic.ts";

/** Sends frames numbered `from..from+count` of `length` bytes (number in bytes 0..3, pattern after). */
function sendNumbered(nic: Nic, now: number, from: number, count: number, length = 64): number {
  let sent = 0;
  for (let n = from; n < from + count; n++) {
    const ok = nic.send(now, length, (b, o, l) => {
      b[o] = n >>> 24;
      b[o + 1] = (n >>> 16) & 0xff;
      b[o + 2] = (n >>> 8) & 0xff;
      b[o + 3] = n & 0xff;
      for (let i = 4; i < l; i++) b[o + i] = (n + i) & 0xff;
    });
    if (ok) sent++;
  }
  return sent;
}

function numberOf(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Receives everything deliverable at `now` and returns the frame numbers in order. */
function drain(nic: Nic, now: number): number[] {
  const seen: number[] = [];
  nic.receive(now, (b, o) => seen.push(numberOf(b, o)), 1 << 20);
  return seen;
}

Deno.test("MemoryPair carries frames both ways in order", () => {
  const { a, b } = new MemoryPair();
  assert.equal(sendNumbered(a, 0, 0, 10), 10);
  assert.equal(sendNumbered(b, 0, 100, 3), 3);
  assert.deepEqual(drain(b, 0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(drain(a, 0), [100, 101, 102]);
  assert.deepEqual(drain(b, 0), []);
  assert.equal(a.stats.txFrames, 10);
  assert.equal(a.stats.txBytes, 640);
  assert.equal(b.stats.rxFrames, 10);
  assert.equal(b.stats.rxBytes, 640);
  assert.equal(a.stats.rxFrames, 3);
  assert.equal(a.mtu, 1500);
  assert.equal(a.mac, 0x020000000001);
  assert.equal(b.mac, 0x020000000002);
  assert.equal(a.name, "memory:a");
});

Deno.test("MemoryPair delivers the exact bytes and lends one pool buffer", () => {
  const { a, b } = new MemoryPair({ mtu: 9000 });
  const buffers = new Set<Uint8Array>();
  sendNumbered(a, 0, 7, 1, 9014);
  sendNumbered(a, 0, 8, 1, 60);
  const lengths: number[] = [];
  b.receive(0, (bytes, offset, length) => {
    buffers.add(bytes);
    lengths.push(length);
    const n = numberOf(bytes, offset);
    for (let i = 4; i < length; i++) assert.equal(bytes[offset + i], (n + i) & 0xff);
  });
  assert.deepEqual(lengths, [9014, 60]);
  assert.equal(buffers.size, 1);
});

Deno.test("MemoryPair respects the receive budget", () => {
  const { a, b } = new MemoryPair();
  sendNumbered(a, 0, 0, 5);
  const seen: number[] = [];
  assert.equal(b.receive(0, (x, o) => seen.push(numberOf(x, o)), 2), 2);
  assert.equal(b.receive(0, (x, o) => seen.push(numberOf(x, o)), 2), 2);
  assert.equal(b.receive(0, (x, o) => seen.push(numberOf(x, o)), 2), 1);
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
});

Deno.test("MemoryPair reports busy without calling fill when the pool is full", () => {
  const { a, b } = new MemoryPair({ ringFrames: 4 });
  assert.equal(sendNumbered(a, 0, 0, 4), 4);
  let called = false;
  assert.equal(a.send(0, 60, () => called = true), false);
  assert.equal(called, false);
  assert.equal(a.stats.txBusy, 1);
  assert.deepEqual(drain(b, 0), [0, 1, 2, 3]);
  assert.equal(sendNumbered(a, 0, 4, 4), 4);
  assert.deepEqual(drain(b, 0), [4, 5, 6, 7]);
});

Deno.test("MemoryPair refuses a frame above the MTU", () => {
  const { a } = new MemoryPair({ mtu: 1500 });
  assert.throws(() => a.send(0, 1515, () => {}), /1515 bytes: the link carries at most 1514/);
  assert.equal(a.send(0, 1514, () => {}), true);
});

Deno.test("MemoryPair returns the slot to the pool even when the handler throws", () => {
  const { a, b } = new MemoryPair({ ringFrames: 1 });
  sendNumbered(a, 0, 0, 1);
  assert.throws(() =>
    b.receive(0, () => {
      throw new Error("handler failed");
    })
  );
  assert.equal(sendNumbered(a, 0, 1, 1), 1);
  assert.deepEqual(drain(b, 0), [1]);
});

Deno.test("loss drops about the configured share, reproducibly per seed", () => {
  const run = (seed: number) => {
    const { a, b } = new MemoryPair({ seed, impair: { loss: 0.1 } });
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) {
      sendNumbered(a, i, i * 100, 100);
      seen.push(...drain(b, i));
    }
    return { seen, stats: { ...b.stats } };
  };
  const first = run(42);
  const lost = 10000 - first.seen.length;
  // Binomial(10000, 0.1): mean 1000, sd 30; the bound is over 6 sd wide.
  assert.ok(lost > 800 && lost < 1200, `lost ${lost}`);
  assert.equal(first.stats.lossDropped, lost);
  assert.equal(first.stats.rxDropped, lost);
  for (let i = 1; i < first.seen.length; i++) assert.ok(first.seen[i] > first.seen[i - 1]);
  assert.deepEqual(run(42).seen, first.seen);
  assert.notDeepEqual(run(43).seen, first.seen);
});

Deno.test("duplicate delivers some frames twice, back to back", () => {
  const { a, b } = new MemoryPair({ seed: 5, impair: { duplicate: 0.2 } });
  const seen: number[] = [];
  for (let i = 0; i < 50; i++) {
    sendNumbered(a, 0, i * 100, 100);
    seen.push(...drain(b, 0));
  }
  const dups = seen.length - 5000;
  assert.ok(dups > 850 && dups < 1150, `duplicates ${dups}`);
  assert.equal(b.stats.duplicated, dups);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1]);
  assert.deepEqual([...new Set(seen)], Array.from({ length: 5000 }, (_, i) => i));
});

Deno.test("corrupt flips exactly one bit of the chosen frames", () => {
  const { a, b } = new MemoryPair({ seed: 9, impair: { corrupt: 0.3 } });
  const length = 100;
  let corrupted = 0;
  for (let n = 0; n < 2000; n++) {
    a.send(0, length, (x, o, l) => x.fill(0x55, o, o + l));
    b.receive(0, (x, o, l) => {
      let bits = 0;
      for (let i = 0; i < l; i++) {
        let d = x[o + i] ^ 0x55;
        while (d) {
          bits += d & 1;
          d >>>= 1;
        }
      }
      assert.ok(bits === 0 || bits === 1);
      corrupted += bits;
    });
  }
  assert.ok(corrupted > 500 && corrupted < 700, `corrupted ${corrupted}`);
  assert.equal(b.stats.corrupted, corrupted);
});

Deno.test("reorder holds a frame behind the next one and loses nothing", () => {
  const { a, b } = new MemoryPair({ seed: 3, impair: { reorder: 0.25 } });
  const seen: number[] = [];
  for (let i = 0; i < 40; i++) {
    sendNumbered(a, i, i * 50, 50);
    seen.push(...drain(b, i));
  }
  seen.push(...drain(b, 1000));
  assert.deepEqual([...seen].sort((x, y) => x - y), Array.from({ length: 2000 }, (_, i) => i));
  let swaps = 0;
  for (let i = 1; i < seen.length; i++) {
    if (seen[i] < seen[i - 1]) {
      swaps++;
      assert.equal(seen[i - 1] - seen[i], 1, "a held frame is passed by exactly one frame");
    }
  }
  assert.ok(swaps > 300 && swaps < 500, `swaps ${swaps}`);
  assert.equal(b.stats.reordered, swaps);
});

Deno.test("a held frame goes after the maximum hold when nothing follows it", () => {
  const { a, b } = new MemoryPair({ impair: { reorder: 1, reorderMaxHoldMs: 5, delayMs: 1 } });
  sendNumbered(a, 0, 0, 1);
  assert.deepEqual(drain(b, 2), []);
  assert.equal(b.pollAt(2), 6);
  assert.deepEqual(drain(b, 5.9), []);
  assert.deepEqual(drain(b, 6), [0]);
  assert.equal(b.pollAt(6), undefined);
});

Deno.test("delay holds frames until now reaches the arrival time", () => {
  const { a, b } = new MemoryPair({ impair: { delayMs: 20 } });
  assert.equal(b.pollAt(0), undefined);
  sendNumbered(a, 100, 0, 1);
  sendNumbered(a, 105, 1, 1);
  assert.equal(b.pollAt(100), 120);
  assert.deepEqual(drain(b, 119.9), []);
  assert.deepEqual(drain(b, 120), [0]);
  assert.equal(b.pollAt(120), 125);
  assert.deepEqual(drain(b, 200), [1]);
  assert.equal(b.pollAt(200), undefined);
});

Deno.test("jitter spreads arrivals within bounds and never reorders", () => {
  const { a, b } = new MemoryPair({ seed: 11, impair: { delayMs: 10, jitterMs: 5 } });
  const arrivals: number[] = [];
  for (let n = 0; n < 200; n++) {
    sendNumbered(a, n * 10, n, 1);
    const at = b.pollAt(n * 10)!;
    assert.ok(at >= n * 10 + 10 && at < n * 10 + 15, `arrival ${at}`);
    arrivals.push(at - n * 10);
    assert.deepEqual(drain(b, at), [n]);
  }
  assert.ok(new Set(arrivals).size > 150);
  const burst = new MemoryPair({ seed: 11, impair: { delayMs: 10, jitterMs: 5 } });
  sendNumbered(burst.a, 0, 0, 100);
  assert.deepEqual(drain(burst.b, 100), Array.from({ length: 100 }, (_, i) => i));
});

Deno.test("rate serialises frames one behind another", () => {
  // 1250-byte frames at 1 Mbit/s take 10 ms each.
  const { a, b } = new MemoryPair({ impair: { rateBitsPerSecond: 1e6, delayMs: 2 } });
  sendNumbered(a, 0, 0, 3, 1250);
  assert.equal(b.pollAt(0), 12);
  assert.deepEqual(drain(b, 12), [0]);
  assert.equal(b.pollAt(12), 22);
  assert.deepEqual(drain(b, 31.9), [1]);
  assert.deepEqual(drain(b, 32), [2]);
  // An idle link starts the next frame when it is sent.
  sendNumbered(a, 100, 3, 1, 1250);
  assert.equal(b.pollAt(100), 112);
});

Deno.test("a bounded queue drops at the tail and counts it", () => {
  const { a, b } = new MemoryPair({ impair: { queueFrames: 8, delayMs: 1 } });
  assert.equal(sendNumbered(a, 0, 0, 20), 20);
  assert.equal(b.stats.queueDropped, 12);
  assert.equal(b.stats.rxDropped, 12);
  assert.equal(a.stats.txFrames, 20);
  assert.deepEqual(drain(b, 1), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(sendNumbered(a, 2, 20, 8), 8);
  assert.deepEqual(drain(b, 3), [20, 21, 22, 23, 24, 25, 26, 27]);
});

Deno.test("per-direction impairments apply to one direction only", () => {
  const { a, b } = new MemoryPair({ impair: { aToB: { loss: 1 } } });
  sendNumbered(a, 0, 0, 10);
  sendNumbered(b, 0, 0, 10);
  assert.deepEqual(drain(b, 0), []);
  assert.equal(drain(a, 0).length, 10);
  assert.equal(b.stats.lossDropped, 10);
  assert.equal(a.stats.lossDropped, 0);
});

Deno.test("wait resolves when the peer sends", async () => {
  const { a, b } = new MemoryPair();
  let resolved = false;
  const waiting = b.wait(60_000).then(() => resolved = true);
  await Promise.resolve();
  assert.equal(resolved, false);
  sendNumbered(a, 0, 0, 1);
  await waiting;
  assert.equal(resolved, true);
});

Deno.test("wait resolves at once when a frame is already deliverable", async () => {
  const { a, b } = new MemoryPair();
  sendNumbered(a, 0, 0, 1);
  await b.wait(60_000);
  assert.deepEqual(drain(b, 0), [0]);
});

Deno.test("wait resolves after its timeout when nothing arrives", async () => {
  const { b } = new MemoryPair();
  await b.wait(1);
  assert.equal(b.stats.rxFrames, 0);
});

Deno.test("close stops a NIC and releases its waiters", async () => {
  const { a, b } = new MemoryPair();
  const waiting = b.wait(60_000);
  b.close();
  await waiting;
  assert.equal(sendNumbered(b, 0, 0, 1), 0);
  sendNumbered(a, 0, 0, 1);
  assert.deepEqual(drain(b, 0), []);
});

Deno.test("closing a NIC from inside its receive handler stops the delivery cleanly", () => {
  const { a, b } = new MemoryPair({ ringFrames: 4 });
  sendNumbered(a, 0, 0, 4);
  const seen: number[] = [];
  b.receive(0, (x, o) => {
    seen.push(numberOf(x, o));
    b.close();
  });
  assert.deepEqual(seen, [0]);
  assert.equal(b.receive(0, () => seen.push(-1)), 0);
  // The sender's pool is whole again: four frames fit.
  assert.equal(sendNumbered(a, 0, 10, 5), 4);
});

Deno.test("Loopback receives what it sends, replies on the next call", () => {
  const nic = new Loopback({ mac: 0x02aabbccddee, mtu: 576 });
  assert.equal(nic.mac, 0x02aabbccddee);
  assert.equal(nic.mtu, 576);
  sendNumbered(nic, 0, 1, 2);
  const seen: number[] = [];
  // Echoing every frame from inside the handler must not loop within one receive.
  const handled = nic.receive(0, (bytes, offset, length) => {
    const n = numberOf(bytes, offset);
    seen.push(n);
    nic.send(0, length, (x, o) => {
      x[o] = 0;
      x[o + 1] = 0;
      x[o + 2] = 0;
      x[o + 3] = n + 10;
    });
  });
  assert.equal(handled, 2);
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(drain(nic, 0), [11, 12]);
  assert.equal(nic.stats.txFrames, 4);
  assert.equal(nic.stats.rxFrames, 4);
});

Deno.test("checksum offload is off by default and claimed by both ends when asked", () => {
  const plain = new MemoryPair();
  assert.deepEqual(plain.a.caps, { rxChecksumVerified: false, txChecksumOffload: false });
  const fast = new MemoryPair({ checksumOffload: true, impair: { loss: 0.1, delayMs: 1 } });
  for (const nic of [fast.a, fast.b, new Loopback({ checksumOffload: true })]) {
    assert.deepEqual(nic.caps, { rxChecksumVerified: true, txChecksumOffload: true });
  }
});

Deno.test("checksum offload is refused on a corrupting link", () => {
  assert.throws(
    () => new MemoryPair({ checksumOffload: true, impair: { corrupt: 0.01 } }),
    RangeError,
  );
  assert.throws(
    () => new MemoryPair({ checksumOffload: true, impair: { bToA: { corrupt: 0.5 } } }),
    RangeError,
  );
  assert.equal(new MemoryPair({ impair: { corrupt: 0.01 } }).a.caps.rxChecksumVerified, false);
});

Deno.test("TSO is off by default; a TSO pair carries a 64 KiB frame whole, other pairs refuse it", () => {
  assert.equal(new MemoryPair().a.caps.tsoMaxBytes, undefined);
  const pair = new MemoryPair({ tso: true });
  assert.equal(pair.a.caps.tsoMaxBytes, MEMORY_TSO_MAX_BYTES);
  assert.equal(pair.b.caps.tsoMaxBytes, MEMORY_TSO_MAX_BYTES);
  const length = 14 + 0xffff;
  assert.ok(pair.a.send(0, length, (bytes, offset, n) => bytes.fill(7, offset, offset + n)));
  const got: number[] = [];
  pair.b.receive(0, (bytes, offset, n) => got.push(n, bytes[offset + n - 1]));
  assert.deepEqual(got, [length, 7]);
  assert.throws(() => new MemoryPair().a.send(0, length, () => {}), RangeError);
});
