/**
 * UDP over IPv6 (RFC 768 with RFC 8200 §8.1): checks datagrams against the IPv6 pseudo-header, where a
 * zero checksum is invalid, and delivers them to the same port handlers as IPv4 (one port space: dual
 * stack), with the addresses in `src6`/`dst6`. Datagrams to closed ports earn an ICMPv6 port
 * unreachable. Sends take an IPv6 destination and write the payload with one copy.
 *
 * @module
 */

import { internetChecksum } from "../../wire/checksum.ts";
import { Icmpv6Type, Icmpv6Unreachable } from "../../wire/icmpv6.ts";
import type { Ipv6Address } from "../../wire/ipv6_address.ts";
import { ipv6PseudoHeaderSum } from "../../wire/ipv6.ts";
import { UDP_HEADER_LENGTH, UDP_PROTOCOL, UdpPacket } from "../../wire/udp.ts";
import type { SendResult } from "../handler.ts";
import { countWireError, newLayerStats } from "../stats.ts";
import type { UdpFill, UdpIncoming } from "../udp/endpoint.ts";
import { UdpPayload } from "../udp/payload.ts";
import type { Ipv6Incoming, Ipv6TransportHandler } from "./contract.ts";
import type { Ipv6Endpoint } from "./endpoint.ts";

/** Where datagrams go: the UDP endpoint's port table. */
export interface UdpPorts {
  /** Hands `datagram` to the handler of its destination port; false when the port is closed. */
  deliver(datagram: UdpIncoming, now: number): boolean;
}

/** The largest UDP payload in one IPv6 packet without a jumbogram. */
const MAX_PAYLOAD = 65535 - UDP_HEADER_LENGTH;

/** UDP over one IPv6 endpoint. */
export class Udp6 implements Ipv6TransportHandler {
  /** Counters. */
  readonly stats = newLayerStats("rxDelivered", "dropNoPort", "dropTooBig", "txBusy");
  #ip: Ipv6Endpoint;
  #ports: UdpPorts;
  #rxVerified: boolean;
  #view = new UdpPacket();
  #txView = new UdpPacket();
  #incoming: UdpIncoming = {
    src: 0,
    srcPort: 0,
    dst: 0,
    dstPort: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
  };
  #srcPort = 0;
  #dstPort = 0;
  #length = 0;
  #payload = new UdpPayload();
  #fill: (bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address) => void;

  /** Creates UDP over `ip`, delivering to `ports`, and registers it for next header 17. */
  constructor(ip: Ipv6Endpoint, ports: UdpPorts, options: { rxChecksumVerified?: boolean } = {}) {
    this.#ip = ip;
    this.#ports = ports;
    this.#rxVerified = options.rxChecksumVerified ?? false;
    this.#fill = (bytes, offset, src, dst) => this.#write(bytes, offset, src, dst);
    ip.register(UDP_PROTOCOL, this);
  }

  /** Handles one datagram. */
  receive(packet: Ipv6Incoming, now: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    const view = this.#view.wrap(packet.bytes, packet.offset, packet.length);
    const error = view.check();
    if (error !== undefined) {
      countWireError(stats, error);
      return;
    }
    if (view.dstPort === 0) {
      stats.dropMalformed++;
      return;
    }
    if (!this.#rxVerified) {
      // RFC 8200 §8.1: the checksum is mandatory over IPv6, so zero is as bad as a wrong one.
      const length = view.datagramLength;
      const initial = ipv6PseudoHeaderSum(packet.src, packet.dst, UDP_PROTOCOL, length);
      if (view.checksum === 0 || internetChecksum(view.bytes, view.offset, length, initial) !== 0) {
        stats.dropChecksum++;
        return;
      }
    }
    const incoming = this.#incoming;
    incoming.src6 = packet.src;
    incoming.dst6 = packet.dst;
    incoming.srcPort = view.srcPort;
    incoming.dstPort = view.dstPort;
    incoming.bytes = view.bytes;
    incoming.offset = view.payloadOffset;
    incoming.length = view.payloadLength;
    if (!this.#ports.deliver(incoming, now)) {
      stats.dropNoPort++;
      if (!packet.dst.isMulticast) {
        this.#ip.icmp.sendError(
          Icmpv6Type.DestinationUnreachable,
          Icmpv6Unreachable.PortUnreachable,
          0,
          packet.packet,
          now,
          false,
        );
      }
      return;
    }
    stats.rxDelivered++;
  }

  /** Sends `data` as one datagram to `dst` (copied once, into the NIC buffer). */
  send(
    srcPort: number,
    dst: Ipv6Address,
    dstPort: number,
    data: Uint8Array,
    src?: Ipv6Address,
  ): SendResult {
    this.#payload.copy(data);
    const result = this.#send(srcPort, dst, dstPort, data.length, src);
    this.#payload.clear();
    return result;
  }

  /** Sends one datagram whose payload `fill` writes in place. */
  sendWith(
    srcPort: number,
    dst: Ipv6Address,
    dstPort: number,
    length: number,
    fill: UdpFill,
    src?: Ipv6Address,
  ): SendResult {
    this.#payload.fillWith(fill);
    const result = this.#send(srcPort, dst, dstPort, length, src);
    this.#payload.clear();
    return result;
  }

  #send(
    srcPort: number,
    dst: Ipv6Address,
    dstPort: number,
    length: number,
    src?: Ipv6Address,
  ): SendResult {
    if (length < 0 || length > MAX_PAYLOAD) {
      this.stats.dropTooBig++;
      return "unroutable";
    }
    this.#srcPort = srcPort & 0xffff;
    this.#dstPort = dstPort & 0xffff;
    this.#length = length;
    const result = this.#ip.send(dst, UDP_PROTOCOL, UDP_HEADER_LENGTH + length, this.#fill, src);
    if (result === "sent" || result === "queued") this.stats.txPackets++;
    else if (result === "busy") this.stats.txBusy++;
    return result;
  }

  #write(bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): void {
    this.#payload.write(bytes, offset + UDP_HEADER_LENGTH, this.#length);
    const length = UDP_HEADER_LENGTH + this.#length;
    const view = this.#txView.wrap(bytes, offset, length);
    view.srcPort = this.#srcPort;
    view.dstPort = this.#dstPort;
    view.datagramLength = length;
    view.checksum = 0;
    const sum = internetChecksum(
      bytes,
      offset,
      length,
      ipv6PseudoHeaderSum(src, dst, UDP_PROTOCOL, length),
    );
    // RFC 8200 §8.1: a computed zero is sent as all ones.
    view.checksum = sum === 0 ? 0xffff : sum;
  }
}
