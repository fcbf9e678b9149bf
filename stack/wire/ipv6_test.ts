import assert from "node:assert/strict";
import fixtures from "../../tests/fixtures/ipv6/packets.json" with { type: "json" };
import { internetChecksum } from "./checksum.ts";
import { Ipv6Address } from "./ipv6_address.ts";
import { IPV6_HEADER_LENGTH, Ipv6Packet, ipv6PseudoHeaderSum, Ipv6Repr } from "./ipv6.ts";
import { isWireError, WireError } from "./error.ts";

function fixture(name: string): { bytes: Uint8Array; fields: Record<string, unknown> } {
  const p = fixtures.packets.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no fixture ${name}`);
  return {
    bytes: Uint8Array.from(p.hex.match(/../g)!.map((h) => parseInt(h, 16))),
    fields: p.fields,
  };
}

Deno.test("Ipv6Repr parses every scapy packet's fixed header", () => {
  for (const p of fixtures.packets) {
    const { bytes, fields } = fixture(p.name);
    const repr = Ipv6Repr.parse(new Ipv6Packet(bytes));
    assert.ok(!isWireError(repr), p.name);
    assert.equal(repr.src.toString(), fields.src, p.name);
    assert.equal(repr.dst.toString(), fields.dst, p.name);
    assert.equal(repr.nextHeader, fields.nh, p.name);
    assert.equal(repr.hopLimit, fields.hlim, p.name);
    assert.equal(repr.payloadLength, fields.plen, p.name);
    assert.equal(repr.trafficClass, fields.tc, p.name);
    assert.equal(repr.flowLabel, fields.fl, p.name);
    assert.equal(repr.payloadOffset, IPV6_HEADER_LENGTH);
  }
});

Deno.test("Ipv6Repr.emit rebuilds the scapy header byte for byte", () => {
  for (const p of fixtures.packets) {
    const { bytes } = fixture(p.name);
    const repr = Ipv6Repr.parse(new Ipv6Packet(bytes)) as Ipv6Repr;
    const out = new Uint8Array(IPV6_HEADER_LENGTH);
    repr.emit(new Ipv6Packet(out));
    assert.deepEqual(out, bytes.subarray(0, IPV6_HEADER_LENGTH), p.name);
  }
});

Deno.test("Ipv6Packet setters write the fields the getters read", () => {
  const view = new Ipv6Packet(new Uint8Array(48));
  new Ipv6Repr().emit(view);
  view.trafficClass = 0xa5;
  view.flowLabel = 0xfedcb;
  view.payloadLength = 8;
  view.hopLimit = 255;
  view.nextHeader = 17;
  view.src = Ipv6Address.parse("fe80::1");
  view.dst = Ipv6Address.parse("ff02::1");
  assert.equal(view.version, 6);
  assert.equal(view.trafficClass, 0xa5);
  assert.equal(view.flowLabel, 0xfedcb);
  assert.equal(view.payloadLength, 8);
  assert.equal(view.hopLimit, 255);
  assert.equal(view.nextHeader, 17);
  assert.equal(view.src.toString(), "fe80::1");
  assert.equal(view.dst.toString(), "ff02::1");
  assert.equal(view.check(), undefined);
});

Deno.test("Ipv6Packet.check rejects short, wrong-version and overlong packets", () => {
  const { bytes } = fixture("udp");
  const cases: [Uint8Array, number, string][] = [
    [bytes.subarray(0, 39), 39, "truncated"],
    [bytes.subarray(0, 50), 50, "truncated"], // payload length 21 beyond 10 bytes
  ];
  for (const [b, length, code] of cases) {
    const error = new Ipv6Packet(b, 0, length).check();
    assert.ok(error instanceof WireError);
    assert.equal(error.code, code);
  }
  const v4 = bytes.slice();
  v4[0] = 0x45;
  assert.equal((new Ipv6Packet(v4).check() as WireError).code, "malformed");
  assert.match(String(new Ipv6Packet(v4).check()?.message), /version 4 is not 6/);
  assert.equal((new Ipv6Packet(bytes, 10, bytes.length).check() as WireError).code, "truncated");
  // Ethernet padding after the payload is fine.
  const padded = new Uint8Array(bytes.length + 7);
  padded.set(bytes);
  assert.equal(new Ipv6Packet(padded).check(), undefined);
});

Deno.test("the pseudo-header sum from bytes and from words verifies scapy's UDP checksum", () => {
  const { bytes, fields } = fixture("udp");
  const view = new Ipv6Packet(bytes);
  const length = view.payloadLength;
  const fromBytes = view.pseudoHeaderSum(17, length);
  const fromWords = ipv6PseudoHeaderSum(view.src, view.dst, 17, length);
  assert.equal(fromBytes, fromWords);
  assert.equal(internetChecksum(bytes, 40, length, fromBytes), 0);
  const copy = bytes.slice();
  copy[46] = 0;
  copy[47] = 0;
  assert.equal(internetChecksum(copy, 40, length, fromBytes), fields.cksum);
});
