/**
 * Two stacks on an in-memory cable (MemoryPair) with a virtual clock: link-local addresses through DAD,
 * ping over link-local and static global addresses, neighbor cache states, UDP over IPv6 through the
 * shared port table, duplicate address detection, and fragmentation with reassembly.
 */

import assert from "node:assert/strict";
import { Interface } from "../../stack/layer/interface.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv6Address, Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";

function pair(
  optionsA = {},
  optionsB = {},
): { a: Interface; b: Interface; run: (ms: number) => void } {
  const link = new MemoryPair({ seed: 3 });
  const a = new Interface(link.a, { rng: new Rng(1), announce: false, ipv6: optionsA });
  const b = new Interface(link.b, { rng: new Rng(2), announce: false, ipv6: optionsB });
  let now = 0;
  const run = (ms: number) => {
    const end = now + ms;
    for (; now <= end; now += 5) {
      a.poll(now);
      b.poll(now);
    }
  };
  return { a, b, run };
}

const LL_A = Ipv6Address.parse("fe80::ff:fe00:1");
const LL_B = Ipv6Address.parse("fe80::ff:fe00:2");

Deno.test("ipv6 memory: link-local addresses pass DAD and answer pings", () => {
  const { a, b, run } = pair();
  assert.deepEqual(a.ipv6!.addressList(), []); // tentative until DAD passes
  run(2500);
  assert.deepEqual(a.ipv6!.addressList().map(String), [LL_A.toString()]);
  assert.deepEqual(b.ipv6!.addressList().map(String), [LL_B.toString()]);
  assert.ok(a.ipv6!.linkLocal?.equals(LL_A));
  assert.equal(a.ipv6!.ndp.stats.dadProbes, 1);
  assert.equal(a.ipv6!.ndp.stats.dadFailed, 0);
  const replies: number[] = [];
  a.ipv6!.icmp.onEchoReply = (r) => {
    if (r.src.equals(LL_B) && r.ident === 9) replies.push(r.seq);
  };
  for (let seq = 1; seq <= 3; seq++) {
    assert.match(a.ipv6!.icmp.ping(LL_B, { ident: 9, seq }), /sent|queued/);
    run(50);
  }
  assert.deepEqual(replies, [1, 2, 3]);
  assert.equal(b.ipv6!.icmp.stats.rxEchoRequests, 3);
  // A resolved B with a multicast NS; B learned A from its source link-layer option.
  assert.equal(a.ipv6!.neighbors.get(LL_B)?.mac, 0x020000000002);
  assert.equal(a.ipv6!.neighbors.get(LL_B)?.state, "reachable");
  assert.equal(b.ipv6!.neighbors.get(LL_A)?.mac, 0x020000000001);
  // After ReachableTime (15-45 s, randomised) the entry is stale; the next ping moves it to DELAY, then a unicast probe confirms it.
  run(46_000);
  assert.equal(a.ipv6!.neighbors.get(LL_B)?.state, "stale");
  a.ipv6!.icmp.ping(LL_B, { ident: 9, seq: 4 });
  assert.equal(a.ipv6!.neighbors.get(LL_B)?.state, "delay");
  run(7000);
  assert.equal(a.ipv6!.neighbors.get(LL_B)?.state, "reachable");
  assert.deepEqual(replies, [1, 2, 3, 4]);
});

Deno.test("ipv6 memory: UDP over static global addresses reaches the shared port table", () => {
  const { a, b, run } = pair(
    { addresses: [Ipv6Cidr.parse("2001:db8::a/64")] },
    { addresses: [Ipv6Cidr.parse("2001:db8::b/64")] },
  );
  run(2500);
  const got: string[] = [];
  const binding = b.udp.bind(7, (d, _now) => {
    got.push(
      `${d.src6}:${d.srcPort}>${d.dst6}:${d.dstPort} ${
        new TextDecoder().decode(d.bytes.subarray(d.offset, d.offset + d.length))
      }`,
    );
    b.udp6!.send(7, d.src6!, d.srcPort, d.bytes.slice(d.offset, d.offset + d.length));
  });
  const echoed: string[] = [];
  a.udp.bind(
    40000,
    (d) => echoed.push(new TextDecoder().decode(d.bytes.subarray(d.offset, d.offset + d.length))),
  );
  const dst = Ipv6Address.parse("2001:db8::b");
  assert.equal(a.udp6!.send(40000, dst, 7, new TextEncoder().encode("hi over v6")), "queued");
  run(100);
  assert.deepEqual(got, ["2001:db8::a:40000>2001:db8::b:7 hi over v6"]);
  assert.deepEqual(echoed, ["hi over v6"]);
  // A closed port earns a port unreachable.
  let errors = 0;
  a.ipv6!.icmp.onError = (e) => {
    if (e.type === 1 && e.code === 4 && e.quoted.dst.equals(dst)) errors++;
  };
  a.udp6!.send(40000, dst, 9, new Uint8Array(4));
  run(50);
  assert.equal(errors, 1);
  assert.equal(b.udp6!.stats.dropNoPort, 1);
  binding.close();
});

