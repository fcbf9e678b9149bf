import assert from "node:assert/strict";
import { IP_A, IP_B, TwoStacks } from "./two_stacks.ts";

Deno.test("two stacks: ARP resolves and ping gets a reply with its round trip", () => {
  const net = new TwoStacks({ impair: { delayMs: 5 } });
  const replies: { src: number; seq: number; rtt: number | undefined; length: number }[] = [];
  net.a.icmp.onEchoReply = (r, now) =>
    replies.push({
      src: r.src,
      seq: r.seq,
      rtt: r.sentAt === undefined ? undefined : now - r.sentAt,
      length: r.length,
    });
  net.run(100); // gratuitous ARP settles
  assert.equal(net.a.icmp.ping(IP_B, { ident: 7, seq: 1, now: net.now }), "queued");
  net.run(100);
  assert.equal(net.a.icmp.ping(IP_B, { ident: 7, seq: 2, now: net.now }), "sent");
  net.run(100);
  assert.equal(replies.length, 2);
  assert.deepEqual(replies.map((r) => [r.src, r.seq, r.length]), [[IP_B, 1, 56], [IP_B, 2, 56]]);
  // The first waited for ARP (two one-way trips) before its own round trip; the second did not.
  assert.equal(replies[0].rtt, 20);
  assert.equal(replies[1].rtt, 10);
  const sa = net.a.stats(), sb = net.b.stats();
  assert.equal(sa.arp.txRequests, 1);
  assert.equal(sb.arp.txReplies, 1);
  assert.equal(sb.icmp.txEchoReplies, 2);
  assert.equal(sa.icmp.rxEchoReplies, 2);
  assert.equal(sa.ipv4.txQueued, 1);
  net.close();
});

Deno.test("two stacks: UDP echo on port 7 and port unreachable for a closed port", () => {
  const net = new TwoStacks();
  net.b.udp.bind(7, (d) => {
    net.b.udp.send(d.dstPort, d.src, d.srcPort, d.bytes.subarray(d.offset, d.offset + d.length));
  });
  const got: string[] = [];
  const binding = net.a.udp.bind(0, (d) => {
    got.push(new TextDecoder().decode(d.bytes.subarray(d.offset, d.offset + d.length)));
  });
  assert.ok(binding.port >= 49152);
  const unreachable: number[] = [];
  net.a.icmp.onErrorFor(17, (error, quoted) => unreachable.push(error.code, quoted.dst));
  net.run(10);
  net.a.udp.send(binding.port, IP_B, 7, new TextEncoder().encode("hello"));
  net.run(10);
  net.a.udp.send(binding.port, IP_B, 9, new TextEncoder().encode("nobody"));
  net.run(10);
  assert.deepEqual(got, ["hello"]);
  assert.deepEqual(unreachable, [3, IP_B]);
  const sb = net.b.stats();
  assert.equal(sb.udp.rxDelivered, 1);
  assert.equal(sb.udp.dropNoPort, 1);
  assert.equal(sb.icmp.txErrors, 1);
  assert.throws(() => net.b.udp.bind(7, () => {}), /Cannot bind UDP port 7: it is in use/);
  binding.close();
  assert.equal(net.a.udp.isBound(binding.port), false);
  net.close();
});

Deno.test("two stacks: port unreachable is rate-limited by the token bucket", () => {
  const net = new TwoStacks({ b: { icmp: { errorRatePerSecond: 10, errorBurst: 3 } } });
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 }); // resolve b first: the ARP queue holds 8
  net.run(10);
  for (let i = 0; i < 10; i++) net.a.udp.send(5000, IP_B, 9, new Uint8Array(4));
  net.run(10);
  let sb = net.b.stats();
  assert.equal(sb.udp.dropNoPort, 10);
  assert.equal(sb.icmp.txErrors, 3);
  assert.equal(sb.icmp.errorsRateLimited, 7);
  net.run(100); // one token back after 100 ms at 10/s
  for (let i = 0; i < 2; i++) net.a.udp.send(5000, IP_B, 9, new Uint8Array(4));
  net.run(1);
  sb = net.b.stats();
  assert.equal(sb.icmp.txErrors, 4);
  assert.equal(sb.icmp.errorsRateLimited, 8);
  assert.equal(net.a.stats().icmp.rxErrors, 4);
  net.close();
});

Deno.test("two stacks: ping over a lossy, reordering link keeps counting straight", () => {
  const net = new TwoStacks({ seed: 42, impair: { loss: 0.2, reorder: 0.2, delayMs: 1 } });
  const seen = new Set<number>();
  net.a.icmp.onEchoReply = (r) => seen.add(r.seq);
  net.run(1000);
  for (let seq = 0; seq < 200; seq++) {
    net.a.icmp.ping(IP_B, { ident: 1, seq, now: net.now });
    net.run(20);
  }
  net.run(5000);
  // About 64 % of round trips survive two 20 % losses; the seed fixes the exact count.
  assert.ok(seen.size > 90 && seen.size < 170, `got ${seen.size}`);
  assert.equal(net.a.stats().icmp.rxEchoReplies, seen.size);
  assert.equal(net.b.stats().icmp.txEchoReplies, net.b.stats().icmp.rxEchoRequests);
  net.close();
});

Deno.test("two stacks: ping to an own address loops back", () => {
  const net = new TwoStacks();
  const seen: number[] = [];
  net.a.icmp.onEchoReply = (r) => seen.push(r.src);
  assert.equal(net.a.icmp.ping(IP_A, { ident: 1, seq: 1, now: 0 }), "sent");
  net.run(1);
  assert.deepEqual(seen, [IP_A]);
  // Nothing but the first gratuitous ARP announcement went on the wire.
  assert.equal(net.a.stats().nic.txFrames, 1);
  assert.equal(net.a.stats().ipv4.loopback, 2);
  net.close();
});
