/**
 * Test helper: decodes one Ethernet frame through every wire layer (Ethernet → ARP | IPv4 → ICMPv4 |
 * UDP | TCP checksum), the way the receive path chains views, and returns the reprs or the first
 * WireError. Used by the golden, malformed-input and fuzz tests.
 *
 * @module
 */

import { ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { WireError } from "../../stack/wire/error.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet, Icmpv4Repr } from "../../stack/wire/icmpv4.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { UdpPacket, UdpRepr } from "../../stack/wire/udp.ts";

/** What `decodeFrame` found in a frame. */
export interface Decoded {
  eth: EthernetRepr;
  arp?: ArpRepr;
  ip?: Ipv4Repr;
  icmp?: Icmpv4Repr;
  udp?: UdpRepr;
  /** For TCP: whether the checksum over the pseudo-header verified. */
  tcpChecksumOk?: boolean;
  /** The region each layer's view covered, as [offset, length] in the frame's bytes. */
  regions: Record<string, [number, number]>;
}

/**
 * Decodes a frame through every layer; returns the first layer's error, never throws. With
 * `verifyTransport` false, UDP and TCP checksums are not checked (frames captured on the sending side
 * of a link with checksum offload carry only the pseudo-header sum).
 */
export function decodeFrame(
  bytes: Uint8Array,
  offset = 0,
  length = bytes.length,
  verifyTransport = true,
): Decoded | WireError {
  const ethView = new EthernetFrame(bytes, offset, length);
  const eth = EthernetRepr.parse(ethView);
  if (eth instanceof WireError) return eth;
  const out: Decoded = { eth, regions: { eth: [offset, length] } };
  const payloadOffset = ethView.payloadOffset;
  const payloadLength = ethView.payloadLength;
  if (eth.etherType === EtherType.Arp) {
    const arp = ArpRepr.parse(new ArpPacket(bytes, payloadOffset, payloadLength));
    if (arp instanceof WireError) return arp;
    out.arp = arp;
    out.regions.arp = [payloadOffset, payloadLength];
    return out;
  }
  if (eth.etherType !== EtherType.Ipv4) return out;
  const ipView = new Ipv4Packet(bytes, payloadOffset, payloadLength);
  const ip = Ipv4Repr.parse(ipView);
  if (ip instanceof WireError) return ip;
  out.ip = ip;
  out.regions.ip = [payloadOffset, payloadLength];
  // A fragment's payload is not a whole transport segment: reassembly comes first.
  if (ipView.isFragment) return out;
  const segment: [number, number] = [ipView.payloadOffset, ipView.payloadLength];
  if (ip.protocol === IpProtocol.Icmp) {
    const icmp = Icmpv4Repr.parse(new Icmpv4Packet(bytes, ...segment));
    if (icmp instanceof WireError) return icmp;
    out.icmp = icmp;
    out.regions.icmp = segment;
  } else if (ip.protocol === IpProtocol.Udp) {
    const udp = UdpRepr.parse(new UdpPacket(bytes, ...segment), ip.src, ip.dst, verifyTransport);
    if (udp instanceof WireError) return udp;
    out.udp = udp;
    out.regions.udp = segment;
  } else if (ip.protocol === IpProtocol.Tcp && verifyTransport) {
    const initial = pseudoHeaderSum(ip.src, ip.dst, IpProtocol.Tcp, segment[1]);
    out.tcpChecksumOk = internetChecksum(bytes, segment[0], segment[1], initial) === 0;
  }
  return out;
}
