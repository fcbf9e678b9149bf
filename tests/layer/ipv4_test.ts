import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { readIpv4 } from "../../stack/wire/address.ts";
import { EtherType, ethFrame, inject, ipv4Datagram, udpDatagram } from "./frames.ts";
import { IP_A, IP_B, TwoStacks } from "./two_stacks.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  new Rng(seed).fill(bytes);
  return bytes;
}

/** b collects UDP payloads on port 9000. */
function collect(net: TwoStacks): Uint8Array[] {
  const got: Uint8Array[] = [];
  net.b.udp.bind(9000, (d) => got.push(d.bytes.slice(d.offset, d.offset + d.length)));
  return got;
}

/** Injects a UDP datagram from a to b, as fragments of `chunk` bytes in the given order. */
function injectFragments(
  net: TwoStacks,
  payload: Uint8Array,
  chunk: number,
  order: (n: number) => number[],
  ident = 77,
): void {
  const udp = udpDatagram(IP_A, IP_B, 5000, 9000, payload);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < udp.length; at += chunk) {
    const piece = udp.subarray(at, Math.min(at + chunk, udp.length));
    const more = at + chunk < udp.length;
    parts.push(
      ipv4Datagram({ src: IP_A, dst: IP_B, ident, moreFragments: more, fragmentOffset: at }, piece),
    );
  }
  for (const i of order(parts.length)) {
    inject(
      net.pair.a,
      net.now,
      ethFrame({ dst: MAC_B, src: MAC_A, etherType: EtherType.Ipv4 }, parts[i]),
    );
  }
}

Deno.test("ipv4: a datagram over the MTU is fragmented on send and reassembled", () => {
  const net = new TwoStacks();
  const got = collect(net);
  const payload = randomBytes(4000, 1);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(10);
  assert.equal(net.a.udp.send(5000, IP_B, 9000, payload), "sent");
  net.run(10);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0], payload);
  assert.equal(net.a.stats().ipv4.txFragments, 3); // 1480 + 1480 + 1048
  assert.equal(net.b.stats().reassembly.reassembled, 1);
  net.close();
});

Deno.test("ipv4: a large datagram queued behind ARP is fragmented once resolved", () => {
  const net = new TwoStacks({ mtu: 576 });
  const got = collect(net);
  const payload = randomBytes(9000, 2);
  assert.equal(net.a.udp.send(5000, IP_B, 9000, payload), "queued");
  net.run(10);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0], payload);
  assert.equal(net.a.stats().ipv4.txFragments, Math.ceil(9008 / 552));
  net.close();
});

Deno.test("ipv4: fragments reordered and duplicated by the link are reassembled", () => {
  const net = new TwoStacks({ seed: 9, impair: { reorder: 0.5, duplicate: 0.2, delayMs: 1 } });
  const got = collect(net);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(100);
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    const payload = randomBytes(1000 + i * 500, 10 + i);
    sent.push(payload);
    net.a.udp.send(5000, IP_B, 9000, payload);
    net.run(5);
  }
  net.run(100);
  assert.equal(got.length, 20);
  for (const payload of sent) {
    assert.ok(got.some((g) => g.length === payload.length && g.every((v, i) => v === payload[i])));
  }
  assert.ok(net.pair.b.stats.reordered > 0 || net.pair.b.stats.duplicated > 0);
  net.close();
});

