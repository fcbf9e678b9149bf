/**
 * Whole-frame round trips: frames built with every emitter (Ethernet, optional VLAN tag, IPv4, then
 * ICMPv4, UDP or ARP) decode back to the same reprs through the chained receive views.
 */
import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { ArpOperation, ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { WireError } from "../../stack/wire/error.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet, Icmpv4Repr, Icmpv4Type } from "../../stack/wire/icmpv4.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { UdpPacket, UdpRepr } from "../../stack/wire/udp.ts";
import { decodeFrame } from "./decode.ts";

const rng = new Rng(2026);

function randomMac(): number {
  return rng.below(0x10000) * 0x1_0000_0000 + rng.nextU32();
}

function ethernet(etherType: number): EthernetRepr {
  const tagged = rng.below(2) === 1;
  return Object.assign(new EthernetRepr(), {
    src: randomMac(),
    dst: randomMac(),
    etherType,
    vlanId: tagged ? rng.below(4095) : undefined,
    vlanPcp: tagged ? rng.below(8) : 0,
    vlanDei: tagged ? rng.below(2) === 1 : false,
  });
}

function ipv4(protocol: number, payloadLength: number): Ipv4Repr {
  return Object.assign(new Ipv4Repr(), {
    src: rng.nextU32(),
    dst: rng.nextU32(),
    protocol,
    payloadLength,
    ttl: 1 + rng.below(255),
    dscp: rng.below(64),
    ecn: rng.below(4),
    ident: rng.below(65536),
    dontFragment: rng.below(2) === 1,
  });
}

Deno.test("Ethernet/IPv4/UDP frames round-trip, with and without VLAN tags and padding", () => {
  for (let i = 0; i < 300; i++) {
    const payloadLength = rng.below(200);
    const udp = Object.assign(new UdpRepr(), {
      srcPort: rng.below(65536),
      dstPort: 1 + rng.below(65535),
      payloadLength,
    });
    const ip = ipv4(IpProtocol.Udp, udp.bufferLength());
    const eth = ethernet(EtherType.Ipv4);
    const padding = rng.below(3) === 0 ? rng.below(40) : 0;
    const bytes = new Uint8Array(eth.bufferLength(ip.bufferLength()) + padding);
    rng.fill(bytes); // stale buffer contents must not leak into the decode

    const ethView = new EthernetFrame(bytes);
    eth.emit(ethView);
    const ipView = new Ipv4Packet(bytes, ethView.payloadOffset, ip.bufferLength());
    const udpView = new UdpPacket(bytes, ipView.offset + ip.headerLength, udp.bufferLength());
    ip.emit(ipView);
    udp.emit(udpView, ip.src, ip.dst, "full");

    const decoded = decodeFrame(bytes);
    assert.ok(!(decoded instanceof WireError), `frame ${i}: ${decoded}`);
    assert.deepEqual(decoded.eth, eth);
    ip.payloadOffset = ipView.payloadOffset;
    assert.deepEqual(decoded.ip, ip);
    udp.payloadOffset = udpView.payloadOffset;
    assert.deepEqual(decoded.udp, udp);
  }
});

Deno.test("Ethernet/IPv4/ICMPv4 echo frames round-trip", () => {
  for (let i = 0; i < 200; i++) {
    const dataLength = rng.below(100);
    const icmp = Object.assign(new Icmpv4Repr(), {
      type: rng.below(2) === 0 ? Icmpv4Type.EchoRequest : Icmpv4Type.EchoReply,
      ident: rng.below(65536),
      seq: rng.below(65536),
      dataLength,
    });
    const ip = ipv4(IpProtocol.Icmp, icmp.bufferLength());
    const eth = ethernet(EtherType.Ipv4);
    const bytes = new Uint8Array(eth.bufferLength(ip.bufferLength()));
    const ethView = new EthernetFrame(bytes);
    eth.emit(ethView);
    const ipView = new Ipv4Packet(bytes, ethView.payloadOffset, ip.bufferLength());
    ip.emit(ipView);
    const icmpView = new Icmpv4Packet(bytes, ipView.payloadOffset, icmp.bufferLength());
    rng.fill(bytes.subarray(icmpView.payloadOffset, icmpView.payloadOffset + dataLength));
    icmp.emit(icmpView);

    const decoded = decodeFrame(bytes);
    assert.ok(!(decoded instanceof WireError), `frame ${i}: ${decoded}`);
    assert.equal(decoded.icmp!.type, icmp.type);
    assert.equal(decoded.icmp!.ident, icmp.ident);
    assert.equal(decoded.icmp!.seq, icmp.seq);
    assert.equal(decoded.icmp!.dataOffset, icmpView.payloadOffset);
    assert.equal(decoded.icmp!.dataLength, dataLength);
  }
});

Deno.test("Ethernet/ARP frames round-trip", () => {
  for (let i = 0; i < 100; i++) {
    const arp = Object.assign(new ArpRepr(), {
      operation: rng.below(2) === 0 ? ArpOperation.Request : ArpOperation.Reply,
      senderMac: randomMac(),
      senderIp: rng.nextU32(),
      targetMac: randomMac(),
      targetIp: rng.nextU32(),
    });
    const eth = ethernet(EtherType.Arp);
    const bytes = new Uint8Array(Math.max(60, eth.bufferLength(arp.bufferLength())));
    const ethView = new EthernetFrame(bytes);
    eth.emit(ethView);
    arp.emit(new ArpPacket(bytes, ethView.payloadOffset, arp.bufferLength()));
    const decoded = decodeFrame(bytes);
    assert.ok(!(decoded instanceof WireError));
    assert.deepEqual(decoded.eth, eth);
    assert.deepEqual(decoded.arp, arp);
  }
});
