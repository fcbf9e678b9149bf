import assert from "node:assert/strict";
import fixtures from "../../tests/fixtures/ipv6/packets.json" with { type: "json" };
import { isWireError } from "./error.ts";
import { Icmpv6Packet, Icmpv6Repr, Icmpv6Type } from "./icmpv6.ts";
import { Ipv6Packet } from "./ipv6.ts";

function fixture(name: string): { bytes: Uint8Array; fields: Record<string, unknown> } {
  const p = fixtures.packets.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no fixture ${name}`);
  return {
    bytes: Uint8Array.from(p.hex.match(/../g)!.map((h) => parseInt(h, 16))),
    fields: p.fields,
  };
}

function icmp(bytes: Uint8Array, at = 40): { ip: Ipv6Packet; view: Icmpv6Packet } {
  const ip = new Ipv6Packet(bytes);
  return { ip, view: new Icmpv6Packet(bytes, at, 40 + ip.payloadLength - at) };
}

Deno.test("Icmpv6Repr parses scapy's echo request and reply and verifies their checksums", () => {
  for (const name of ["echo_request", "echo_reply"]) {
    const { bytes, fields } = fixture(name);
    const { ip, view } = icmp(bytes);
    const repr = Icmpv6Repr.parse(view, ip.src, ip.dst);
    assert.ok(!isWireError(repr), name);
    assert.equal(repr.type, fields.icmpType);
    assert.equal(repr.ident, fields.ident);
    assert.equal(repr.seq, fields.seq);
    const data = new TextDecoder().decode(
      bytes.subarray(repr.dataOffset, repr.dataOffset + repr.dataLength),
    );
    assert.equal(data, fields.data);
  }
});

Deno.test("Icmpv6Repr.emit rebuilds scapy's echo request with its checksum", () => {
  const { bytes, fields } = fixture("echo_request");
  const { ip } = icmp(bytes);
  const out = bytes.slice();
  out.fill(0, 40, 48);
  const repr = new Icmpv6Repr();
  repr.type = Icmpv6Type.EchoRequest;
  repr.ident = 0x4242;
  repr.seq = 7;
  repr.emit(new Icmpv6Packet(out, 40, out.length - 40), ip.src, ip.dst);
  assert.deepEqual(out, bytes);
  assert.equal(new Icmpv6Packet(out, 40).checksum, fields.cksum);
});

Deno.test("an error message exposes the quoted packet", () => {
  const { bytes } = fixture("port_unreachable");
  const { ip, view } = icmp(bytes);
  const repr = Icmpv6Repr.parse(view, ip.src, ip.dst) as Icmpv6Repr;
  assert.equal(repr.type, Icmpv6Type.DestinationUnreachable);
  assert.equal(repr.code, 4);
  const quoted = new Ipv6Packet(bytes, repr.dataOffset, repr.dataLength);
  assert.equal(quoted.check(), undefined);
  assert.equal(quoted.dst.toString(), "2001:db8:1::ff:fe00:1");
  assert.equal(quoted.nextHeader, 17);
});

Deno.test("Icmpv6Repr rejects bad checksums and short messages", () => {
  const { bytes } = fixture("echo_request");
  for (let i = 40; i < bytes.length; i++) {
    const copy = bytes.slice();
    copy[i] ^= 0x10;
    const { ip, view } = icmp(copy);
    const repr = Icmpv6Repr.parse(view, ip.src, ip.dst);
    assert.ok(isWireError(repr) && repr.code === "checksum", `byte ${i}`);
  }
  const { ip } = icmp(bytes);
  const short = Icmpv6Repr.parse(new Icmpv6Packet(bytes, 40, 6), ip.src, ip.dst);
  assert.ok(isWireError(short) && short.code === "truncated");
  const tiny = Icmpv6Repr.parse(new Icmpv6Packet(bytes, 40, 3), ip.src, ip.dst);
  assert.ok(isWireError(tiny) && tiny.code === "truncated");
  const outside = Icmpv6Repr.parse(new Icmpv6Packet(bytes, 40, 100), ip.src, ip.dst);
  assert.ok(isWireError(outside) && outside.code === "truncated");
});
