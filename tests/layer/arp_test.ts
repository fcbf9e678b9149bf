import assert from "node:assert/strict";
import { MAC_BROADCAST, parseIpv4 } from "../../stack/wire/address.ts";
import { ArpOperation } from "../../stack/wire/arp.ts";
import { arpPacket, EtherType, ethFrame, inject } from "./frames.ts";
import { IP_A, IP_B, TwoStacks } from "./two_stacks.ts";
import type { Nic } from "../../stack/nic/nic.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;
const MAC_EVIL = 0x0200000000ee;

/** Injects an ARP packet sent by the attacker's MAC to `dst` into `nic`'s end of the link. */
function injectFromEvil(net: TwoStacks, nic: Nic, dst: number, arp: Uint8Array): void {
  inject(nic, net.now, ethFrame({ dst, src: MAC_EVIL, etherType: EtherType.Arp }, arp));
}

Deno.test("arp: gratuitous announcements at start, twice, two seconds apart", () => {
  const net = new TwoStacks();
  net.run(10_000);
  const sa = net.a.stats();
  assert.equal(sa.arp.txAnnouncements, 2);
  assert.equal(net.b.stats().arp.rxRequests, 2);
  // An announcement neither creates an entry nor earns a reply.
  assert.equal(net.b.arp.lookup(IP_A, net.now), undefined);
  assert.equal(net.b.stats().arp.txReplies, 0);
  net.close();
});

Deno.test("arp: a request to us creates the asker's entry, and idle entries expire", () => {
  const options = { arp: { entryTtlMs: 5000, staleMs: 1000 } };
  const net = new TwoStacks({ a: options, b: options });
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(10);
  assert.equal(net.a.arp.lookup(IP_B, net.now), MAC_B);
  assert.equal(net.b.arp.lookup(IP_A, net.now), MAC_A); // learned from the request (RFC 826 merge)
  // b's second announcement at 2 s refreshed the entry until 7 s.
  net.run(6000);
  assert.equal(net.a.arp.lookup(IP_B, net.now), MAC_B);
  net.run(2000);
  assert.equal(net.a.arp.lookup(IP_B, net.now), undefined);
  assert.equal(net.a.stats().arpCache.expired, 1);
  // The next datagram resolves again, by broadcast.
  assert.equal(net.a.icmp.ping(IP_B, { ident: 1, seq: 2, now: net.now }), "queued");
  net.run(10);
  assert.equal(net.a.stats().arp.txRequests, 2);
  net.close();
});

Deno.test("arp: steady traffic never stalls on expiry: a unicast probe revalidates the entry", () => {
  const options = { arp: { entryTtlMs: 5000 } };
  const net = new TwoStacks({ a: options, b: options });
  let replies = 0;
  net.a.icmp.onEchoReply = () => replies++;
  const results = new Set<string>();
  for (let seq = 0; seq < 300; seq++) {
    results.add(net.a.icmp.ping(IP_B, { ident: 1, seq, now: net.now }));
    net.run(100);
  }
  assert.equal(replies, 300);
  const sa = net.a.stats();
  assert.equal(sa.ipv4.txQueued, 1); // only the very first ping waited for ARP
  assert.ok(sa.arpCache.probes >= 4, `probes ${sa.arpCache.probes}`);
  assert.equal(sa.arp.txRequests, 1 + sa.arpCache.probes);
  assert.equal(net.b.stats().eth.dropNotForUs, 0);
  net.close();
});

Deno.test("arp: requests to a silent address back off, give up and drop the queue", () => {
  const net = new TwoStacks({ a: { arp: { retryMs: 1000, maxRetries: 3 } } });
  const silent = parseIpv4("10.0.0.99");
  net.run(1);
  for (let seq = 0; seq < 12; seq++) net.a.icmp.ping(silent, { ident: 1, seq, now: net.now });
  const requestsAt: number[] = [];
  let last = 0;
  for (let t = 0; t < 20_000; t += 50) {
    net.run(50);
    const sent = net.a.stats().arp.txRequests;
    if (sent > last) requestsAt.push(net.now);
    last = sent;
  }
  // First at once, then after 1, 2 and 4 more seconds; gives up 8 seconds after the last.
  assert.deepEqual(requestsAt.map((t) => Math.round(t / 1000)), [0, 1, 3, 7]);
  const sa = net.a.stats();
  assert.equal(sa.arpCache.dropPendingFull, 4); // 8 queued, 4 over the bound
  assert.equal(sa.arpCache.dropUnresolved, 8);
  assert.equal(sa.ipv4.dropUnresolved, 8);
  assert.equal(net.a.pollAt(net.now), undefined);
  net.close();
});

