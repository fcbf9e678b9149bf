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
  IPV4_BROADCAST,
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
  Ipv4Repr,
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
import { type Reassembled, Reassembler } from "./reassembly.ts";
import { RouteTable } from "./routes.ts";

export type { Ipv4ErrorSink, Ipv4Fill, Ipv4Incoming, Ipv4Sender, TransportHandler };

const log = new Logger("ipv4");

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
}

/** A datagram waiting for ARP: its payload copied out of the caller's hands. */
export class PendingDatagram {
  /** Bytes held, for the ARP queue's budget. */
  readonly size: number;
  /** Creates a pending datagram. */
  constructor(
    readonly src: number,
    readonly dst: number,
    readonly protocol: number,
    readonly payload: Uint8Array,
  ) {
    this.size = payload.length + IPV4_HEADER_LENGTH;
  }
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
  /** The route table (connected routes for the own addresses, the default gateway). */
  readonly routes = new RouteTable();
  /** Where ICMP errors go; the interface connects the ICMP endpoint. */
  errors: Ipv4ErrorSink | undefined;
  /** TTL of sent datagrams. */
  ttl: number;
  #eth: EthEndpoint;
  #arp: ArpEndpoint<PendingDatagram>;
  #addresses: Ipv4Cidr[] = [];
  #addressList: number[] = [];
  #transports: (TransportHandler | undefined)[] = new Array(256).fill(undefined);
  #senders: SendHandler<Ipv4Sender>[] = [];
  #ident: number;
  #now = 0;
  #polling = false;
  #clock: (() => number) | undefined;
  #rxPacket = new Ipv4Packet();
  #reassembled = new Ipv4Packet();
  #incoming: Ipv4Incoming;
  #loopback: Uint8Array[] = [];
  #loopbackMax: number;
  #scratch: Uint8Array | undefined;
  // The datagram being sent, read by fills bound once (no closure per packet).
  #txView = new Ipv4Packet();
  #txRepr = new Ipv4Repr();
  #txFill: Ipv4Fill = () => {};
  #txSource: Uint8Array = new Uint8Array(0);
  #txSourceOffset = 0;
  #frameFill: (bytes: Uint8Array, offset: number, length: number) => void;
  #fragmentFill: (bytes: Uint8Array, offset: number, length: number) => void;
  #copyFill: Ipv4Fill;

