import assert from "node:assert/strict";
import { ArpCache } from "./cache.ts";

const IP_A = 0x0a000001;
const IP_B = 0x0a000002;
const IP_C = 0x0a000003;
const MAC_A = 0x020000000001;
const MAC_X = 0x02000000000f;

function item(size = 100) {
  return { size };
}

Deno.test("arp cache: enqueue asks for a request once, then queues; reply flushes the queue", () => {
  const cache = new ArpCache<{ size: number }>();
  const a = item(), b = item();
  assert.equal(cache.enqueue(IP_A, a, 0), "request");
  assert.equal(cache.enqueue(IP_A, b, 1), "queued");
  assert.equal(cache.isResolving(IP_A), true);
  assert.equal(cache.lookup(IP_A, 1), undefined);
  assert.equal(cache.pendingBytes, 200);
  const flushed = cache.learn(IP_A, MAC_A, 2, false);
  assert.deepEqual(flushed, [a, b]);
  assert.equal(flushed![0], a);
  assert.equal(cache.lookup(IP_A, 3), MAC_A);
  assert.equal(cache.pendingBytes, 0);
});

Deno.test("arp cache: entries expire after their lifetime and a grace period", () => {
  const cache = new ArpCache({ entryTtlMs: 1000, staleMs: 500 });
  cache.learn(IP_A, MAC_A, 0, true);
  assert.equal(cache.lookup(IP_A, 999), MAC_A);
  assert.equal(cache.lookup(IP_A, 1000), undefined); // stale: not fresh
  assert.equal(cache.size, 1);
  assert.equal(cache.lookup(IP_A, 1500), undefined);
  assert.equal(cache.stats.expired, 1);
  assert.equal(cache.size, 0);
});

Deno.test("arp cache: a stale entry in use is probed, unicast first, and refreshed by an answer", () => {
  const cache = new ArpCache({ entryTtlMs: 1000, staleMs: 3000, retryMs: 400 });
  cache.learn(IP_A, MAC_A, 0, true);
  assert.equal(cache.lookupForSend(IP_A, 500), MAC_A);
  assert.equal(cache.probeDue, false);
  assert.equal(cache.lookupForSend(IP_A, 1000), MAC_A);
  assert.deepEqual([cache.probeDue, cache.probeBroadcast], [true, false]);
  cache.probeDue = false;
  assert.equal(cache.lookupForSend(IP_A, 1200), MAC_A);
  assert.equal(cache.probeDue, false); // the next probe waits for the retry interval
  assert.equal(cache.lookupForSend(IP_A, 1400), MAC_A);
  assert.deepEqual([cache.probeDue, cache.probeBroadcast], [true, true]);
  cache.probeDue = false;
  // While probing, a reply may carry a new MAC: the peer changed its card.
  cache.learn(IP_A, MAC_X, 1500, false);
  assert.equal(cache.lookup(IP_A, 1500), MAC_X);
  assert.equal(cache.lookupForSend(IP_A, 2400), MAC_X);
  assert.equal(cache.probeDue, false);
  assert.equal(cache.stats.probes, 2);
  // Unanswered, the entry ends with the grace period.
  assert.equal(cache.lookupForSend(IP_A, 2500 + 3000), undefined);
  assert.equal(cache.size, 0);
});

Deno.test("arp cache: a stale entry not being probed ignores unsolicited replies with another MAC", () => {
  const cache = new ArpCache({ entryTtlMs: 1000, staleMs: 3000 });
  cache.learn(IP_A, MAC_A, 0, true);
  cache.learn(IP_A, MAC_X, 1100, false);
  assert.equal(cache.stats.conflicts, 1);
  // A request to us may replace it, as it could have created the entry anew.
  cache.learn(IP_A, MAC_X, 1200, true);
  assert.equal(cache.lookup(IP_A, 1200), MAC_X);
});

Deno.test("arp cache: unsolicited replies neither create nor overwrite entries", () => {
  const cache = new ArpCache({ entryTtlMs: 1000 });
  assert.equal(cache.learn(IP_A, MAC_X, 0, false), undefined);
  assert.equal(cache.lookup(IP_A, 0), undefined);
  assert.equal(cache.stats.ignoredUnsolicited, 1);
  cache.learn(IP_A, MAC_A, 0, true);
  cache.learn(IP_A, MAC_X, 10, false);
  cache.learn(IP_A, MAC_X, 20, true);
  assert.equal(cache.lookup(IP_A, 30), MAC_A);
  assert.equal(cache.stats.conflicts, 2);
  // Same MAC refreshes the lifetime.
  cache.learn(IP_A, MAC_A, 900, false);
  assert.equal(cache.lookup(IP_A, 1500), MAC_A);
});

