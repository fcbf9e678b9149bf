/**
 * The IPv4 layer (RFC 791, host requirements from RFC 1122 §3.2.1): validates received datagrams
 * (header checksum, TTL, addresses), reassembles fragments, and hands each datagram to the transport
 * registered for its protocol. On send it picks a source address and a next hop from the route table,
 * resolves the next hop through ARP (queueing the datagram meanwhile), and fragments datagrams larger
 * than the MTU. Datagrams to the interface's own addresses are looped back on the next poll.
 *
 * @module
 */

import {
  formatIpv4,
  type Ipv4Cidr,
  isMulticastIpv4,
  MAC_BROADCAST,
  multicastMacForIpv4,
} from "../../wire/address.ts";
import { EtherType } from "../../wire/ethernet.ts";
import {
  IPV4_DEFAULT_TTL,
  IPV4_HEADER_LENGTH,
  IPV4_MAX_TOTAL_LENGTH,
  Ipv4Packet,
} from "../../wire/ipv4.ts";
import { Icmpv4TimeExceeded, Icmpv4Type, Icmpv4Unreachable } from "../../wire/icmpv4.ts";
import { Rng } from "../../util/rng.ts";
import { Logger } from "../../util/log.ts";
import type { ArpEndpoint } from "../arp/endpoint.ts";
import type { EthEndpoint, EthIncoming, EthRecv } from "../eth/endpoint.ts";
import {
  addHandler,
  runSenders,
  sendersPollAt,
  type SendHandler,
  type SendResult,
} from "../handler.ts";
import { countWireError, newLayerStats } from "../stats.ts";
import type {
  Ipv4ErrorSink,
  Ipv4Fill,
  Ipv4Incoming,
  Ipv4Sender,
  TransportHandler,
} from "./contract.ts";
import { Ipv4Addresses } from "./addresses.ts";
import { Ipv4Output, PendingDatagram } from "./output.ts";
import { type Reassembled, Reassembler } from "./reassembly.ts";
import type { RouteTable } from "./routes.ts";

export type { Ipv4ErrorSink, Ipv4Fill, Ipv4Incoming, Ipv4Sender, TransportHandler };
export { PendingDatagram };

const log = new Logger("ipv4");

/** 224.0.0.1, the all-hosts group every IPv4 host belongs to (RFC 1112 §4). */
const ALL_HOSTS = 0xe0000001;

/** Options of the IPv4 layer. */
export interface Ipv4Options {
  /** The interface's addresses with their prefixes (each adds a connected route). */
  addresses?: Ipv4Cidr[];
  /** The default gateway. */
  gateway?: number;
  /** TTL of sent datagrams (default 64). */
  defaultTtl?: number;
  /** Bytes all datagrams being reassembled may hold (default 1 MiB). */
  reassemblyBytes?: number;
  /** How long a fragmented datagram may take to complete (ms, default 30 000). */
  reassemblyTimeoutMs?: number;
  /** Datagrams reassembled at once (default 64). */
  reassemblyDatagrams?: number;
  /** Datagrams to own addresses waiting for the next poll (default 64). */
  loopbackQueue?: number;
  /** Seeds the identification counter. */
  rng?: Rng;
  /**
   * The stack's clock, read only by sends made outside `poll` (an app sending from a timer), so that
   * their frames carry the right time. Inside `poll` the `now` passed in is used.
   */
  clock?: () => number;
  /** The NIC's `tsoMaxBytes`: TCP datagrams up to that much payload go whole, unfragmented. */
  tsoMaxBytes?: number;
}

/** The IPv4 endpoint of an interface. */
export class Ipv4Endpoint implements EthRecv, Ipv4Sender {
  /** Counters. */
  readonly stats = newLayerStats(
    "rxDelivered",
    "dropTtl",
    "dropBadSource",
    "dropNotForUs",
    "dropNoProtocol",
    "rxFragments",
    "txFragments",
    "dropNoRoute",
    "dropNoSource",
    "dropTooBig",
    "txBusy",
    "txQueued",
    "dropArpFull",
    "dropUnresolved",
    "loopback",
    "dropLoopbackFull",
  );
  /** Fragment reassembly (its counters are in `reassembler.stats`). */
  readonly reassembler: Reassembler;
  /** Where ICMP errors go; the interface connects the ICMP endpoint. */
  errors: Ipv4ErrorSink | undefined;
  #arp: ArpEndpoint<PendingDatagram>;
  #own = new Ipv4Addresses();
  #eth: EthEndpoint;
  /** Multicast groups joined; 224.0.0.1 (all hosts) always (RFC 1112 §4). */
  #groups = new Set<number>();
  #output: Ipv4Output;
  #transports: (TransportHandler | undefined)[] = new Array(256).fill(undefined);
  #senders: SendHandler<Ipv4Sender>[] = [];
  #now = 0;
  #polling = false;
  #clock: (() => number) | undefined;
  #rxPacket = new Ipv4Packet();
  #reassembled = new Ipv4Packet();
  #incoming: Ipv4Incoming;
  #loopback: Uint8Array[] = [];
  #loopbackMax: number;

