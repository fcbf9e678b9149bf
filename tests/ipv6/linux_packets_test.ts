/**
 * Our IPv6 parsers against frames Linux itself sent (tests/fixtures/ipv6/capture_linux.py): MLDv2
 * reports, DAD and resolution solicitations, advertisements, radvd's router advertisements, echoes, a
 * 3000-byte echo in three fragments that our reassembler rebuilds, and UDP. Fields are compared with
 * scapy's decoding of the same bytes.
 */

import assert from "node:assert/strict";
import fixtures from "../fixtures/ipv6/linux_packets.json" with { type: "json" };
import { Ipv6Reassembler } from "../../stack/layer/ipv6/reassembly.ts";
import { formatMac } from "../../stack/wire/address.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { isWireError } from "../../stack/wire/error.ts";
import { Icmpv6Packet, Icmpv6Repr } from "../../stack/wire/icmpv6.ts";
import { Ipv6FragmentHeader, Ipv6FragmentRepr, scanOptions } from "../../stack/wire/ipv6_ext.ts";
import { Ipv6Packet, Ipv6Repr } from "../../stack/wire/ipv6.ts";
import { MldReportRepr } from "../../stack/wire/mld.ts";
import { NdpRepr } from "../../stack/wire/ndp.ts";

type Fields = Record<string, unknown>;

const packets = fixtures.packets.map((p) => ({
  name: p.name,
  kind: p.kind,
  fields: p.fields as Fields,
  ip: new Ipv6Packet(Uint8Array.from(p.hex.match(/../g)!.map((h) => parseInt(h, 16))), 14),
}));

/** The ICMPv6 message of a packet, after a hop-by-hop header if there is one. */
function icmp(ip: Ipv6Packet): Icmpv6Packet {
  let at = ip.payloadOffset;
  if (ip.nextHeader === 0) {
    const scan = scanOptions(ip.bytes, at, (ip.bytes[at + 1] + 1) * 8);
    assert.deepEqual(scan, { kind: "ok", routerAlert: 0 }); // MLD's router alert
    at += (ip.bytes[at + 1] + 1) * 8;
  }
  const view = new Icmpv6Packet(ip.bytes, at, ip.payloadOffset + ip.payloadLength - at);
  assert.ok(view.verifyChecksum(ip.src, ip.dst));
  return view;
}

Deno.test("linux ipv6: every captured header parses as scapy decodes it", () => {
  assert.ok(packets.length >= 15);
  for (const p of packets) {
    const repr = Ipv6Repr.parse(p.ip);
    assert.ok(!isWireError(repr), p.name);
    assert.equal(repr.src.toString(), p.fields.src, p.name);
    assert.equal(repr.dst.toString(), p.fields.dst, p.name);
    assert.equal(repr.nextHeader, p.fields.nh, p.name);
    assert.equal(repr.hopLimit, p.fields.hlim, p.name);
    assert.equal(repr.payloadLength, p.fields.plen, p.name);
  }
});

Deno.test("linux ipv6: NDP messages and MLDv2 reports decode with their options", () => {
  const kinds = new Set<string>();
  for (const p of packets) {
    const f = p.fields;
    if (["ns", "na", "rs", "ra"].includes(p.kind)) {
      kinds.add(p.kind);
      const repr = NdpRepr.parse(icmp(p.ip));
      assert.ok(!isWireError(repr), p.name);
      assert.equal(repr.type, f.icmpType);
      if (f.target !== undefined) assert.equal(repr.target.toString(), f.target, p.name);
      const mac = (m: number | undefined) => (m === undefined ? undefined : formatMac(m));
      if (f.sourceMac !== undefined) assert.equal(mac(repr.sourceMac), f.sourceMac, p.name);
      if (f.targetMac !== undefined) assert.equal(mac(repr.targetMac), f.targetMac, p.name);
      if (p.kind === "na") {
        assert.deepEqual([repr.router, repr.solicited, repr.override], [
          f.router,
          f.solicited,
          f.override,
        ]);
      }
      if (p.kind === "ra") {
        assert.equal(repr.curHopLimit, f.curHopLimit);
        assert.equal(repr.routerLifetime, f.routerLifetime);
        assert.equal(repr.prefixes[0].prefix.toString(), f.prefix);
        assert.equal(repr.prefixes[0].prefixLength, f.prefixLength);
        assert.equal(repr.prefixes[0].validLifetime, f.validLifetime);
        assert.equal(repr.prefixes[0].preferredLifetime, f.preferredLifetime);
      }
    } else if (p.kind === "mld_report") {
      kinds.add(p.kind);
      const repr = MldReportRepr.parse(icmp(p.ip));
      assert.ok(!isWireError(repr), p.name);
      assert.deepEqual(
        repr.records.map((r) => r.group.toString()).sort(),
        (f.groups as string[]).sort(),
      );
    } else if (p.kind === "echo") {
      kinds.add(p.kind);
      const view = icmp(p.ip);
      const repr = Icmpv6Repr.parse(view, p.ip.src, p.ip.dst) as Icmpv6Repr;
      assert.deepEqual([repr.type, repr.ident, repr.seq, repr.dataLength], [
        f.icmpType,
        f.ident,
        f.seq,
        f.dataLength,
      ]);
    }
  }
  assert.deepEqual([...kinds].sort(), ["echo", "mld_report", "na", "ns", "ra", "rs"]);
});

Deno.test("linux ipv6: the three fragments of a 3000-byte ping reassemble into a valid echo", () => {
  const frags = packets.filter((p) =>
    p.kind === "fragment" &&
    p.fields.ident === packets.find((q) => q.kind === "fragment")!.fields.ident
  );
  assert.equal(frags.length, 3);
  const r = new Ipv6Reassembler();
  let done;
  for (const p of [frags[2], frags[0], frags[1]]) {
    const at = p.ip.payloadOffset;
    const repr = Ipv6FragmentRepr.parse(new Ipv6FragmentHeader(p.ip.bytes, at));
    assert.equal(repr.fragmentOffset, p.fields.fragOffset);
    assert.equal(repr.moreFragments, p.fields.more);
    assert.equal(repr.ident, p.fields.ident);
    done = r.add(
      "k",
      { bytes: p.ip.bytes, offset: p.ip.offset },
      repr.nextHeader,
      repr.fragmentOffset,
      repr.moreFragments,
      {
        bytes: p.ip.bytes,
        offset: at + 8,
        length: p.ip.payloadOffset + p.ip.payloadLength - at - 8,
      },
      0,
    );
  }
  assert.ok(done !== undefined);
  const whole = new Ipv6Packet(done.bytes, 0, done.length);
  assert.equal(whole.check(), undefined);
  assert.equal(whole.nextHeader, 58);
  const echo = Icmpv6Repr.parse(
    new Icmpv6Packet(done.bytes, 40, done.length - 40),
    whole.src,
    whole.dst,
  );
  assert.ok(!isWireError(echo));
  assert.equal(echo.type, 128);
  assert.equal(echo.dataLength, 3000);
});

Deno.test("linux ipv6: a UDP datagram's checksum verifies over the IPv6 pseudo-header", () => {
  const p = packets.find((x) => x.kind === "udp")!;
  const length = p.ip.payloadLength;
  assert.equal(
    internetChecksum(p.ip.bytes, p.ip.payloadOffset, length, p.ip.pseudoHeaderSum(17, length)),
    0,
  );
  assert.equal(
    (p.ip.bytes[p.ip.payloadOffset + 2] << 8) | p.ip.bytes[p.ip.payloadOffset + 3],
    p.fields.dport,
  );
});
