/**
 * Golden-bytes tests: frames built by scapy (tests/fixtures/wire/make_packets.py) are decoded and
 * compared with scapy's own decoding of the same bytes, then re-emitted from our reprs and compared
 * byte for byte.
 */
import assert from "node:assert/strict";
import scapyFixtures from "../fixtures/wire/packets.json" with { type: "json" };
import linuxFixtures from "../fixtures/wire/linux_packets.json" with { type: "json" };
import { formatIpv4, formatMac } from "../../stack/wire/address.ts";
import { foldSum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { ArpPacket } from "../../stack/wire/arp.ts";
import { WireError } from "../../stack/wire/error.ts";
import { EthernetFrame } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet } from "../../stack/wire/icmpv4.ts";
import { Ipv4Packet } from "../../stack/wire/ipv4.ts";
import { UdpPacket } from "../../stack/wire/udp.ts";
import { decodeFrame } from "./decode.ts";

// deno-lint-ignore no-explicit-any
type Fields = Record<string, any>;

function hex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const fixtures = [...scapyFixtures.packets, ...linuxFixtures.packets];

function decoded(name: string) {
  const fixture = fixtures.find((p) => p.name === name);
  assert.ok(fixture, name);
  const bytes = hex(fixture.hex);
  const partial = "txChecksumPartial" in fixture && fixture.txChecksumPartial === true;
  const result = decodeFrame(bytes, 0, bytes.length, !partial);
  assert.ok(!(result instanceof WireError), `${name}: ${result}`);
  return { bytes, result, fields: fixture.fields as Fields, partial };
}

assert.ok(scapyFixtures.packets.length >= 18 && linuxFixtures.packets.length >= 10);

for (const fixture of fixtures) {
  Deno.test(`golden ${fixture.name}: decodes as scapy does and re-emits the same bytes`, () => {
    const { bytes, result, fields, partial } = decoded(fixture.name);

    assert.equal(formatMac(result.eth.dst), fields.eth.dst);
    assert.equal(formatMac(result.eth.src), fields.eth.src);
    assert.equal(result.eth.etherType, fields.eth.etherType);
    assert.equal(result.eth.vlanId, fields.eth.vlan);
    if (fields.eth.vlan !== undefined) {
      assert.equal(result.eth.vlanPcp, fields.eth.pcp);
      assert.equal(result.eth.vlanDei, fields.eth.dei === 1);
    }
    const ethOut = new Uint8Array(result.eth.headerLength);
    result.eth.emit(new EthernetFrame(ethOut));
    assert.deepEqual(ethOut, bytes.subarray(0, ethOut.length));

    if (fields.arp) {
      const arp = result.arp!;
      assert.equal(arp.operation, fields.arp.op);
      assert.equal(formatMac(arp.senderMac), fields.arp.hwsrc);
      assert.equal(formatIpv4(arp.senderIp), fields.arp.psrc);
      assert.equal(formatMac(arp.targetMac), fields.arp.hwdst);
      assert.equal(formatIpv4(arp.targetIp), fields.arp.pdst);
      const [at] = result.regions.arp;
      const out = new Uint8Array(28);
      arp.emit(new ArpPacket(out));
      assert.deepEqual(out, bytes.subarray(at, at + 28));
    } else {
      assert.equal(result.arp, undefined);
    }

    if (fields.ip) {
      const ip = result.ip!;
      const [at] = result.regions.ip;
      const view = new Ipv4Packet(bytes, at, bytes.length - at);
      assert.equal(formatIpv4(ip.src), fields.ip.src);
      assert.equal(formatIpv4(ip.dst), fields.ip.dst);
      assert.equal(view.headerLength, fields.ip.ihl * 4);
      assert.equal((ip.dscp << 2) | ip.ecn, fields.ip.tos);
      assert.equal(view.totalLength, fields.ip.len);
      assert.equal(ip.payloadLength, fields.ip.len - fields.ip.ihl * 4);
      assert.equal(ip.ident, fields.ip.id);
      assert.equal(ip.dontFragment, fields.ip.df);
      assert.equal(ip.moreFragments, fields.ip.mf);
      assert.equal(ip.fragmentOffset, fields.ip.frag * 8);
      assert.equal(ip.ttl, fields.ip.ttl);
      assert.equal(ip.protocol, fields.ip.proto);
      assert.equal(view.checksum, fields.ip.chksum);
      if (fields.ip.ihl === 5) {
        const out = new Uint8Array(20);
        ip.emit(new Ipv4Packet(out));
        assert.deepEqual(out, bytes.subarray(at, at + 20));
      }
    }

    if (fields.icmp) {
      const icmp = result.icmp!;
      const [at, length] = result.regions.icmp;
      assert.equal(icmp.type, fields.icmp.type);
      assert.equal(icmp.code, fields.icmp.code);
      assert.equal(length, fields.icmp.len);
      assert.equal(new Icmpv4Packet(bytes, at, length).checksum, fields.icmp.chksum);
      if (icmp.type === 0 || icmp.type === 8) {
        assert.equal(icmp.ident, fields.icmp.id);
        assert.equal(icmp.seq, fields.icmp.seq);
      }
      if (fields.icmp.nexthopmtu !== null) assert.equal(icmp.nextHopMtu, fields.icmp.nexthopmtu);
      if (fields.icmp.quoted) {
        const quote = new Ipv4Packet(bytes, icmp.dataOffset, icmp.dataLength);
        assert.equal(formatIpv4(quote.src), fields.icmp.quoted.src);
        assert.equal(formatIpv4(quote.dst), fields.icmp.quoted.dst);
        assert.equal(quote.protocol, fields.icmp.quoted.proto);
        assert.equal(icmp.quotedHeaderLength, fields.icmp.quoted.ihl * 4);
        assert.equal(formatIpv4(icmp.quotedSrc), fields.icmp.quoted.src);
        assert.equal(formatIpv4(icmp.quotedDst), fields.icmp.quoted.dst);
        assert.equal(icmp.quotedProtocol, fields.icmp.quoted.proto);
        assert.equal(icmp.quotedSrcPort, fields.icmp.quoted.sport);
        assert.equal(icmp.quotedDstPort, fields.icmp.quoted.dport);
      }
      const out = new Uint8Array(length);
      out.set(bytes.subarray(icmp.dataOffset, icmp.dataOffset + icmp.dataLength), 8);
      icmp.emit(new Icmpv4Packet(out));
      assert.deepEqual(out, bytes.subarray(at, at + length));
    }

    if (fields.udp) {
      const udp = result.udp!;
      const ip = result.ip!;
      const [at] = result.regions.udp;
      assert.equal(udp.srcPort, fields.udp.sport);
      assert.equal(udp.dstPort, fields.udp.dport);
      assert.equal(udp.payloadLength + 8, fields.udp.len);
      assert.equal(new UdpPacket(bytes, at, fields.udp.len).checksum, fields.udp.chksum);
      const out = new Uint8Array(fields.udp.len);
      out.set(bytes.subarray(udp.payloadOffset, udp.payloadOffset + udp.payloadLength), 8);
      const mode = partial ? "pseudo" : fields.udp.chksum === 0 ? "none" : "full";
      udp.emit(new UdpPacket(out), ip.src, ip.dst, mode);
      assert.deepEqual(out, bytes.subarray(at, at + fields.udp.len));
    }

    if (fields.tcp && partial) {
      // Linux left the folded pseudo-header sum for the NIC, exactly what offloaded emit writes.
      const [at, length] = result.regions.ip;
      const ip = new Ipv4Packet(bytes, at, length);
      assert.equal(
        fields.tcp.chksum,
        foldSum(pseudoHeaderSum(ip.src, ip.dst, ip.protocol, ip.payloadLength)),
      );
    } else if (fields.tcp) {
      assert.equal(result.tcpChecksumOk, true);
    }
  });
}

