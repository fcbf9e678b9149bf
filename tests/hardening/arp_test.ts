/**
 * ARP cache poisoning: no unsolicited reply, gratuitous announcement or forged request overwrites a
 * trusted entry or creates one; the cache and the queues of datagrams waiting for resolution stay
 * within their bounds under floods, and every refusal is counted.
 */

import assert from "node:assert/strict";
import type { ArpRepr } from "../../stack/wire/arp.ts";
import { arpFrame, PEER_IP, PEER_MAC, Rig, STACK_IP, STACK_MAC } from "./rig.ts";

const EVIL_MAC = 0x02000000eeee;
const BROADCAST = 0xffffffffffff;

function rig(maxEntries = 64) {
  const r = new Rig({ iface: { arp: { maxEntries, pendingPerEntry: 4, pendingBytes: 8192 } } });
  r.learnPeer();
  assert.equal(r.iface.arp.cache.lookup(PEER_IP, r.now), PEER_MAC);
  return r;
}

/** Injects an ARP packet whose target is our MAC and address unless `fields` say otherwise. */
function injectArp(r: Rig, fields: Partial<ArpRepr>, to?: number): void {
  r.inject(arpFrame({ targetMac: STACK_MAC, targetIp: STACK_IP, ...fields }, to));
}

/** Injects `count` requests for our address from senders cycling over 250 addresses. */
function floodRequests(r: Rig, count: number, each?: () => void): void {
  for (let i = 0; i < count; i++) {
    const ip = (0x0a000000 | (3 + (i % 250))) >>> 0;
    injectArp(r, { operation: 1, senderMac: 0x020000010000 + i, senderIp: ip, targetMac: 0 });
    each?.();
  }
}

Deno.test("ARP: an unsolicited reply with another MAC does not overwrite a trusted entry", () => {
  const r = rig();
  injectArp(r, { operation: 2, senderMac: EVIL_MAC, senderIp: PEER_IP });
  assert.equal(r.iface.arp.cache.lookup(PEER_IP, r.now), PEER_MAC);
  assert.equal(r.iface.arp.cache.stats.conflicts, 1);
});

Deno.test("ARP: a gratuitous announcement or a forged request does not overwrite it either", () => {
  const r = rig();
  injectArp(r, {
    operation: 1,
    senderMac: EVIL_MAC,
    senderIp: PEER_IP,
    targetMac: 0,
    targetIp: PEER_IP,
  }, BROADCAST);
  injectArp(r, {
    operation: 2,
    senderMac: EVIL_MAC,
    senderIp: PEER_IP,
    targetMac: 0,
    targetIp: PEER_IP,
  }, BROADCAST);
  injectArp(r, { operation: 1, senderMac: EVIL_MAC, senderIp: PEER_IP, targetMac: 0 });
  assert.equal(r.iface.arp.cache.lookup(PEER_IP, r.now), PEER_MAC);
  assert.ok(r.iface.arp.cache.stats.conflicts >= 2);
  // Our answer to the forged request goes to the MAC that asked, but the cache keeps the real one.
  const udp = r.iface.udp.send(9, PEER_IP, 9, new Uint8Array(4));
  assert.equal(udp, "sent");
  const last = r.take().at(-1)!;
  assert.equal(last.dstMac, PEER_MAC);
});

Deno.test("ARP: an unsolicited reply for an unknown address creates no entry", () => {
  const r = rig();
  const ghost = 0x0a000042;
  injectArp(r, { operation: 2, senderMac: EVIL_MAC, senderIp: ghost });
  assert.equal(r.iface.arp.cache.lookup(ghost, r.now), undefined);
  assert.equal(r.iface.arp.cache.stats.ignoredUnsolicited, 1);
});

Deno.test("ARP: nobody can claim our own address", () => {
  const r = rig();
  injectArp(r, { operation: 2, senderMac: EVIL_MAC, senderIp: STACK_IP, targetMac: 0 }, BROADCAST);
  assert.equal(r.iface.arp.cache.lookup(STACK_IP, r.now), undefined);
  assert.equal(r.iface.arp.stats.addressConflicts, 1);
});

Deno.test("ARP: the first answer to our request wins; a later different one is refused", () => {
  const r = rig();
  const other = 0x0a000003;
  assert.equal(r.iface.udp.send(9, other, 9, new Uint8Array(4)), "queued");
  injectArp(r, { operation: 2, senderMac: 0x020000000103, senderIp: other });
  injectArp(r, { operation: 2, senderMac: EVIL_MAC, senderIp: other });
  assert.equal(r.iface.arp.cache.lookup(other, r.now), 0x020000000103);
  const udp = r.take().filter((f) => f.protocol === 17);
  assert.equal(udp.length, 1);
  assert.equal(udp[0].dstMac, 0x020000000103);
});

Deno.test("ARP: a flood of requests from 10,000 senders keeps the cache within its bound", () => {
  const r = rig(64);
  floodRequests(r, 10_000, () => assert.ok(r.iface.arp.cache.size <= 64));
  const stats = r.iface.arp.cache.stats;
  // The flood recycles the slots it took (each new sender evicts the newest request-made entry).
  assert.ok(stats.evicted > 7000, JSON.stringify(stats));
  assert.equal(
    r.iface.arp.cache.lookup(PEER_IP, r.now),
    PEER_MAC,
    "the entry from before it stays",
  );
});

// A request addressed to us may create an entry for its sender (RFC 826 "merge", as Linux does), and
// when the cache is full a new entry evicts the complete entry that expires first. So an attacker who
// floods requests from other addresses pushes out a trusted entry (the gateway's, say) and then
// creates it afresh with its own MAC: poisoning through eviction. Fixed: an entry created from a
// request evicts only the newest request-created entry, never one we resolved ourselves.
Deno.test({
  name: "ARP: a flood cannot evict a trusted entry and then repoint it",
  fn() {
    const r = rig(64);
    floodRequests(r, 500);
    injectArp(r, { operation: 1, senderMac: EVIL_MAC, senderIp: PEER_IP, targetMac: 0 });
    assert.notEqual(r.iface.arp.cache.lookup(PEER_IP, r.now), EVIL_MAC);
  },
});

Deno.test("ARP: datagrams waiting for an unanswered neighbour are bounded and counted", () => {
  const r = rig();
  for (let i = 0; i < 1000; i++) {
    const dst = (0x0a000000 | (10 + (i % 20))) >>> 0; // 20 neighbours that never answer
    // A datagram the queue refuses is dropped like one lost on the wire (still "queued").
    assert.equal(r.iface.udp.send(9, dst, 9, new Uint8Array(512)), "queued");
    assert.ok(r.iface.arp.cache.pendingBytes <= 8192);
  }
  const stats = r.iface.arp.cache.stats;
  assert.ok(stats.dropPendingFull >= 980, JSON.stringify(stats));
  assert.equal(r.iface.ipv4.stats.dropArpFull, stats.dropPendingFull);
  // They give up after the retries and free everything.
  r.advance(60_000);
  assert.equal(r.iface.arp.cache.pendingBytes, 0);
  assert.ok(stats.dropUnresolved > 0);
});