Deno.test("arp cache: retries back off exponentially, then give up and drop the queue", () => {
  const cache = new ArpCache<{ size: number }>({ retryMs: 100, maxRetries: 2 });
  const asked: number[] = [];
  const dropped: unknown[] = [];
  assert.equal(cache.enqueue(IP_A, item(), 0), "request");
  assert.equal(cache.pollAt(), 100);
  assert.equal(cache.poll(99, (ip) => asked.push(ip)), false);
  assert.equal(cache.poll(100, (ip) => asked.push(ip)), true);
  assert.equal(cache.pollAt(), 300);
  cache.poll(300, (ip) => asked.push(ip));
  assert.equal(cache.pollAt(), 700);
  assert.deepEqual(asked, [IP_A, IP_A]);
  cache.poll(700, (ip) => asked.push(ip), (ip, items) => dropped.push(ip, ...items));
  assert.equal(asked.length, 2);
  assert.equal(dropped.length, 2);
  assert.equal(dropped[0], IP_A);
  assert.equal(cache.stats.dropUnresolved, 1);
  assert.equal(cache.stats.retries, 2);
  assert.equal(cache.size, 0);
  assert.equal(cache.pollAt(), undefined);
  assert.equal(cache.pendingBytes, 0);
});

Deno.test("arp cache: per-entry queue and byte budget are bounded and counted", () => {
  const cache = new ArpCache({ pendingPerEntry: 2, pendingBytes: 250 });
  assert.equal(cache.enqueue(IP_A, item(), 0), "request");
  assert.equal(cache.enqueue(IP_A, item(), 0), "queued");
  assert.equal(cache.enqueue(IP_A, item(), 0), "full");
  assert.equal(cache.enqueue(IP_B, item(100), 0), "request-full"); // the request still goes out
  assert.equal(cache.stats.dropPendingFull, 2);
  assert.equal(cache.pendingBytes, 200);
});

Deno.test("arp cache: our own resolution evicts the complete entry expiring first", () => {
  const cache = new ArpCache<{ size: number }>({ maxEntries: 2, entryTtlMs: 1000 });
  cache.learn(IP_A, MAC_A, 0, true);
  cache.learn(IP_B, MAC_A, 10, true);
  assert.equal(cache.enqueue(IP_C, item(), 20), "request");
  assert.equal(cache.size, 2);
  assert.equal(cache.stats.evicted, 1);
  assert.equal(cache.lookup(IP_A, 30), undefined);
  assert.equal(cache.lookup(IP_B, 30), MAC_A);
});

Deno.test("arp cache: an entry made from a request evicts only the newest such entry", () => {
  const cache = new ArpCache<{ size: number }>({ maxEntries: 2, entryTtlMs: 1000 });
  cache.enqueue(IP_A, item(), 0);
  cache.learn(IP_A, MAC_A, 0, false); // the answer to our request: trusted
  cache.learn(IP_B, MAC_A, 10, true);
  cache.learn(IP_C, MAC_A, 20, true); // evicts IP_B, not IP_A though A expires first
  assert.equal(cache.lookup(IP_A, 30), MAC_A);
  assert.equal(cache.lookup(IP_B, 30), undefined);
  assert.equal(cache.lookup(IP_C, 30), MAC_A);
  // With only our own entries left, a request cannot make room.
  const own = new ArpCache<{ size: number }>({ maxEntries: 1 });
  own.enqueue(IP_A, item(), 0);
  own.learn(IP_A, MAC_A, 0, false);
  assert.equal(own.learn(IP_B, MAC_A, 1, true), undefined);
  assert.equal(own.stats.dropCacheFull, 1);
  assert.equal(own.lookup(IP_A, 2), MAC_A);
});

Deno.test("arp cache: a cache full of unresolved entries refuses new ones", () => {
  const cache = new ArpCache({ maxEntries: 2 });
  cache.enqueue(IP_A, item(), 0);
  cache.enqueue(IP_B, item(), 0);
  assert.equal(cache.enqueue(IP_C, item(), 0), "full");
  assert.equal(cache.stats.dropCacheFull, 1);
  assert.equal(cache.learn(IP_C, MAC_A, 0, true), undefined);
  assert.equal(cache.stats.dropCacheFull, 2);
});
