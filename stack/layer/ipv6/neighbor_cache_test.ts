import assert from "node:assert/strict";
import { Ipv6Address } from "../../wire/ipv6_address.ts";
import { NeighborCache } from "./neighbor_cache.ts";

const A = Ipv6Address.parse("fe80::a");
const B = Ipv6Address.parse("fe80::b");
const MAC = 0x0200000000aa;

function solicits(cache: NeighborCache, now: number): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  cache.poll(now, (_t, mac) => out.push(mac));
  return out;
}

Deno.test("neighbor cache: INCOMPLETE queues, releases on a solicited advert, then REACHABLE → STALE", () => {
  const cache = new NeighborCache({ reachableMs: 30_000 });
  const released: number[] = [];
  cache.onResolved = (n, packets) => released.push(n.mac, packets.length);
  assert.equal(cache.enqueue(A, new Uint8Array(1), 0), "request");
  assert.equal(cache.enqueue(A, new Uint8Array(2), 10), "queued");
  assert.equal(cache.lookup(A, 10), undefined);
  assert.deepEqual(solicits(cache, 1000), [undefined]); // second multicast solicitation
  cache.advert(A, MAC, { solicited: true, override: true, router: false }, 1100);
  assert.deepEqual(released, [MAC, 2]);
  assert.equal(cache.get(A)?.state, "reachable");
  solicits(cache, 31_100);
  assert.equal(cache.get(A)?.state, "stale");
});

Deno.test("neighbor cache: STALE → DELAY on use → PROBE with unicast solicitations → gone", () => {
  const cache = new NeighborCache();
  cache.learn(A, MAC, 0);
  assert.equal(cache.get(A)?.state, "stale");
  assert.equal(cache.lookup(A, 100), MAC);
  assert.equal(cache.get(A)?.state, "delay");
  assert.deepEqual(solicits(cache, 5100), [MAC]);
  assert.equal(cache.get(A)?.state, "probe");
  assert.deepEqual(solicits(cache, 6100), [MAC]);
  assert.deepEqual(solicits(cache, 7100), [MAC]);
  assert.deepEqual(solicits(cache, 8100), []);
  assert.equal(cache.get(A), undefined);
  assert.equal(cache.stats.unreachable, 1);
});

Deno.test("neighbor cache: a probe answered by a solicited advert returns to REACHABLE", () => {
  const cache = new NeighborCache();
  cache.learn(A, MAC, 0);
  cache.lookup(A, 0);
  solicits(cache, 5000);
  cache.advert(A, undefined, { solicited: true, override: false, router: false }, 5100);
  assert.equal(cache.get(A)?.state, "reachable");
});

Deno.test("neighbor cache: an advert with a different MAC and no override only makes REACHABLE stale", () => {
  const cache = new NeighborCache();
  cache.enqueue(A, new Uint8Array(1), 0);
  cache.advert(A, MAC, { solicited: true, override: false, router: false }, 10);
  cache.advert(A, MAC + 1, { solicited: false, override: false, router: false }, 20);
  assert.equal(cache.get(A)?.mac, MAC);
  assert.equal(cache.get(A)?.state, "stale");
  cache.advert(A, MAC + 1, { solicited: false, override: true, router: false }, 30);
  assert.equal(cache.get(A)?.mac, MAC + 1);
  // Unsolicited advertisements create no entry (RFC 4861 §7.2.5).
  assert.equal(
    cache.advert(B, MAC, { solicited: false, override: true, router: false }, 40),
    false,
  );
  assert.equal(cache.get(B), undefined);
});

Deno.test("neighbor cache: bounded entries and queues", () => {
  const cache = new NeighborCache({ maxEntries: 2, pendingPerEntry: 2 });
  assert.equal(cache.enqueue(A, new Uint8Array(1), 0), "request");
  cache.enqueue(A, new Uint8Array(2), 0);
  cache.enqueue(A, new Uint8Array(3), 0);
  assert.equal(cache.stats.dropPendingFull, 1);
  assert.deepEqual(cache.get(A)?.pending.map((p) => p.length), [2, 3]); // the oldest went
  assert.equal(cache.enqueue(B, new Uint8Array(1), 0), "request");
  // Both entries are resolving: a third address is refused.
  assert.equal(cache.enqueue(Ipv6Address.parse("fe80::c"), new Uint8Array(1), 0), "full");
  cache.advert(B, MAC, { solicited: true, override: true, router: false }, 1);
  cache.advert(B, MAC, { solicited: false, override: true, router: false }, 2);
  solicits(cache, 40_000); // B goes stale
  cache.learn(Ipv6Address.parse("fe80::c"), MAC, 40_000);
  assert.equal(cache.stats.evicted, 1);
  assert.equal(cache.get(B), undefined);
  assert.equal(cache.size, 2);
});