Deno.test("ipv4: fragments in reverse and shuffled order are reassembled", () => {
  const net = new TwoStacks();
  const got = collect(net);
  net.run(1);
  const p1 = randomBytes(3000, 3);
  injectFragments(net, p1, 400, (n) => [...Array(n).keys()].reverse(), 1);
  const p2 = randomBytes(3000, 4);
  const rng = new Rng(5);
  injectFragments(net, p2, 160, (n) => {
    const order = [...Array(n).keys()];
    for (let i = n - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }, 2);
  net.run(1);
  assert.deepEqual(got, [p1, p2]);
  net.close();
});

Deno.test("ipv4: lost fragments time out, free memory and earn a time exceeded", () => {
  const net = new TwoStacks({ b: { ipv4: { reassemblyTimeoutMs: 5000 } } });
  const got = collect(net);
  const errors: number[] = [];
  net.a.icmp.onMessage = (m) => errors.push(m.type, m.code);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(10);
  errors.length = 0;
  injectFragments(
    net,
    randomBytes(3000, 6),
    800,
    (n) => [...Array(n).keys()].filter((i) => i !== 2),
  );
  net.run(1);
  assert.equal(net.b.ipv4.reassembler.inProgress, 1);
  net.run(6000);
  assert.equal(got.length, 0);
  assert.equal(net.b.ipv4.reassembler.inProgress, 0);
  assert.equal(net.b.ipv4.reassembler.bytesHeld, 0);
  assert.equal(net.b.stats().reassembly.dropTimeout, 1);
  assert.deepEqual(errors, [11, 1]);
  net.close();
});

Deno.test("ipv4: reassembly memory is bounded; the oldest datagrams are evicted", () => {
  const net = new TwoStacks({ b: { ipv4: { reassemblyBytes: 16 * 1024 } } });
  const got = collect(net);
  net.run(1);
  // 40 datagrams, each missing its last fragment: each would hold ~1.2 KiB.
  for (let i = 0; i < 40; i++) {
    injectFragments(net, randomBytes(2000, i), 1000, () => [0, 1], 1000 + i);
    net.run(0.01);
  }
  assert.ok(net.b.ipv4.reassembler.bytesHeld <= 16 * 1024);
  assert.ok(net.b.stats().reassembly.dropMemory > 0);
  // A complete datagram still gets through afterwards.
  const payload = randomBytes(2500, 99);
  injectFragments(net, payload, 1000, (n) => [...Array(n).keys()], 5);
  net.run(1);
  assert.deepEqual(got, [payload]);
  net.close();
});

Deno.test("ipv4: overlapping fragments with different data drop the datagram", () => {
  const net = new TwoStacks();
  const got = collect(net);
  net.run(1);
  const payload = randomBytes(200, 7);
  const udp = udpDatagram(IP_A, IP_B, 5000, 9000, payload);
  const evil = udp.slice(96);
  evil[10] ^= 0xff;
  const frames = [
    ipv4Datagram(
      { src: IP_A, dst: IP_B, ident: 3, moreFragments: true, fragmentOffset: 0 },
      udp.subarray(0, 128),
    ),
    ipv4Datagram({ src: IP_A, dst: IP_B, ident: 3, fragmentOffset: 96 }, evil),
  ];
  for (const f of frames) {
    inject(net.pair.a, net.now, ethFrame({ dst: MAC_B, src: MAC_A, etherType: EtherType.Ipv4 }, f));
  }
  net.run(1);
  assert.equal(got.length, 0);
  assert.equal(net.b.stats().reassembly.dropOverlap, 1);
  net.close();
});

Deno.test("ipv4: bad checksum, TTL 0, wrong destination and bad source are dropped and counted", () => {
  const net = new TwoStacks();
  const got = collect(net);
  net.run(1);
  const udp = udpDatagram(IP_A, IP_B, 5000, 9000, new Uint8Array(10));
  const send = (datagram: Uint8Array) =>
    inject(
      net.pair.a,
      net.now,
      ethFrame({ dst: MAC_B, src: MAC_A, etherType: EtherType.Ipv4 }, datagram),
    );
  const badSum = ipv4Datagram({ src: IP_A, dst: IP_B }, udp);
  badSum[10] ^= 1;
  send(badSum);
  send(ipv4Datagram({ src: IP_A, dst: IP_B, ttl: 0 }, udp));
  send(ipv4Datagram({ src: IP_A, dst: IP_B + 5 }, udp));
  send(ipv4Datagram({ src: 0xe0000001, dst: IP_B }, udp));
  send(ipv4Datagram({ src: IP_A, dst: IP_B, ttl: 1 }, udp)); // TTL 1 is fine for a host
  net.run(1);
  const s = net.b.stats().ipv4;
  assert.equal(s.dropChecksum, 1);
  assert.equal(s.dropTtl, 1);
  assert.equal(s.dropNotForUs, 1);
  assert.equal(s.dropBadSource, 1);
  assert.equal(got.length, 1);
  net.close();
});

Deno.test("ipv4: an unknown protocol earns protocol unreachable; a custom transport receives", () => {
  const net = new TwoStacks();
  net.run(1);
  const errors: number[] = [];
  net.a.icmp.onMessage = (m) => errors.push(m.type, m.code);
  const seen: number[] = [];
  let pending = true;
  net.a.attach(253, {
    receive: () => {},
    poll(_now, ip) {
      if (!pending) return false;
      pending = false;
      ip.send(IP_B, 253, 8, (bytes, offset) => bytes.set([1, 2, 3, 4, 5, 6, 7, 8], offset));
      return true;
    },
    pollAt: () => undefined,
  });
  net.run(10);
  assert.deepEqual(errors, [3, 2]);
  assert.equal(net.b.stats().ipv4.dropNoProtocol, 1);
  const detach = net.b.attach(253, {
    receive: (p) => seen.push(p.length, p.bytes[p.offset + 3]),
    poll: () => false,
    pollAt: () => undefined,
  });
  pending = true;
  net.run(10);
  assert.deepEqual(seen, [8, 4]);
  detach();
  net.close();
});

Deno.test("ipv4: fragmented datagrams over a lossy link arrive whole or not at all", () => {
  const net = new TwoStacks({
    seed: 11,
    impair: { loss: 0.1, reorder: 0.2, delayMs: 1 },
    b: { ipv4: { reassemblyTimeoutMs: 2000 } },
  });
  const got = collect(net);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(3000); // ARP may need a retry on this link
  const sent = new Map<number, Uint8Array>();
  for (let i = 0; i < 60; i++) {
    const payload = randomBytes(3000 + i, 500 + i);
    sent.set(payload.length, payload);
    net.a.udp.send(5000, IP_B, 9000, payload);
    net.run(5);
  }
  net.run(5000);
  // Each datagram is 3 fragments: about 0.9^3 ≈ 73 % survive; the seed fixes the count.
  assert.ok(got.length > 25 && got.length < 60, `got ${got.length}`);
  for (const g of got) assert.deepEqual(g, sent.get(g.length));
  const r = net.b.stats().reassembly;
  assert.equal(r.reassembled, got.length);
  assert.ok(r.dropTimeout > 0);
  assert.equal(net.b.ipv4.reassembler.inProgress, 0);
  assert.equal(net.b.ipv4.reassembler.bytesHeld, 0);
  net.close();
});

Deno.test("ipv4: off-link destinations go to the default gateway's MAC", () => {
  const gateway = IP_B;
  const net = new TwoStacks({ a: { gateway } });
  const offLink = 0x08080808;
  let seenDst = 0;
  net.b.eth.register(EtherType.Ipv4, {
    receive: (p) => (seenDst = readIpv4(p.bytes, p.offset + 16)),
  });
  assert.equal(net.a.ipv4.sourceFor(offLink), IP_A);
  assert.equal(net.a.udp.send(5000, offLink, 53, new Uint8Array(8)), "queued");
  net.run(10);
  assert.equal(seenDst, offLink);
  assert.equal(net.a.arp.lookup(gateway, net.now), MAC_B);
  // Without a gateway there is no route.
  net.a.ipv4.setGateway(undefined);
  assert.equal(net.a.udp.send(5000, offLink, 53, new Uint8Array(8)), "unroutable");
  assert.equal(net.a.stats().ipv4.dropNoRoute, 1);
  net.close();
});

Deno.test("ipv4: a send from a broadcast or multicast source is refused and counted", () => {
  const net = new TwoStacks();
  net.run(1);
  const fill = () => {};
  assert.equal(net.a.ipv4.send(IP_B, 253, 0, fill, 0x0a0000ff), "unroutable");
  assert.equal(net.a.ipv4.send(IP_B, 253, 0, fill, 0xffffffff), "unroutable");
  assert.equal(net.a.ipv4.send(IP_B, 253, 0, fill, 0xe0000001), "unroutable");
  assert.equal(net.a.stats().ipv4.dropBadSource, 3);
  assert.equal(net.a.ipv4.send(0xffffffff, 253, 0, fill, 0), "sent"); // a DHCP client's discover
  net.close();
});

Deno.test("ipv4: a full ARP queue drops and counts instead of asking to retry", () => {
  const net = new TwoStacks({ a: { arp: { pendingPerEntry: 2 } } });
  const silent = 0x0a000063;
  const results = [0, 1, 2, 3].map(() => net.a.udp.send(5000, silent, 9, new Uint8Array(4)));
  assert.deepEqual(results, ["queued", "queued", "queued", "queued"]);
  assert.equal(net.a.stats().ipv4.dropArpFull, 2);
  // Nothing is due until the ARP retry: no spinning.
  net.settle();
  assert.ok((net.a.pollAt(net.now) ?? Infinity) > net.now);
  net.close();
});

Deno.test("ipv4: transports learn whether a datagram was sent to a broadcast", () => {
  const net = new TwoStacks();
  net.run(1);
  const seen: boolean[] = [];
  net.b.attach(253, {
    receive: (p) => seen.push(p.broadcast),
    poll: () => false,
    pollAt: () => undefined,
  });
  const send = (dst: number, mac: number) =>
    inject(
      net.pair.a,
      net.now,
      ethFrame(
        { dst: mac, src: MAC_A, etherType: EtherType.Ipv4 },
        ipv4Datagram({ src: IP_A, dst, protocol: 253 }, new Uint8Array(8)),
      ),
    );
  send(IP_B, MAC_B);
  send(0x0a0000ff, 0xffffffffffff);
  send(0xe0000001, 0x01005e000001);
  net.run(1);
  assert.deepEqual(seen, [false, true, true]);
  net.close();
});