Deno.test("arp: unsolicited and forged replies do not poison the cache", () => {
  const net = new TwoStacks();
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(10);
  assert.equal(net.a.arp.lookup(IP_B, net.now), MAC_B);
  // An attacker on b's side claims b's address, by reply and by gratuitous request.
  const forged = arpPacket({
    operation: ArpOperation.Reply,
    senderMac: MAC_EVIL,
    senderIp: IP_B,
    targetMac: MAC_A,
    targetIp: IP_A,
  });
  injectFromEvil(net, net.pair.b, MAC_A, forged);
  const gratuitous = arpPacket({
    operation: ArpOperation.Request,
    senderMac: MAC_EVIL,
    senderIp: IP_B,
    targetIp: IP_B,
  });
  injectFromEvil(net, net.pair.b, MAC_BROADCAST, gratuitous);
  // And an unsolicited reply for an address nobody asked about.
  const stray = arpPacket({
    operation: ArpOperation.Reply,
    senderMac: MAC_EVIL,
    senderIp: parseIpv4("10.0.0.77"),
    targetMac: MAC_A,
    targetIp: IP_A,
  });
  injectFromEvil(net, net.pair.b, MAC_A, stray);
  net.run(10);
  assert.equal(net.a.arp.lookup(IP_B, net.now), MAC_B);
  assert.equal(net.a.arp.lookup(parseIpv4("10.0.0.77"), net.now), undefined);
  const cache = net.a.stats().arpCache;
  assert.equal(cache.conflicts, 2);
  assert.equal(cache.ignoredUnsolicited, 1);
  net.close();
});

Deno.test("arp: only own addresses are answered; a claim on ours is counted", () => {
  const net = new TwoStacks();
  net.run(1);
  const ask = (targetIp: number, senderIp: number) =>
    injectFromEvil(
      net,
      net.pair.a,
      MAC_BROADCAST,
      arpPacket({ operation: ArpOperation.Request, senderMac: MAC_EVIL, senderIp, targetIp }),
    );
  ask(parseIpv4("10.0.0.50"), parseIpv4("10.0.0.60"));
  ask(IP_B, IP_B); // someone announcing b's own address
  ask(IP_B, parseIpv4("10.0.0.60"));
  net.run(1);
  const sb = net.b.stats().arp;
  assert.equal(sb.ignoredNotForUs, 2); // 10.0.0.50, and a's own announcement
  assert.equal(sb.addressConflicts, 1);
  assert.equal(sb.txDefenses, 1);
  assert.equal(sb.txReplies, 1);
  net.close();
});

Deno.test("arp: malformed ARP packets are dropped and counted", () => {
  const net = new TwoStacks();
  net.run(1);
  const good = arpPacket({ operation: ArpOperation.Request, senderMac: MAC_EVIL, targetIp: IP_B });
  const send = (payload: Uint8Array) => injectFromEvil(net, net.pair.a, MAC_BROADCAST, payload);
  const badHardware = good.slice();
  badHardware[1] = 6; // IEEE 802 instead of Ethernet
  send(badHardware);
  const badOp = good.slice();
  badOp[7] = 9;
  send(badOp);
  const multicastSender = arpPacket({
    operation: ArpOperation.Request,
    senderMac: 0x0100_5e00_0001,
    targetIp: IP_B,
  });
  send(multicastSender);
  net.run(1);
  const sb = net.b.stats().arp;
  assert.equal(sb.dropUnsupported, 2);
  assert.equal(sb.dropBadSender, 1);
  assert.equal(sb.txReplies, 0);
  net.close();
});

Deno.test("arp: a claim on our address is defended at most once per 10 seconds", () => {
  const net = new TwoStacks();
  net.run(3000); // past the start-up announcements
  const claim = () =>
    injectFromEvil(
      net,
      net.pair.a,
      MAC_BROADCAST,
      arpPacket({
        operation: ArpOperation.Request,
        senderMac: MAC_EVIL,
        senderIp: IP_B,
        targetIp: IP_B,
      }),
    );
  const announcements = () => net.b.stats().arp.txAnnouncements;
  const before = announcements();
  claim();
  net.run(10);
  claim();
  net.run(5000);
  claim();
  net.run(10);
  assert.equal(net.b.stats().arp.addressConflicts, 3);
  assert.equal(net.b.stats().arp.txDefenses, 1);
  assert.equal(announcements(), before + 1);
  net.run(5000);
  claim();
  net.run(10);
  assert.equal(net.b.stats().arp.txDefenses, 2);
  net.close();
});
