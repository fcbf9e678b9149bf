import assert from "node:assert/strict";
import fixtures from "../../tests/fixtures/ipv6/packets.json" with { type: "json" };
import { formatMac } from "./address.ts";
import { isWireError } from "./error.ts";
import { Icmpv6Packet } from "./icmpv6.ts";
import { Ipv6Packet } from "./ipv6.ts";
import { NdpRepr } from "./ndp.ts";

function fixture(name: string): { bytes: Uint8Array; fields: Record<string, unknown> } {
  const p = fixtures.packets.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no fixture ${name}`);
  return {
    bytes: Uint8Array.from(p.hex.match(/../g)!.map((h) => parseInt(h, 16))),
    fields: p.fields,
  };
}

function parse(bytes: Uint8Array): { repr: NdpRepr; ip: Ipv6Packet; view: Icmpv6Packet } {
  const ip = new Ipv6Packet(bytes);
  const view = new Icmpv6Packet(bytes, 40, ip.payloadLength);
  assert.ok(view.verifyChecksum(ip.src, ip.dst));
  const repr = NdpRepr.parse(view);
  if (isWireError(repr)) throw repr;
  return { repr, ip, view };
}

const NAMES = ["ns_dad", "ns", "na", "rs", "ra", "ra_rdnss", "redirect"];

Deno.test("NdpRepr decodes scapy's NDP messages", () => {
  for (const name of NAMES) {
    const { bytes, fields: f } = fixture(name);
    const { repr } = parse(bytes);
    assert.equal(repr.type, f.icmpType, name);
    if (f.target !== undefined) assert.equal(repr.target.toString(), f.target, name);
    assert.equal(repr.sourceMac === undefined ? undefined : formatMac(repr.sourceMac), f.sourceMac);
    assert.equal(repr.targetMac === undefined ? undefined : formatMac(repr.targetMac), f.targetMac);
  }
  const na = parse(fixture("na").bytes).repr;
  assert.deepEqual([na.router, na.solicited, na.override], [false, true, true]);
  const { repr: ra } = parse(fixture("ra").bytes);
  const f = fixture("ra").fields;
  assert.equal(ra.curHopLimit, f.curHopLimit);
  assert.equal(ra.managed, f.managed);
  assert.equal(ra.other, f.other);
  assert.equal(ra.routerLifetime, f.routerLifetime);
  assert.equal(ra.reachableTime, f.reachableTime);
  assert.equal(ra.retransTimer, f.retransTimer);
  assert.equal(ra.mtu, f.mtu);
  assert.equal(ra.prefixes.length, 1);
  assert.equal(ra.prefixes[0].prefix.toString(), f.prefix);
  assert.equal(ra.prefixes[0].prefixLength, f.prefixLength);
  assert.equal(ra.prefixes[0].validLifetime, f.validLifetime);
  assert.equal(ra.prefixes[0].preferredLifetime, f.preferredLifetime);
  assert.ok(ra.prefixes[0].onLink && ra.prefixes[0].autonomous);
  const rd = parse(fixture("redirect").bytes).repr;
  assert.equal(rd.destination.toString(), fixture("redirect").fields.destination);
});

Deno.test("NdpRepr.emit rebuilds scapy's messages byte for byte", () => {
  for (const name of NAMES) {
    const { bytes } = fixture(name);
    const { repr, ip } = parse(bytes);
    assert.equal(repr.bufferLength, ip.payloadLength, name);
    const out = bytes.slice();
    out.fill(0xee, 40);
    repr.emit(new Icmpv6Packet(out, 40, repr.bufferLength), ip.src, ip.dst);
    assert.deepEqual(out, bytes, name);
  }
});

Deno.test("NdpRepr drops zero-length options, truncated messages, bad codes and multicast targets", () => {
  const ns = fixture("ns").bytes;
  const zero = ns.slice();
  zero[40 + 24 + 1] = 0; // the SLLA option's length
  const a = NdpRepr.parse(new Icmpv6Packet(zero, 40, 32));
  assert.ok(isWireError(a) && a.code === "malformed");
  const over = ns.slice();
  over[40 + 24 + 1] = 2;
  const b = NdpRepr.parse(new Icmpv6Packet(over, 40, 32));
  assert.ok(isWireError(b) && b.code === "truncated");
  const c = NdpRepr.parse(new Icmpv6Packet(ns, 40, 20));
  assert.ok(isWireError(c) && c.code === "truncated");
  const code = ns.slice();
  code[41] = 1;
  const d = NdpRepr.parse(new Icmpv6Packet(code, 40, 32));
  assert.ok(isWireError(d) && d.code === "malformed");
  const mc = ns.slice();
  mc[48] = 0xff;
  const e = NdpRepr.parse(new Icmpv6Packet(mc, 40, 32));
  assert.ok(isWireError(e) && e.code === "malformed");
  const ra = fixture("ra").bytes;
  const prefixLen = ra.slice();
  // The prefix option is the last one, 32 bytes; claim 24.
  prefixLen[ra.length - 32 + 1] = 3;
  const f = NdpRepr.parse(new Icmpv6Packet(prefixLen, 40, ra.length - 40 - 8));
  assert.ok(isWireError(f) && f.code === "malformed");
  const echo = fixture("echo_request").bytes;
  const g = NdpRepr.parse(new Icmpv6Packet(echo, 40, 18));
  assert.ok(isWireError(g) && g.code === "unsupported");
});

Deno.test("NdpRepr decodes scapy's RDNSS option (RFC 8106) and rejects partial addresses", () => {
  const { bytes, fields } = fixture("ra_rdnss");
  const { repr } = parse(bytes);
  assert.deepEqual(repr.dnsServers.map(String), fields.dns);
  assert.equal(repr.dnsLifetime, fields.dnsLifetime);
  const cut = bytes.slice();
  cut[40 + 16 + 1] = 2; // 16 bytes: header and half an address
  const bad = NdpRepr.parse(new Icmpv6Packet(cut, 40, 32));
  assert.ok(isWireError(bad) && bad.code === "malformed");
});

Deno.test("NdpRepr skips unknown options", () => {
  const ns = fixture("ns").bytes;
  const bytes = new Uint8Array(ns.length + 16);
  bytes.set(ns);
  bytes[ns.length] = 200; // unknown option, 16 bytes
  bytes[ns.length + 1] = 2;
  const repr = NdpRepr.parse(new Icmpv6Packet(bytes, 40, ns.length - 40 + 16));
  assert.ok(!isWireError(repr));
  assert.equal(formatMac(repr.sourceMac!), "02:00:00:00:00:01");
});
