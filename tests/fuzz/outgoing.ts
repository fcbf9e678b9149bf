/**
 * Checks a frame the stack sent: whatever it received, the stack must only ever emit well-formed
 * frames (valid lengths and checksums at every layer), and never from or to nonsense addresses.
 *
 * @module
 */

import { formatIpv4 } from "../../stack/wire/address.ts";
import { ArpPacket } from "../../stack/wire/arp.ts";
import { EthernetFrame, EtherType } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet } from "../../stack/wire/icmpv4.ts";
import { IpProtocol, Ipv4Packet } from "../../stack/wire/ipv4.ts";
import { TcpPacket } from "../../stack/wire/tcp.ts";
import { UdpPacket } from "../../stack/wire/udp.ts";

const IPV6_ETHERTYPE = 0x86dd;
const eth = new EthernetFrame();
const ip = new Ipv4Packet();
const tcp = new TcpPacket();
const udp = new UdpPacket();
const icmp = new Icmpv4Packet();
const arp = new ArpPacket();

/**
 * Returns why `bytes[0 .. length)` is not a well-formed outgoing frame, or undefined when it is; with
 * `ownAddress`, IPv4 datagrams must come from that address.
 */
export function checkOutgoing(
  bytes: Uint8Array,
  length: number,
  ownAddress?: number,
): string | undefined {
  const e = eth.wrap(bytes, 0, length).check();
  if (e !== undefined) return `outgoing Ethernet: ${e.message}`;
  const type = eth.payloadType;
  const at = eth.payloadOffset;
  const rest = length - at;
  if (type === EtherType.Arp) {
    const a = arp.wrap(bytes, at, rest).check();
    return a === undefined ? undefined : `outgoing ARP: ${a.message}`;
  }
  if (type === IPV6_ETHERTYPE) {
    // IPv6 (neighbour discovery and the like): the fixed header must be whole and consistent.
    if (rest < 40 || bytes[at] >>> 4 !== 6) return "outgoing IPv6: bad fixed header";
    const payloadLength = (bytes[at + 4] << 8) | bytes[at + 5];
    return 40 + payloadLength <= rest
      ? undefined
      : "outgoing IPv6: payload length beyond the frame";
  }
  if (type !== EtherType.Ipv4) return `outgoing EtherType 0x${type.toString(16)}`;
  const i = ip.wrap(bytes, at, rest).check();
  if (i !== undefined) return `outgoing IPv4: ${i.message}`;
  if (!ip.verifyChecksum()) return "outgoing IPv4: bad header checksum";
  if (ip.src === 0 || (ownAddress !== undefined && ip.src !== ownAddress)) {
    return `outgoing IPv4: source ${formatIpv4(ip.src)} (protocol ${ip.protocol})`;
  }
  if (ip.moreFragments || ip.fragmentOffset !== 0) return undefined; // checked once reassembled
  const off = ip.payloadOffset;
  const len = ip.payloadLength;
  switch (ip.protocol) {
    case IpProtocol.Tcp: {
      const t = tcp.wrap(bytes, off, len).check();
      if (t !== undefined) return `outgoing TCP: ${t.message}`;
      if (!tcp.verifyChecksum(ip.src, ip.dst)) return "outgoing TCP: bad checksum";
      if (tcp.srcPort === 0 || tcp.dstPort === 0) return "outgoing TCP: port 0";
      return undefined;
    }
    case IpProtocol.Udp: {
      const u = udp.wrap(bytes, off, len).check();
      if (u !== undefined) return `outgoing UDP: ${u.message}`;
      if (!udp.verifyChecksum(ip.src, ip.dst)) return "outgoing UDP: bad checksum";
      return undefined;
    }
    case IpProtocol.Icmp: {
      const c = icmp.wrap(bytes, off, len).check();
      if (c !== undefined) return `outgoing ICMP: ${c.message}`;
      if (!icmp.verifyChecksum()) return "outgoing ICMP: bad checksum";
      return undefined;
    }
    default:
      return `outgoing IPv4 protocol ${ip.protocol}`;
  }
}
