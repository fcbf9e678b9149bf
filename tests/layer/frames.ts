/**
 * Test helpers that build raw frames with the wire reprs, to inject crafted or broken packets into a
 * stack through the NIC at the other end of the cable.
 *
 * @module
 */

import type { Nic } from "../../stack/nic/nic.ts";
import { ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { UdpPacket, UdpRepr } from "../../stack/wire/udp.ts";

/** Builds an Ethernet frame around `payload`. */
export function ethFrame(
  header: { dst: number; src: number; etherType: number; vlanId?: number },
  payload: Uint8Array,
): Uint8Array {
  const repr = new EthernetRepr();
  repr.dst = header.dst;
  repr.src = header.src;
  repr.etherType = header.etherType;
  repr.vlanId = header.vlanId;
  const bytes = new Uint8Array(Math.max(60, repr.bufferLength(payload.length)));
  repr.emit(new EthernetFrame(bytes));
  bytes.set(payload, repr.headerLength);
  return bytes;
}

/** Builds an IPv4 datagram (header checksum filled) around `payload`. */
export function ipv4Datagram(
  fields: Partial<Ipv4Repr> & { src: number; dst: number },
  payload: Uint8Array,
): Uint8Array {
  const repr = Object.assign(new Ipv4Repr(), { protocol: IpProtocol.Udp }, fields);
  repr.payloadLength = payload.length;
  const bytes = new Uint8Array(repr.bufferLength());
  repr.emit(new Ipv4Packet(bytes));
  bytes.set(payload, repr.headerLength);
  return bytes;
}

/** Builds a UDP datagram with a valid checksum. */
export function udpDatagram(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): Uint8Array {
  const repr = new UdpRepr();
  repr.srcPort = srcPort;
  repr.dstPort = dstPort;
  repr.payloadLength = payload.length;
  const bytes = new Uint8Array(repr.bufferLength());
  bytes.set(payload, 8);
  repr.emit(new UdpPacket(bytes), src, dst, "full");
  return bytes;
}

/** Builds an ARP packet. */
export function arpPacket(fields: Partial<ArpRepr>): Uint8Array {
  const repr = Object.assign(new ArpRepr(), fields);
  const bytes = new Uint8Array(28);
  repr.emit(new ArpPacket(bytes));
  return bytes;
}

/** Sends `frame` through `nic` as is (to the stack at the other end). */
export function inject(nic: Nic, now: number, frame: Uint8Array): void {
  const sent = nic.send(now, frame.length, (bytes, offset) => bytes.set(frame, offset));
  if (!sent) throw new Error("Cannot inject a frame: the link is full");
}

export { EtherType, IpProtocol };