  /** Creates the layer and registers it with `eth` for EtherType 0x0800. */
  constructor(eth: EthEndpoint, arp: ArpEndpoint<PendingDatagram>, options: Ipv4Options = {}) {
    this.#arp = arp;
    this.#output = new Ipv4Output(eth, this.stats, (options.rng ?? Rng.fromCrypto()).nextU32());
    this.#output.ttl = options.defaultTtl ?? IPV4_DEFAULT_TTL;
    this.#output.tsoMaxBytes = options.tsoMaxBytes ?? 0;
    this.reassembler = new Reassembler({
      maxBytes: options.reassemblyBytes,
      timeoutMs: options.reassemblyTimeoutMs,
      maxDatagrams: options.reassemblyDatagrams,
    });
    this.#loopbackMax = options.loopbackQueue ?? 64;
    this.#clock = options.clock;
    this.#incoming = {
      src: 0,
      dst: 0,
      protocol: 0,
      ttl: 0,
      bytes: new Uint8Array(0),
      offset: 0,
      length: 0,
      packet: this.#rxPacket,
      broadcast: false,
    };
    for (const cidr of options.addresses ?? []) this.addAddress(cidr);
    if (options.gateway !== undefined) this.routes.setGateway(options.gateway);
    arp.onResolved = (_ip, mac, items, now) => this.#output.sendPending(mac, items, now);
    arp.onUnresolved = (_ip, items) => (this.stats.dropUnresolved += items.length);
    this.#eth = eth;
    this.joinGroup(ALL_HOSTS);
    eth.register(EtherType.Ipv4, this);
  }

  /** The largest IP payload sent without fragmentation. */
  get mtu(): number {
    return this.#output.mtu;
  }

  /** TTL of sent datagrams. */
  get ttl(): number {
    return this.#output.ttl;
  }
  set ttl(value: number) {
    this.#output.ttl = value;
  }

  /** The route table (connected routes for the own addresses, the default gateway). */
  get routes(): RouteTable {
    return this.#own.routes;
  }

  /** The own addresses with their prefixes. */
  get addresses(): readonly Ipv4Cidr[] {
    return this.#own.cidrs;
  }

  /** Adds an address and its connected route. */
  addAddress(cidr: Ipv4Cidr): void {
    this.#own.add(cidr);
  }

  /** Removes an address and its connected route (unless another address shares the network). */
  removeAddress(address: number): void {
    this.#own.remove(address);
  }

  /** Sets or clears the default gateway. */
  setGateway(gateway: number | undefined): void {
    this.#own.routes.setGateway(gateway);
  }

  /** True for an own address. */
  hasAddress(ip: number): boolean {
    return this.#own.has(ip);
  }

  /** The own addresses. */
  addressList(): readonly number[] {
    return this.#own.list();
  }

  /** True for the limited broadcast or the directed broadcast of an own network. */
  isBroadcast(ip: number): boolean {
    return this.#own.isBroadcast(ip);
  }

  /** The own address to send from towards `dst`, or undefined when the interface has none. */
  sourceFor(dst: number): number | undefined {
    return this.#own.sourceFor(dst);
  }

  /** Receives datagrams sent to the multicast `group` (no IGMP reports are sent). */
  joinGroup(group: number): void {
    group = group >>> 0;
    if (!isMulticastIpv4(group) || this.#groups.has(group)) return;
    this.#groups.add(group);
    this.#eth.join(multicastMacForIpv4(group));
  }

  /** Stops receiving datagrams sent to `group` (all hosts cannot be left). */
  leaveGroup(group: number): void {
    group = group >>> 0;
    if (group === ALL_HOSTS || !this.#groups.delete(group)) return;
    // Groups sharing the MAC (32 groups map to each, RFC 1112 §6.4) keep the filter open.
    const mac = multicastMacForIpv4(group);
    for (const other of this.#groups) if (multicastMacForIpv4(other) === mac) return;
    this.#eth.leave(mac);
  }

  /** True when datagrams to the multicast `group` are received. */
  inGroup(group: number): boolean {
    return this.#groups.has(group >>> 0);
  }

  /** Registers the transport of `protocol`; the returned function removes it. */
  register(protocol: number, handler: TransportHandler): () => void {
    this.#transports[protocol & 0xff] = handler;
    return () => {
      if (this.#transports[protocol & 0xff] === handler) {
        this.#transports[protocol & 0xff] = undefined;
      }
    };
  }

  /** Adds a Send handler called on every poll with this layer's sender; returns its remover. */
  addSender(handler: SendHandler<Ipv4Sender>): () => void {
    return addHandler(this.#senders, handler);
  }

  /** Handles one received datagram; never throws on bad input (drops and counts it). */
  receive(packet: EthIncoming, now: number): void {
    this.#now = now;
    const stats = this.stats;
    stats.rxPackets++;
    const ip = this.#rxPacket.wrap(packet.bytes, packet.offset, packet.length);
    const error = ip.check();
    if (error !== undefined) {
      countWireError(stats, error);
      return;
    }
    if (!ip.verifyChecksum()) {
      stats.dropChecksum++;
      return;
    }
    this.#input(ip, now);
  }

  /** Marks the start of an interface poll at `now`: sends until `leavePoll` use that time. */
  enterPoll(now: number): void {
    this.#now = now;
    this.#polling = true;
  }

  /** Marks the end of an interface poll: later sends read the clock, if one was given. */
  leavePoll(): void {
    this.#polling = false;
  }

  /** Runs reassembly timeouts, loopback delivery and the Send handlers; true when it did work. */
  poll(now: number): boolean {
    this.#now = now;
    let work = this.reassembler.poll(now, (d) => this.#reassemblyExpired(d, now));
    if (this.#loopback.length > 0) {
      work = true;
      // Datagrams looped back now wait for the next poll, so that a reply loop cannot spin here.
      const batch = this.#loopback;
      this.#loopback = [];
      for (const datagram of batch) {
        const ip = this.#rxPacket.wrap(datagram, 0, datagram.length);
        this.stats.rxPackets++;
        this.#input(ip, now);
      }
    }
    if (this.#senders.length > 0 && runSenders(this.#senders, this, now)) work = true;
    return work;
  }

  /** The next reassembly deadline, loopback delivery or Send handler deadline. */
  pollAt(now: number): number | undefined {
    let at = this.reassembler.pollAt();
    if (this.#loopback.length > 0) at = now;
    return sendersPollAt(this.#senders, now, at);
  }

  /** Sends one datagram (see `Ipv4Sender.send`). */
  send(
    dst: number,
    protocol: number,
    payloadLength: number,
    fill: Ipv4Fill,
    src?: number,
  ): SendResult {
    dst = dst >>> 0;
    if (!this.#polling && this.#clock !== undefined) this.#now = this.#clock();
    const now = this.#now;
    const stats = this.stats;
    if (payloadLength < 0 || IPV4_HEADER_LENGTH + payloadLength > IPV4_MAX_TOTAL_LENGTH) {
      stats.dropTooBig++;
      return "unroutable";
    }
    const source = src ?? this.sourceFor(dst);
    if (source === undefined) {
      stats.dropNoSource++;
      return "unroutable";
    }
    // RFC 1122 §3.2.1.3: never send from a broadcast or multicast address (a transport answering a
    // datagram sent to one would otherwise reply from it).
    if (src !== undefined && (this.isBroadcast(src >>> 0) || isMulticastIpv4(src))) {
      stats.dropBadSource++;
      return "unroutable";
    }
    let mac: number;
    if (this.hasAddress(dst)) {
      if (this.#loopback.length >= this.#loopbackMax) {
        stats.dropLoopbackFull++;
        return "busy";
      }
      this.#loopback.push(this.#output.build(source, dst, protocol, payloadLength, fill));
      return "sent";
    } else if (this.isBroadcast(dst)) {
      mac = MAC_BROADCAST;
    } else if (isMulticastIpv4(dst)) {
      mac = multicastMacForIpv4(dst);
    } else {
      const hop = this.routes.nextHop(dst);
      if (hop === undefined) {
        stats.dropNoRoute++;
        return "unroutable";
      }
      const known = this.#arp.lookupForSend(hop, now);
      if (known === undefined) {
        const payload = new Uint8Array(payloadLength);
        fill(payload, 0, source, dst);
        const pending = new PendingDatagram(source >>> 0, dst, protocol, payload);
        if (this.#arp.resolve(hop, pending, now) === "full") {
          // Dropped like a datagram lost on the wire. "busy" would tell the caller to retry on the
          // next poll, and a caller that does (TCP's control queue) would spin until ARP gives up.
          stats.dropArpFull++;
          return "queued";
        }
        stats.txQueued++;
        return "queued";
      }
      mac = known;
    }
    return this.#output.transmit(mac, source, dst, protocol, payloadLength, fill, now);
  }

  #input(ip: Ipv4Packet, now: number): void {
    const stats = this.stats;
    const src = ip.src;
    const dst = ip.dst;
    // RFC 1122 §3.2.1.3: a source must be a host address (0.0.0.0 is allowed for DHCP clients).
    if (isMulticastIpv4(src) || this.isBroadcast(src)) {
      stats.dropBadSource++;
      return;
    }
    // A multicast MAC stands for 32 groups, so the IP layer checks the group itself (RFC 1112 §6.4).
    const unicast = this.hasAddress(dst);
    if (!unicast && !this.isBroadcast(dst) && !this.#groups.has(dst)) {
      stats.dropNotForUs++;
      return;
    }
    // RFC 791 §3.2: "If this field contains the value zero, then the datagram must be destroyed." Hosts
    // accept TTL 1 (RFC 1122 §3.2.1.7); only a zero means a broken sender or router.
    if (ip.ttl === 0) {
      stats.dropTtl++;
      return;
    }
    if (ip.isFragment) {
      stats.rxFragments++;
      const key = `${src}:${dst}:${ip.protocol}:${ip.ident}`;
      const headerLength = ip.headerLength;
      const done = this.reassembler.add(
        key,
        ip.fragmentOffset,
        ip.moreFragments,
        { bytes: ip.bytes, offset: ip.offset, length: headerLength },
        { bytes: ip.bytes, offset: ip.payloadOffset, length: ip.payloadLength },
        now,
      );
      if (done === undefined) return;
      ip = this.#reassembled.wrap(
        done.bytes,
        done.headerOffset,
        done.headerLength + done.payloadLength,
      );
      ip.totalLength = done.headerLength + done.payloadLength;
      ip.moreFragments = false;
      ip.fragmentOffset = 0;
      ip.fillChecksum();
    }
    const protocol = ip.protocol;
    const handler = this.#transports[protocol];
    if (handler === undefined) {
      stats.dropNoProtocol++;
      if (unicast) {
        this.errors?.sendError(
          Icmpv4Type.DestinationUnreachable,
          Icmpv4Unreachable.ProtocolUnreachable,
          ip,
          now,
        );
      }
      return;
    }
    const incoming = this.#incoming;
    incoming.src = src;
    incoming.dst = dst;
    incoming.protocol = protocol;
    incoming.ttl = ip.ttl;
    incoming.bytes = ip.bytes;
    incoming.offset = ip.payloadOffset;
    incoming.length = ip.payloadLength;
    incoming.packet = ip;
    incoming.broadcast = !unicast;
    stats.rxDelivered++;
    handler.receive(incoming, now);
  }

  #reassemblyExpired(d: Reassembled, now: number): void {
    const ip = this.#reassembled.wrap(d.bytes, d.headerOffset, d.headerLength + d.payloadLength);
    if (log.enabled("debug")) {
      log.debug(`reassembly of datagram ${ip.ident} from ${formatIpv4(ip.src)} timed out`);
    }
    if (!this.hasAddress(ip.dst)) return;
    // RFC 792: time exceeded, code 1, when fragment zero arrived but the datagram never completed.
    this.errors?.sendError(Icmpv4Type.TimeExceeded, Icmpv4TimeExceeded.FragmentReassembly, ip, now);
  }
}