Deno.test("golden Linux captures include offloaded (pseudo-sum) UDP and TCP checksums", () => {
  const partial = linuxFixtures.packets.filter((p) => "txChecksumPartial" in p);
  assert.ok(partial.some((p) => "udp" in p.fields) && partial.some((p) => "tcp" in p.fields));
});

Deno.test("golden udp_padded: Ethernet padding is not UDP payload", () => {
  const { bytes, result } = decoded("udp_padded");
  assert.equal(bytes.length, 60);
  assert.equal(result.udp!.payloadLength, 3);
  assert.equal(result.ip!.payloadLength, 11);
});

Deno.test("golden udp_zero_sum: a computed zero is on the wire as 0xffff and verifies", () => {
  const { result, fields } = decoded("udp_zero_sum");
  assert.equal(fields.udp.chksum, 0xffff);
  assert.ok(result.udp);
});

Deno.test("golden ipv4_options_udp: the UDP header starts after the options", () => {
  const { result } = decoded("ipv4_options_udp");
  assert.deepEqual(result.regions.udp, [14 + 24, 15]);
});

Deno.test("golden fragments: offsets and flags, no transport parse", () => {
  const first = decoded("ipv4_first_fragment").result;
  const last = decoded("ipv4_last_fragment").result;
  assert.ok(first.ip!.moreFragments && first.ip!.fragmentOffset === 0);
  assert.ok(!last.ip!.moreFragments && last.ip!.fragmentOffset === 2960);
  assert.equal(first.udp, undefined);
  assert.equal(first.ip!.ident, last.ip!.ident);
});

Deno.test("golden frames with one flipped bit fail a checksum or parse differently", () => {
  for (const name of ["icmp_echo_request", "udp_dns_query", "tcp_syn"]) {
    const { bytes } = decoded(name);
    // Flip each bit of the IP header and beyond; none may throw, and a flip inside a checksummed
    // region must be caught by a checksum (or make the header inconsistent).
    for (let bit = 14 * 8; bit < bytes.length * 8; bit++) {
      bytes[bit >>> 3] ^= 1 << (bit & 7);
      const result = decodeFrame(bytes);
      const caught = result instanceof WireError || result.tcpChecksumOk === false ||
        result.ip?.protocol !== decoded(name).result.ip!.protocol;
      assert.ok(caught, `${name} bit ${bit}`);
      bytes[bit >>> 3] ^= 1 << (bit & 7);
    }
  }
});