  /** Creates the layer and registers it with `eth` for EtherType 0x0800. */
  constructor(eth: EthEndpoint, arp: ArpEndpoint<PendingDatagram>, options: Ipv4Options = {}) {
    this.#eth = eth;
    this.#arp = arp;
    this.ttl = options.defaultTtl ?? IPV4_DEFAULT_TTL;
    this.reassembler = new Reassembler({
      maxBytes: options.reassemblyBytes,
      timeoutMs: options.reassemblyTimeoutMs,
      maxDatagrams: options.reassemblyDatagrams,
    });
    this.#loopbackMax = options.loopbackQueue ?? 64;
    this.#clock = options.clock;
    this.#ident = (options.rng ?? Rng.fromCrypto()).nextU32() & 0xffff;
    this.#incoming = {
      src: 0,
      dst: 0,
      protocol: 0,
      ttl: 0,
      bytes: new Uint8Array(0),
      offset: 0,
      length: 0,
      packet: this.#rxPacket,
    };
    this.#frameFill = (bytes, offset) => {
      this.#txRepr.emit(this.#txView.wrap(bytes, offset, IPV4_HEADER_LENGTH));
      this.#txFill(bytes, offset + IPV4_HEADER_LENGTH, this.#txRepr.src, this.#txRepr.dst);
    };
    this.#fragmentFill = (bytes, offset) => {
      const repr = this.#txRepr;
      repr.emit(this.#txView.wrap(bytes, offset, IPV4_HEADER_LENGTH));
      const from = this.#txSourceOffset + repr.fragmentOffset;
      bytes.set(
        this.#txSource.subarray(from, from + repr.payloadLength),
        offset + IPV4_HEADER_LENGTH,
      );
    };
    this.#copyFill = (bytes, offset) => bytes.set(this.#txSource, offset);
    for (const cidr of options.addresses ?? []) this.addAddress(cidr);
    if (options.gateway !== undefined) this.routes.setGateway(options.gateway);
    arp.onResolved = (_ip, mac, items, now) => this.#sendPending(mac, items, now);
    arp.onUnresolved = (_ip, items) => (this.stats.dropUnresolved += items.length);
    eth.register(EtherType.Ipv4, this);
  }

  /** The largest IP payload sent without fragmentation. */
  get mtu(): number {
    return this.#eth.mtu - IPV4_HEADER_LENGTH;
  }

  /** The own addresses with their prefixes. */
  get addresses(): readonly Ipv4Cidr[] {
    return this.#addresses;
  }

  /** Adds an address and its connected route. */
  addAddress(cidr: Ipv4Cidr): void {
    this.removeAddress(cidr.address);
    this.#addresses.push(cidr);
    this.#addressList.push(cidr.address);
    this.routes.add(cidr);
  }

  /** Removes an address and its connected route (unless another address shares the network). */
  removeAddress(address: number): void {
    const i = this.#addressList.indexOf(address >>> 0);
    if (i < 0) return;
    const [cidr] = this.#addresses.splice(i, 1);
    this.#addressList.splice(i, 1);
    const shared = this.#addresses.some((c) =>
      c.prefixLength === cidr.prefixLength && c.network === cidr.network
    );
    if (!shared) this.routes.remove(cidr);
  }

  /** Sets or clears the default gateway. */
  setGateway(gateway: number | undefined): void {
    this.routes.setGateway(gateway);
  }

  /** True for an own address. */
  hasAddress(ip: number): boolean {
    return this.#addressList.includes(ip >>> 0);
  }

  /** The own addresses. */
  addressList(): readonly number[] {
    return this.#addressList;
  }

  /** True for the limited broadcast or the directed broadcast of an own network. */
  isBroadcast(ip: number): boolean {
    if (ip === IPV4_BROADCAST) return true;
    for (const cidr of this.#addresses) if (cidr.broadcast === ip) return true;
    return false;
  }

  /** The own address to send from towards `dst`: one on its network, else the first. */
  sourceFor(dst: number): number | undefined {
    const addresses = this.#addresses;
    if (addresses.length === 0) return undefined;
    for (const cidr of addresses) if (cidr.contains(dst)) return cidr.address;
    const hop = this.routes.nextHop(dst);
    if (hop !== undefined) {
      for (const cidr of addresses) if (cidr.contains(hop)) return cidr.address;
    }
    return addresses[0].address;
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
      return this.#sendLocal(source, dst, protocol, payloadLength, fill);
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
      const known = this.#arp.lookup(hop, now);
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
    return this.#transmit(mac, source, dst, protocol, payloadLength, fill, now);
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
    if (!this.hasAddress(dst) && !this.isBroadcast(dst) && !isMulticastIpv4(dst)) {
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
      if (this.hasAddress(dst)) {
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
    stats.rxDelivered++;
    handler.receive(incoming, now);
  }

  #transmit(
    mac: number,
    src: number,
    dst: number,
    protocol: number,
    payloadLength: number,
    fill: Ipv4Fill,
    now: number,
  ): SendResult {
    const repr = this.#prepare(src, dst, protocol);
    if (payloadLength <= this.mtu) {
      repr.payloadLength = payloadLength;
      repr.moreFragments = false;
      repr.fragmentOffset = 0;
      this.#txFill = fill;
      const sent = this.#eth.send(
        mac,
        EtherType.Ipv4,
        IPV4_HEADER_LENGTH + payloadLength,
        this.#frameFill,
        now,
      );
      this.#txFill = noFill;
      if (!sent) {
        this.stats.txBusy++;
        return "busy";
      }
      this.stats.txPackets++;
      return "sent";
    }
    // RFC 791 §3.2 fragmentation: every fragment but the last carries a multiple of 8 bytes.
    const scratch = this.#scratch ??= new Uint8Array(IPV4_MAX_TOTAL_LENGTH);
    fill(scratch, 0, src, dst);
    return this.#sendFragments(mac, scratch, 0, payloadLength, now);
  }

  #sendFragments(
    mac: number,
    source: Uint8Array,
    sourceOffset: number,
    payloadLength: number,
    now: number,
  ): SendResult {
    const repr = this.#txRepr;
    const chunk = Math.floor(this.mtu / 8) * 8;
    if (chunk <= 0) {
      this.stats.dropTooBig++;
      return "unroutable";
    }
    this.#txSource = source;
    this.#txSourceOffset = sourceOffset;
    for (let at = 0; at < payloadLength; at += chunk) {
      const length = Math.min(chunk, payloadLength - at);
      repr.fragmentOffset = at;
      repr.payloadLength = length;
      repr.moreFragments = at + length < payloadLength;
      const sent = this.#eth.send(
        mac,
        EtherType.Ipv4,
        IPV4_HEADER_LENGTH + length,
        this.#fragmentFill,
        now,
      );
      if (!sent) {
        // The fragments already sent are wasted; the receiver's reassembly timeout frees them.
        this.stats.txBusy++;
        return "busy";
      }
      this.stats.txFragments++;
    }
    this.stats.txPackets++;
    return "sent";
  }

  /** Fills the shared transmit repr with a fresh identification. */
  #prepare(src: number, dst: number, protocol: number): Ipv4Repr {
    const repr = this.#txRepr;
    repr.src = src;
    repr.dst = dst;
    repr.protocol = protocol;
    repr.ttl = this.ttl;
    repr.ident = this.#ident;
    repr.dontFragment = false;
    this.#ident = (this.#ident + 1) & 0xffff;
    return repr;
  }

  #sendLocal(
    src: number,
    dst: number,
    protocol: number,
    payloadLength: number,
    fill: Ipv4Fill,
  ): SendResult {
    if (this.#loopback.length >= this.#loopbackMax) {
      this.stats.dropLoopbackFull++;
      return "busy";
    }
    const datagram = new Uint8Array(IPV4_HEADER_LENGTH + payloadLength);
    const repr = this.#prepare(src, dst, protocol);
    repr.payloadLength = payloadLength;
    repr.moreFragments = false;
    repr.fragmentOffset = 0;
    repr.emit(this.#txView.wrap(datagram, 0, IPV4_HEADER_LENGTH));
    fill(datagram, IPV4_HEADER_LENGTH, src, dst);
    this.#loopback.push(datagram);
    this.stats.loopback++;
    this.stats.txPackets++;
    return "sent";
  }

  #sendPending(mac: number, items: PendingDatagram[], now: number): void {
    for (const item of items) {
      this.#txSource = item.payload;
      const result = this.#transmit(
        mac,
        item.src,
        item.dst,
        item.protocol,
        item.payload.length,
        this.#copyFill,
        now,
      );
      if (result === "busy") this.stats.dropUnresolved++;
    }
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

function noFill(): void {}