Deno.test("ipv6 memory: datagrams above the MTU are fragmented and reassembled", () => {
  const { a, b, run } = pair(
    { addresses: [Ipv6Cidr.parse("2001:db8::a/64")] },
    { addresses: [Ipv6Cidr.parse("2001:db8::b/64")] },
  );
  run(2500);
  const data = new Uint8Array(4000);
  new Rng(5).fill(data);
  let got: Uint8Array | undefined;
  b.udp.bind(7, (d) => (got = d.bytes.slice(d.offset, d.offset + d.length)));
  a.udp6!.send(40000, Ipv6Address.parse("2001:db8::b"), 7, data);
  run(100);
  assert.deepEqual(got, data);
  assert.equal(a.ipv6!.stats.txFragments, 3);
  assert.equal(b.ipv6!.reassembler.stats.reassembled, 1);
  assert.equal(b.ipv6!.reassembler.bytesHeld, 0);
});

Deno.test("ipv6 memory: a second node taking a used address fails DAD", () => {
  const { a, b, run } = pair({ addresses: [Ipv6Cidr.parse("2001:db8::5/64")] });
  run(2500);
  b.ipv6!.addAddress(Ipv6Cidr.parse("2001:db8::5/64"));
  run(2500);
  assert.equal(b.ipv6!.ndp.stats.dadFailed, 1);
  assert.deepEqual(b.ipv6!.ndp.duplicates.map(String), ["2001:db8::5"]);
  assert.ok(!b.ipv6!.hasAddress(Ipv6Address.parse("2001:db8::5")));
  assert.ok(a.ipv6!.hasAddress(Ipv6Address.parse("2001:db8::5")));
  // Removing the address leaves its solicited-node group.
  a.ipv6!.removeAddress(Ipv6Address.parse("2001:db8::5"));
  assert.ok(!a.ipv6!.hasAddress(Ipv6Address.parse("2001:db8::5")));
  assert.ok(!a.ipv6!.groups().some((g) => g.toString() === "ff02::1:ff00:5"));
});

Deno.test("ipv6 memory: an unresolvable neighbor is dropped after three solicitations", () => {
  const { a, run } = pair();
  run(2500);
  const ghost = Ipv6Address.parse("fe80::dead");
  assert.equal(a.ipv6!.icmp.ping(ghost, { ident: 1, seq: 1 }), "queued");
  run(500);
  assert.equal(a.ipv6!.neighbors.get(ghost)?.state, "incomplete");
  run(3000);
  assert.equal(a.ipv6!.neighbors.get(ghost), undefined);
  assert.equal(a.ipv6!.neighbors.stats.unreachable, 1);
  assert.equal(a.ipv6!.neighbors.stats.dropUnresolved, 1);
  assert.equal(a.ipv6!.neighbors.stats.solicits, 3);
});

Deno.test("ipv6 memory: ping to the own address and ::1 loops back", () => {
  const { a, run } = pair({ addresses: [Ipv6Cidr.parse("2001:db8::a/64")] });
  run(2500);
  const replies: string[] = [];
  a.ipv6!.icmp.onEchoReply = (r) => replies.push(`${r.src} ${r.seq}`);
  a.ipv6!.icmp.ping(Ipv6Address.parse("2001:db8::a"), { ident: 1, seq: 1 });
  a.ipv6!.icmp.ping(Ipv6Address.parse("::1"), { ident: 1, seq: 2 });
  run(50);
  assert.deepEqual(replies, ["2001:db8::a 1", "::1 2"]);
});

Deno.test("ipv6 memory: UDP to a joined multicast group (mDNS's ff02::fb) is delivered and reported", () => {
  const { a, b, run } = pair();
  run(2500);
  const group = Ipv6Address.parse("ff02::fb");
  const got: string[] = [];
  b.udp.bind(5353, (d) => got.push(`${d.src6} > ${d.dst6}`));
  a.udp6!.send(5353, group, 5353, new Uint8Array(12));
  run(20);
  assert.deepEqual(got, []); // not joined yet: the frame's multicast MAC is filtered
  b.ipv6!.joinGroup(group);
  run(20);
  a.udp6!.send(5353, group, 5353, new Uint8Array(12));
  run(20);
  assert.deepEqual(got, [`${LL_A} > ff02::fb`]);
  assert.ok(b.ipv6!.mld.stats.txReports >= 3);
  // A closed port on a multicast destination earns no ICMPv6 error (RFC 4443 §2.4 e.3).
  a.udp6!.send(5353, group, 9, new Uint8Array(12));
  run(20);
  assert.equal(b.ipv6!.icmp.stats.txErrors, 0);
});
