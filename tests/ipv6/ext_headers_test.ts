/**
 * The IPv6 layer's receive path against a scripted peer: extension headers (RFC 8200 §4) with the
 * unknown-option actions, routing headers with segments left, misplaced hop-by-hop headers, unknown
 * next headers, fragments (RFC 5722 overlaps, duplicates, timeouts), and seeded mutations of valid
 * packets, which must be dropped and counted, never thrown.
 */

import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { Icmpv6Type } from "../../stack/wire/icmpv6.ts";
import { IPV6_ALL_NODES, Ipv6Address, Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";
import { Ipv6Packet, ipv6PseudoHeaderSum } from "../../stack/wire/ipv6.ts";
import { Ipv6FragmentHeader } from "../../stack/wire/ipv6_ext.ts";
import { Peer, PEER_MAC } from "./peer.ts";

const ME = Ipv6Address.parse("2001:db8::1");
const PEER = Ipv6Address.parse("2001:db8::2");

function stack(): { peer: Peer; got: string[] } {
  const peer = new Peer({
    ipv6: { addresses: [Ipv6Cidr.parse("2001:db8::1/64")], dadTransmits: 0 },
  });
  const got: string[] = [];
  peer.iface.udp.bind(
    7,
    (d) => got.push(new TextDecoder().decode(d.bytes.subarray(d.offset, d.offset + d.length))),
  );
  peer.run(10);
  // As if the peer had answered a solicitation: errors go straight out instead of waiting on NDP.
  peer.ip6.neighbors.learn(PEER, PEER_MAC, 0);
  return { peer, got };
}

function udp(text: string, dst = ME, src = PEER): Uint8Array {
  const data = new TextEncoder().encode(text);
  const b = new Uint8Array(8 + data.length);
  b[0] = 0x9c;
  b[1] = 0x40;
  b[3] = 7;
  b[4] = b.length >>> 8;
  b[5] = b.length;
  b.set(data, 8);
  const sum = internetChecksum(b, 0, b.length, ipv6PseudoHeaderSum(src, dst, 17, b.length));
  b[6] = sum >>> 8;
  b[7] = sum;
  return b;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function errors(peer: Peer): { code: number; pointer: number }[] {
  return peer.icmp(Icmpv6Type.ParameterProblem).map((x) => ({
    code: x.view.code,
    pointer: x.view.param,
  }));
}

function frag(nh: number, offset: number, more: boolean, ident: number): Uint8Array {
  const word = offset | (more ? 1 : 0);
  return new Uint8Array([
    nh,
    0,
    word >>> 8,
    word & 0xff,
    ident >>> 24,
    (ident >>> 16) & 0xff,
    (ident >>> 8) & 0xff,
    ident & 0xff,
  ]);
}

Deno.test("ext: options with action 00 are skipped; 01 drops silently; 10 and 11 report with a pointer", () => {
  const { peer, got } = stack();
  const opts = (type: number) => new Uint8Array([17, 0, type, 2, 0xaa, 0xbb, 1, 0]);
  peer.send({ src: PEER, dst: ME, nextHeader: 60 }, cat(opts(0x1e), udp("skipped")));
  peer.send({ src: PEER, dst: ME, nextHeader: 60 }, cat(opts(0x5e), udp("x")));
  peer.send({ src: PEER, dst: ME, nextHeader: 60 }, cat(opts(0x9e), udp("x")));
  peer.send({ src: PEER, dst: ME, nextHeader: 0 }, cat(opts(0xde), udp("x")));
  peer.run(20);
  assert.deepEqual(got, ["skipped"]);
  assert.deepEqual(errors(peer), [{ code: 2, pointer: 42 }, { code: 2, pointer: 42 }]);
  assert.equal(peer.ip6.stats.dropOptions, 3);
  // To a multicast destination, 11 stays silent and 10 still reports (RFC 8200 §4.2).
  peer.send(
    { src: PEER, dst: IPV6_ALL_NODES, nextHeader: 60 },
    cat(opts(0xde), udp("x", IPV6_ALL_NODES)),
  );
  peer.send(
    { src: PEER, dst: IPV6_ALL_NODES, nextHeader: 60 },
    cat(opts(0x9e), udp("x", IPV6_ALL_NODES)),
  );
  peer.run(20);
  assert.equal(errors(peer).length, 3);
});

Deno.test("ext: routing headers with segments left, misplaced hop-by-hop and unknown next headers", () => {
  const { peer, got } = stack();
  const routing = (left: number) => new Uint8Array([17, 0, 0, left, 0, 0, 0, 0]);
  peer.send({ src: PEER, dst: ME, nextHeader: 43 }, cat(routing(0), udp("done")));
  peer.send({ src: PEER, dst: ME, nextHeader: 43 }, cat(routing(1), udp("x")));
  const destopts = new Uint8Array([0, 0, 1, 4, 0, 0, 0, 0]); // next header: hop-by-hop
  peer.send(
    { src: PEER, dst: ME, nextHeader: 60 },
    cat(destopts, new Uint8Array([17, 0, 1, 4, 0, 0, 0, 0]), udp("x")),
  );
  peer.send({ src: PEER, dst: ME, nextHeader: 253 }, new Uint8Array(8));
  peer.send({ src: PEER, dst: ME, nextHeader: 59 }, new Uint8Array(8));
  peer.run(20);
  assert.deepEqual(got, ["done"]);
  assert.deepEqual(errors(peer), [
    { code: 0, pointer: 42 }, // the routing type of an unknown route
    { code: 1, pointer: 40 }, // the next header field that named hop-by-hop
    { code: 1, pointer: 6 }, // the fixed header's next header
  ]);
  assert.equal(peer.ip6.stats.dropNoNextHeader, 1);
});

Deno.test("ext: fragments reassemble in any order; an overlap drops the packet and its later fragments", () => {
  const { peer, got } = stack();
  const whole = udp("A".repeat(30));
  const parts = [whole.subarray(0, 16), whole.subarray(16, 32), whole.subarray(32)];
  peer.send({ src: PEER, dst: ME, nextHeader: 44 }, cat(frag(17, 32, false, 1), parts[2]));
  peer.send({ src: PEER, dst: ME, nextHeader: 44 }, cat(frag(17, 0, true, 1), parts[0]));
  peer.send({ src: PEER, dst: ME, nextHeader: 44 }, cat(frag(17, 0, true, 1), parts[0])); // duplicate
  peer.send({ src: PEER, dst: ME, nextHeader: 44 }, cat(frag(17, 16, true, 1), parts[1]));
  peer.run(10);
  assert.deepEqual(got, ["A".repeat(30)]);
  // RFC 5722: fragment 8..24 overlaps 0..16, even with the same bytes.
  const other = udp("B".repeat(30));
  peer.send(
    { src: PEER, dst: ME, nextHeader: 44 },
    cat(frag(17, 0, true, 2), other.subarray(0, 16)),
  );
  peer.send(
    { src: PEER, dst: ME, nextHeader: 44 },
    cat(frag(17, 8, true, 2), other.subarray(8, 24)),
  );
  peer.send(
    { src: PEER, dst: ME, nextHeader: 44 },
    cat(frag(17, 16, true, 2), other.subarray(16, 32)),
  );
  peer.send(
    { src: PEER, dst: ME, nextHeader: 44 },
    cat(frag(17, 32, false, 2), other.subarray(32)),
  );
  peer.run(10);
  assert.deepEqual(got, ["A".repeat(30)]);
  const r = peer.ip6.reassembler.stats;
  assert.equal(r.reassembled, 1);
  assert.equal(r.dropDuplicate, 1);
  assert.equal(r.dropOverlap, 3);
  assert.equal(peer.ip6.reassembler.bytesHeld, 0);
  // An atomic fragment (offset 0, M clear) is taken as it is (RFC 6946).
  peer.send({ src: PEER, dst: ME, nextHeader: 44 }, cat(frag(17, 0, false, 3), udp("atomic")));
  peer.run(10);
  assert.deepEqual(got, ["A".repeat(30), "atomic"]);
});

Deno.test("ext: an incomplete packet times out with time exceeded when its first fragment came", () => {
  const { peer } = stack();
  const whole = udp("C".repeat(30));
  peer.send(
    { src: PEER, dst: ME, nextHeader: 44 },
    cat(frag(17, 0, true, 4), whole.subarray(0, 16)),
  );
  peer.send(
    { src: PEER, dst: ME, nextHeader: 44 },
    cat(frag(17, 16, true, 5), whole.subarray(16, 32)),
  );
  peer.run(61_000);
  const te = peer.icmp(Icmpv6Type.TimeExceeded);
  assert.equal(te.length, 1);
  assert.equal(te[0].view.code, 1);
  // The quote is the first fragment as it came: fixed header, fragment header (ident 4), 16 bytes.
  const quote = new Ipv6Packet(te[0].view.bytes, te[0].view.dataOffset, te[0].view.dataLength);
  assert.equal(quote.check(), undefined);
  assert.equal(quote.nextHeader, 44);
  assert.equal(quote.payloadLength, 8 + 16);
  const fh = new Ipv6FragmentHeader(quote.bytes, quote.payloadOffset);
  assert.deepEqual([fh.ident, fh.fragmentOffset, fh.moreFragments, fh.nextHeader], [
    4,
    0,
    true,
    17,
  ]);
  assert.equal(peer.ip6.reassembler.stats.dropTimeout, 2);
  assert.equal(peer.ip6.reassembler.bytesHeld, 0);
});

Deno.test("ext: seeded mutations of valid packets are dropped and counted, never thrown", () => {
  const { peer, got } = stack();
  const rng = new Rng(2024);
  const samples = [
    { nh: 17, payload: udp("ok") },
    { nh: 60, payload: cat(new Uint8Array([17, 0, 1, 4, 0, 0, 0, 0]), udp("ok")) },
    { nh: 44, payload: cat(frag(17, 0, true, 9), udp("x".repeat(8))) },
    {
      nh: 0,
      payload: cat(
        new Uint8Array([58, 0, 5, 2, 0, 0, 1, 0]),
        new Uint8Array([128, 0, 0, 0, 0, 1, 0, 1]),
      ),
    },
  ];
  let sent = 0;
  for (let i = 0; i < 2000; i++) {
    const s = samples[rng.below(samples.length)];
    const payload = s.payload.slice(0, 1 + rng.below(s.payload.length));
    for (let k = 0; k <= rng.below(3); k++) {
      payload[rng.below(payload.length)] = rng.nextU32() & 0xff;
    }
    peer.send(
      { src: PEER, dst: ME, nextHeader: rng.below(8) === 0 ? rng.below(256) : s.nh },
      payload,
    );
    sent++;
    if (i % 50 === 0) peer.run(5);
  }
  peer.run(70_000);
  const stats = peer.iface.stats();
  assert.equal(stats.iface.handlerErrors, 0);
  assert.equal(stats.ipv6.rxPackets, sent);
  const drops = Object.entries(stats.ipv6).filter(([k]) => k.startsWith("drop")).reduce(
    (n, [, v]) => n + v,
    0,
  );
  assert.ok(drops + stats.udp6.rxPackets + stats.icmpv6.rxPackets + stats.ipv6.rxFragments > 0);
  assert.ok(stats.udp6.dropChecksum + stats.udp6.dropTruncated + stats.udp6.dropMalformed > 0);
  assert.ok(got.length < sent);
  assert.equal(peer.ip6.reassembler.bytesHeld, 0);
});

Deno.test("pmtu: a Packet Too Big about our packet lowers that path's MTU; forged ones are ignored", () => {
  const { peer } = stack();
  peer.ip6.config.setRouter(Ipv6Address.parse("fe80::ff:fe00:2"), Infinity, 0);
  peer.ip6.neighbors.learn(Ipv6Address.parse("fe80::ff:fe00:2"), PEER_MAC, 0);
  const far = Ipv6Address.parse("2001:db8:99::1");
  const quote = (src: Ipv6Address) => {
    const q = new Uint8Array(48);
    q[0] = 0x60;
    q[5] = 8;
    q[6] = 17;
    q[7] = 64;
    src.write(q, 8);
    far.write(q, 24);
    return q;
  };
  const ptb = (src: Ipv6Address, mtu: number) =>
    Peer.icmp(PEER, ME, 8 + 48, (v) => {
      v.type = Icmpv6Type.PacketTooBig;
      v.param = mtu;
      v.bytes.set(quote(src), 8);
    });
  // About someone else's packet: ignored.
  peer.send({ src: PEER, dst: ME, nextHeader: 58 }, ptb(Ipv6Address.parse("2001:db8::77"), 1280));
  peer.run(5);
  peer.iface.udp6!.send(4000, far, 9, new Uint8Array(1400));
  peer.run(5);
  const lengths = () =>
    peer.sent.filter((s) => s.etherType === 0x86dd && s.ip.dst.equals(far)).map((s) =>
      40 + s.ip.payloadLength
    );
  assert.deepEqual(lengths(), [1448]);
  peer.send({ src: PEER, dst: ME, nextHeader: 58 }, ptb(ME, 1000)); // below the minimum: 1280
  peer.run(5);
  peer.iface.udp6!.send(4000, far, 9, new Uint8Array(1400));
  peer.run(5);
  const after = lengths().slice(1);
  assert.equal(after.length, 2);
  assert.ok(after.every((n) => n <= 1280), String(after));
  // Ten minutes later the link MTU is tried again.
  peer.run(600_001);
  // The scripted peer never answers unreachability probes, so the router is relearned first.
  peer.ip6.config.setRouter(Ipv6Address.parse("fe80::ff:fe00:2"), Infinity, peer.now);
  peer.ip6.neighbors.learn(Ipv6Address.parse("fe80::ff:fe00:2"), PEER_MAC, peer.now);
  peer.iface.udp6!.send(4000, far, 9, new Uint8Array(1400));
  peer.run(5);
  assert.equal(lengths().at(-1), 1448);
});
