/**
 * The IPv6 layer (RFC 8200) of a host: accepts packets to its own addresses and joined groups, walks
 * the extension headers (§4: hop-by-hop first only, options with the unknown-option actions, routing
 * headers with segments left, fragments through reassembly), and hands the upper layer to ICMPv6 or a
 * registered transport. On send it picks a source (RFC 6724, simplified), a next hop (on-link, redirect
 * or default router), resolves it with neighbor discovery (queueing meanwhile), and fragments packets
 * larger than the link MTU. Packets to its own addresses are looped back on the next poll.
 *
 * @module
 */

import { Rng } from "../../util/rng.ts";
import {
  IPV6_ALL_NODES,
  IPV6_LOOPBACK,
  Ipv6Address,
  type Ipv6Cidr,
} from "../../wire/ipv6_address.ts";
import {
  ETHERTYPE_IPV6,
  IPV6_DEFAULT_HOP_LIMIT,
  IPV6_HEADER_LENGTH,
  Ipv6NextHeader,
  Ipv6Packet,
  Ipv6Repr,
} from "../../wire/ipv6.ts";
import {
  checkExtHeader,
  emitRouterAlertHeader,
  IPV6_FRAGMENT_HEADER_LENGTH,
  Ipv6FragmentHeader,
  Ipv6RoutingHeader,
  scanOptions,
} from "../../wire/ipv6_ext.ts";
import { Icmpv6ParamProblem, Icmpv6TimeExceeded, Icmpv6Type } from "../../wire/icmpv6.ts";
import { isWireError } from "../../wire/error.ts";
import type { EthEndpoint, EthIncoming, EthRecv } from "../eth/endpoint.ts";
import type { SendResult } from "../handler.ts";
import { countWireError, newLayerStats } from "../stats.ts";
import { Ipv6Config } from "./addresses.ts";
import type { Ipv6Fill, Ipv6Incoming, Ipv6Sender, Ipv6TransportHandler } from "./contract.ts";
import { DestinationCache } from "./destinations.ts";
import { Ipv6Fragmenter } from "./fragmenter.ts";
import { Icmpv6Endpoint } from "./icmp.ts";
import { MldHost } from "./mld.ts";
import { NeighborCache, type NeighborCacheOptions } from "./neighbor_cache.ts";
import { Ndp } from "./ndp.ts";
import { Ipv6Reassembler, type Ipv6ReassemblyOptions } from "./reassembly.ts";

export type { Ipv6Fill, Ipv6Incoming, Ipv6Sender, Ipv6TransportHandler };

/** Source addresses the receive path remembers. */
const SOURCE_CACHE = 8;
const IPV6_UNSPECIFIED_VALUE = new Ipv6Address(0, 0, 0, 0);

/** Options of the IPv6 layer. */
export interface Ipv6Options {
  /** Static addresses with prefix lengths (each implies an on-link prefix). */
  addresses?: Ipv6Cidr[];
  /** Form a link-local address from the MAC (default true). */
  linkLocal?: boolean;
  /** Solicit routers and take SLAAC addresses, routes and MTU from their advertisements (default true). */
  acceptRa?: boolean;
  /** DAD solicitations per address (DupAddrDetectTransmits, default 1; 0 turns DAD off). */
  dadTransmits?: number;
  /** Hop limit of sent packets (default 64, or what an RA says). */
  hopLimit?: number;
  /** Router solicitations sent at start (default 3, RFC 4861 §10). */
  routerSolicitations?: number;
  neighbors?: NeighborCacheOptions;
  reassembly?: Ipv6ReassemblyOptions;
  /** Packets to own addresses waiting for the next poll (default 64). */
  loopbackQueue?: number;
  /** ICMPv6 errors per second, with a burst of 10 (default 100). */
  icmpErrorRate?: number;
  /** Seeds the DAD and MLD delays and fragment identifications. */
  rng?: Rng;
  /** The stack's clock, read only by sends made outside `poll`. */
  clock?: () => number;
}

/** Options of an internal send. */
interface SendOptions {
  hopLimit?: number;
  /** Prepend a hop-by-hop header with a router alert (MLD, RFC 3810 §5). */
  routerAlert?: boolean;
}

/** The IPv6 endpoint of an interface. */
export class Ipv6Endpoint implements EthRecv, Ipv6Sender {
  /** Counters. */
  readonly stats = newLayerStats(
    "rxDelivered",
    "dropBadSource",
    "dropNotForUs",
    "dropNoProtocol",
    "dropOptions",
    "dropRouting",
    "dropNoNextHeader",
    "rxFragments",
    "txFragments",
    "dropNoRoute",
    "dropNoSource",
    "dropTooBig",
    "txBusy",
    "txQueued",
    "dropNeighborFull",
    "loopback",
    "dropLoopbackFull",
    "dropDisabled",
  );
  /** Addresses, on-link prefixes and default routers. */
  readonly config = new Ipv6Config();
  /** The neighbor cache. */
  readonly neighbors: NeighborCache;
  /** Fragment reassembly. */
  readonly reassembler: Ipv6Reassembler;
  /** ICMPv6: echo, errors, and dispatch of NDP and MLD. */
  readonly icmp: Icmpv6Endpoint;
  /** Neighbor discovery, DAD and SLAAC. */
  readonly ndp: Ndp;
  /** MLDv2 listener reports. */
  readonly mld: MldHost;
  /** Hop limit of sent packets. */
  hopLimit: number;
  /**
   * IPv6 is off on this interface: DAD found our MAC-derived link-local address in use, so another
   * node has our MAC (RFC 4862 §5.4.5). Nothing is sent or received until it is cleared.
   */
  disabled = false;
  /** The link MTU (an RA's MTU option may lower it). */
  linkMtu: number;
  readonly rng: Rng;
  #eth: EthEndpoint;
  #transports: (Ipv6TransportHandler | undefined)[] = new Array(256).fill(undefined);
  #groups: { address: Ipv6Address; refs: number }[] = [];
  /** Redirects and path MTUs by destination. */
  readonly destinations = new DestinationCache();
  #fragmenter: Ipv6Fragmenter;
  #now = 0;
  #polling = false;
  #clock: (() => number) | undefined;
  #rxPacket = new Ipv6Packet();
  #reassembled = new Ipv6Packet();
  #incoming: Ipv6Incoming;
  /** Recent source addresses, reused so that a few busy peers cost no allocation per packet. */
  #sources: Ipv6Address[] = new Array(SOURCE_CACHE).fill(IPV6_UNSPECIFIED_VALUE);
  #sourceNext = 0;
  #loopback: Uint8Array[] = [];
  #loopbackMax: number;
  #fromLoopback = false;
  #scratch: Uint8Array | undefined;
  #txView = new Ipv6Packet();
  #txRepr = new Ipv6Repr();
  #txFill: Ipv6Fill = noFill;
  #txAlert = false;
  #txSource: Uint8Array = new Uint8Array(0);
  #txSourceOffset = 0;
  #txSourceLength = 0;
  #frameFill: (bytes: Uint8Array, offset: number, length: number) => void;
  #copyFill: (bytes: Uint8Array, offset: number, length: number) => void;
  #routing = new Ipv6RoutingHeader();
  #fragView = new Ipv6FragmentHeader();

  /** Creates the layer and registers it with `eth` for EtherType 0x86dd. */
  constructor(eth: EthEndpoint, options: Ipv6Options = {}) {
    this.#eth = eth;
    this.rng = options.rng ?? Rng.fromCrypto();
    this.hopLimit = options.hopLimit ?? IPV6_DEFAULT_HOP_LIMIT;
    this.linkMtu = eth.mtu;
    this.#clock = options.clock;
    this.#loopbackMax = options.loopbackQueue ?? 64;
    this.#fragmenter = new Ipv6Fragmenter(eth, this.stats, this.rng.nextU32());
    this.neighbors = new NeighborCache(options.neighbors);
    // RFC 4861 §6.3.2: ReachableTime is drawn from [0.5, 1.5) × the base, so that nodes do not probe
    // in step.
    this.neighbors.reachableMs = Math.round(this.neighbors.reachableMs * (0.5 + this.rng.next()));
    this.reassembler = new Ipv6Reassembler(options.reassembly);
    this.#incoming = {
      src: IPV6_UNSPECIFIED_VALUE,
      dst: IPV6_UNSPECIFIED_VALUE,
      nextHeader: 0,
      hopLimit: 0,
      bytes: new Uint8Array(0),
      offset: 0,
      length: 0,
      packet: this.#rxPacket,
    };
    this.#frameFill = (bytes, offset) => this.#writePacket(bytes, offset);
    this.#copyFill = (bytes, offset) =>
      bytes.set(
        this.#txSource.subarray(this.#txSourceOffset, this.#txSourceOffset + this.#txSourceLength),
        offset,
      );
    this.mld = new MldHost(this);
    this.icmp = new Icmpv6Endpoint(this, options.icmpErrorRate ?? 100);
    this.ndp = new Ndp(this, {
      dadTransmits: options.dadTransmits ?? 1,
      acceptRa: options.acceptRa ?? true,
      routerSolicitations: options.routerSolicitations ?? 3,
    });
    this.neighbors.onResolved = (neighbor, packets, now) => {
      for (const packet of packets) this.#sendQueued(neighbor.mac, packet, now);
    };
    this.neighbors.onUnreachable = (address) => this.config.removeRouter(address);
    this.joinGroup(IPV6_ALL_NODES);
    if (options.linkLocal ?? true) {
      this.ndp.addAddress(Ipv6Address.linkLocalFromMac(eth.mac), 64, "link-local", 0);
    }
    for (const cidr of options.addresses ?? []) {
      this.ndp.addAddress(cidr.address, cidr.prefixLength, "static", 0);
    }
    eth.register(ETHERTYPE_IPV6, this);
  }

  /** The interface's MAC. */
  get mac(): number {
    return this.#eth.mac;
  }

  /** The Ethernet layer's MTU, the ceiling of `linkMtu`. */
  get ethMtu(): number {
    return this.#eth.mtu;
  }

  /** The largest upper-layer message sent without fragmentation. */
  get mtu(): number {
    return this.linkMtu - IPV6_HEADER_LENGTH;
  }

  /** The usable (preferred or deprecated) own addresses. */
  addressList(): Ipv6Address[] {
    return this.config.addresses.filter((a) => a.state === "preferred" || a.state === "deprecated")
      .map((a) => a.address);
  }

  /** True for a usable own address (or ::1). */
  hasAddress(address: Ipv6Address): boolean {
    if (address.isLoopback) return true;
    const own = this.config.find(address);
    return own !== undefined && (own.state === "preferred" || own.state === "deprecated");
  }

  /** Adds a static address (DAD runs first unless turned off). */
  addAddress(cidr: Ipv6Cidr): void {
    this.ndp.addAddress(cidr.address, cidr.prefixLength, "static", this.#now);
  }

  /** Removes an own address (its solicited-node group is left); its prefix stays on-link. */
  removeAddress(address: Ipv6Address): void {
    this.config.remove(address);
  }

  /** The link-local address once DAD has passed, else undefined. */
  get linkLocal(): Ipv6Address | undefined {
    return this.config.linkLocal;
  }

  /** Registers the transport of `nextHeader`; the returned function removes it. */
  register(nextHeader: number, handler: Ipv6TransportHandler): () => void {
    this.#transports[nextHeader & 0xff] = handler;
    return () => {
      if (this.#transports[nextHeader & 0xff] === handler) {
        this.#transports[nextHeader & 0xff] = undefined;
      }
    };
  }

  /** Joins a multicast group (counted: each join needs a leave); reports it with MLD. */
  joinGroup(group: Ipv6Address): void {
    const existing = this.#groups.find((g) => g.address.equals(group));
    if (existing !== undefined) {
      existing.refs++;
      return;
    }
    this.#groups.push({ address: group, refs: 1 });
    this.#eth.join(group.multicastMac);
    this.mld.joined(group, this.#now);
  }

  /** Leaves a multicast group once every join has been matched. */
  leaveGroup(group: Ipv6Address): void {
    const i = this.#groups.findIndex((g) => g.address.equals(group));
    if (i < 0 || --this.#groups[i].refs > 0) return;
    this.#groups.splice(i, 1);
    const mac = group.multicastMac;
    if (!this.#groups.some((g) => g.address.multicastMac === mac)) this.#eth.leave(mac);
    this.mld.left(group, this.#now);
  }

  /** The joined groups. */
  groups(): Ipv6Address[] {
    return this.#groups.map((g) => g.address);
  }

  /** The own address to send from towards `dst` (RFC 6724 §5, rules 1, 2, 3 and 8 in short). */
  sourceFor(dst: Ipv6Address): Ipv6Address | undefined {
    if (dst.isLoopback) return IPV6_LOOPBACK;
    const linkScope = dst.isLinkLocal || (dst.isMulticast && dst.multicastScope <= 2);
    let best: Ipv6Address | undefined;
    let bestScore = -1;
    for (const a of this.config.addresses) {
      if (a.state !== "preferred" && a.state !== "deprecated") continue;
      if (a.address.equals(dst)) return a.address;
      // Rule 2: a matching scope first; rule 3: preferred over deprecated; rule 8: longest match.
      const scopeOk = a.address.isLinkLocal === linkScope;
      const score = (scopeOk ? 1000 : 0) + (a.state === "preferred" ? 500 : 0) +
        a.address.commonPrefixLength(dst);
      if (score > bestScore) {
        best = a.address;
        bestScore = score;
      }
    }
    return best;
  }

  /** Handles one received packet; never throws on bad input (drops and counts it). */
  receive(packet: EthIncoming, now: number): void {
    this.#now = now;
    this.stats.rxPackets++;
    if (this.disabled) {
      this.stats.dropDisabled++;
      return;
    }
    const ip = this.#rxPacket.wrap(packet.bytes, packet.offset, packet.length);
    const error = ip.check();
    if (error !== undefined) {
      countWireError(this.stats, error);
      return;
    }
    this.#input(ip, now);
  }

  /** Marks the start of an interface poll at `now`. */
  enterPoll(now: number): void {
    this.#now = now;
    this.#polling = true;
  }

  /** Marks the end of an interface poll. */
  leavePoll(): void {
    this.#polling = false;
  }

  /** Runs timers (neighbors, DAD, SLAAC lifetimes, RS, MLD, reassembly) and loopback delivery. */
  poll(now: number): boolean {
    this.#now = now;
    let work = this.ndp.poll(now);
    if (this.mld.poll(now)) work = true;
    if (this.reassembler.poll(now, (header) => this.#reassemblyExpired(header, now))) work = true;
    if (this.#loopback.length > 0) {
      work = true;
      const batch = this.#loopback;
      this.#loopback = [];
      this.#fromLoopback = true;
      try {
        for (const datagram of batch) {
          this.stats.rxPackets++;
          this.#input(this.#rxPacket.wrap(datagram, 0, datagram.length), now);
        }
      } finally {
        this.#fromLoopback = false;
      }
    }
    return work;
  }

  /** The next deadline of any timer, or now when loopback packets wait. */
  pollAt(now: number): number | undefined {
    if (this.#loopback.length > 0) return now;
    let at = this.ndp.pollAt();
    at = earliest(at, this.mld.pollAt());
    return earliest(at, this.reassembler.pollAt());
  }

  /** Sends one packet (see `Ipv6Sender.send`). */
  send(
    dst: Ipv6Address,
    nextHeader: number,
    payloadLength: number,
    fill: Ipv6Fill,
    src?: Ipv6Address,
  ): SendResult {
    return this.sendWith(dst, nextHeader, payloadLength, fill, src, undefined);
  }

  /** `send` with a hop limit or router alert (NDP sends with 255, MLD with 1 and an alert). */
  sendWith(
    dst: Ipv6Address,
    nextHeader: number,
    payloadLength: number,
    fill: Ipv6Fill,
    src: Ipv6Address | undefined,
    options: SendOptions | undefined,
    mac?: number,
  ): SendResult {
    if (this.disabled) {
      this.stats.dropDisabled++;
      return "unroutable";
    }
    if (!this.#polling && this.#clock !== undefined) this.#now = this.#clock();
    const now = this.#now;
    const stats = this.stats;
    const extra = options?.routerAlert ? 8 : 0;
    if (payloadLength < 0 || payloadLength + extra > 65535) {
      stats.dropTooBig++;
      return "unroutable";
    }
    const source = src ?? this.sourceFor(dst);
    if (source === undefined) {
      stats.dropNoSource++;
      return "unroutable";
    }
    const repr = this.#txRepr;
    repr.src = source;
    repr.dst = dst;
    repr.nextHeader = extra > 0 ? Ipv6NextHeader.HopByHop : nextHeader;
    repr.payloadLength = payloadLength + extra;
    repr.hopLimit = options?.hopLimit ?? this.hopLimit;
    this.#txAlert = extra > 0;
    this.#txAlertNext = nextHeader;
    if (mac === undefined) {
      if (this.hasAddress(dst)) return this.#sendLocal(payloadLength + extra, fill);
      if (dst.isMulticast) {
        mac = dst.multicastMac;
      } else {
        const hop = this.#nextHop(dst);
        if (hop === undefined) {
          stats.dropNoRoute++;
          return "unroutable";
        }
        mac = this.neighbors.lookup(hop, now);
        if (mac === undefined) return this.#queue(hop, payloadLength + extra, fill, now);
      }
    }
    this.#txLimit = this.destinations.pathMtu(dst, this.linkMtu, now) - IPV6_HEADER_LENGTH;
    return this.#transmit(mac, payloadLength + extra, fill, now);
  }

  #txAlertNext = 0;
  /** The largest upper-layer message towards the current destination (path MTU less 40). */
  #txLimit = 0;
  /** Records a Packet Too Big for `dst` (RFC 8201 §4; see `DestinationCache.setPathMtu`). */
  setPathMtu(dst: Ipv6Address, mtu: number, now: number): void {
    this.destinations.setPathMtu(dst, mtu, this.linkMtu, now);
  }

  /** The first hop towards `dst`: itself when on-link, a redirect's target, or a default router. */
  #nextHop(dst: Ipv6Address): Ipv6Address | undefined {
    const redirect = this.destinations.redirectFor(dst);
    if (redirect !== undefined) return redirect;
    if (this.config.isOnLink(dst)) return dst;
    const routers = this.config.routers;
    if (routers.length === 0) return undefined;
    // RFC 4861 §6.3.6: prefer a router whose reachability is not in doubt.
    for (const r of routers) {
      const n = this.neighbors.get(r.address);
      if (n !== undefined && n.mac >= 0) return r.address;
    }
    return routers[0].address;
  }

  /** The router currently used for `dst`, for validating redirects (RFC 4861 §8.1). */
  firstHop(dst: Ipv6Address): Ipv6Address | undefined {
    return this.#nextHop(dst);
  }

  /** Records a redirect of `dst` to the first hop `target` (RFC 4861 §8.3). */
  redirect(dst: Ipv6Address, target: Ipv6Address): void {
    this.destinations.redirect(dst, target);
  }

  #input(ip: Ipv6Packet, now: number): void {
    const stats = this.stats;
    const bytes = ip.bytes;
    const srcAt = ip.srcOffset;
    const dstAt = ip.dstOffset;
    // RFC 4291 §2.7: a multicast source is invalid.
    if (bytes[srcAt] === 0xff) {
      stats.dropBadSource++;
      return;
    }
    let dst: Ipv6Address | undefined;
    if (bytes[dstAt] === 0xff) {
      for (const g of this.#groups) {
        if (g.address.equalsAt(bytes, dstAt)) {
          dst = g.address;
          break;
        }
      }
    } else {
      const own = this.config.findAt(bytes, dstAt);
      // RFC 4862 §5.4: a tentative address receives nothing but the NDP of DAD (sent to multicast).
      if (own !== undefined && (own.state === "preferred" || own.state === "deprecated")) {
        dst = own.address;
      } else if (this.#fromLoopback && IPV6_LOOPBACK.equalsAt(bytes, dstAt)) {
        dst = IPV6_LOOPBACK;
      }
    }
    if (dst === undefined) {
      stats.dropNotForUs++;
      return;
    }
    const incoming = this.#incoming;
    incoming.src = this.#source(bytes, srcAt);
    incoming.dst = dst;
    incoming.hopLimit = ip.hopLimit;
    this.#walk(ip, ip.nextHeader, ip.offset + 6, now);
  }

  /** The source address at `bytes[at..]`, from the recent-sources cache when it is there. */
  #source(bytes: Uint8Array, at: number): Ipv6Address {
    const sources = this.#sources;
    for (let i = 0; i < sources.length; i++) if (sources[i].equalsAt(bytes, at)) return sources[i];
    const address = Ipv6Address.read(bytes, at);
    sources[this.#sourceNext] = address;
    this.#sourceNext = (this.#sourceNext + 1) % sources.length;
    return address;
  }

  /** Walks the extension headers from `nh` (its field at `nhAt`) and delivers the upper layer. */
  #walk(ip: Ipv6Packet, nh: number, nhAt: number, now: number): void {
    const stats = this.stats;
    const bytes = ip.bytes;
    const end = ip.offset + IPV6_HEADER_LENGTH + ip.payloadLength;
    let at = ip.offset + IPV6_HEADER_LENGTH;
    const incoming = this.#incoming;
    for (let guard = 0; guard < 32; guard++) {
      switch (nh) {
        case Ipv6NextHeader.HopByHop:
        case Ipv6NextHeader.DestinationOptions: {
          // RFC 8200 §4.1: hop-by-hop only right after the fixed header.
          if (nh === Ipv6NextHeader.HopByHop && at !== ip.offset + IPV6_HEADER_LENGTH) {
            this.#paramProblem(Icmpv6ParamProblem.UnrecognizedNextHeader, nhAt, ip, now);
            return;
          }
          const length = checkExtHeader(bytes, at, end, nh);
          if (isWireError(length)) {
            countWireError(stats, length);
            return;
          }
          const scan = scanOptions(bytes, at, length);
          if (scan.kind === "malformed") {
            stats.dropMalformed++;
            return;
          }
          if (scan.kind === "unknown") {
            stats.dropOptions++;
            // RFC 8200 §4.2: 10 always reports, 11 only when the destination was not multicast.
            if (scan.action === 2 || (scan.action === 3 && !incoming.dst.isMulticast)) {
              this.#paramProblem(
                Icmpv6ParamProblem.UnrecognizedOption,
                scan.pointer,
                ip,
                now,
                true,
              );
            }
            return;
          }
          nhAt = at;
          nh = bytes[at];
          at += length;
          continue;
        }
        case Ipv6NextHeader.Routing: {
          const length = checkExtHeader(bytes, at, end, nh);
          if (isWireError(length)) {
            countWireError(stats, length);
            return;
          }
          const rh = this.#routing.wrap(bytes, at);
          if (rh.segmentsLeft !== 0) {
            // RFC 8200 §4.4: a host knows no routing type that would forward (type 0 is gone, RFC 5095).
            stats.dropRouting++;
            this.#paramProblem(Icmpv6ParamProblem.ErroneousHeader, at + 2, ip, now);
            return;
          }
          nhAt = at;
          nh = rh.nextHeader;
          at += length;
          continue;
        }
        case Ipv6NextHeader.Fragment: {
          if (end - at < IPV6_FRAGMENT_HEADER_LENGTH) {
            stats.dropTruncated++;
            return;
          }
          const frag = this.#fragView.wrap(bytes, at);
          const dataAt = at + IPV6_FRAGMENT_HEADER_LENGTH;
          if (frag.fragmentOffset === 0 && !frag.moreFragments) {
            // RFC 6946: an atomic fragment is processed as a whole packet, outside reassembly.
            nhAt = at;
            nh = frag.nextHeader;
            at = dataAt;
            continue;
          }
          stats.rxFragments++;
          const key = `${incoming.src.key}|${incoming.dst.key}|${frag.ident}`;
          const done = this.reassembler.add(
            key,
            { bytes, offset: ip.offset, fragmentAt: at },
            frag.nextHeader,
            frag.fragmentOffset,
            frag.moreFragments,
            { bytes, offset: dataAt, length: end - dataAt },
            now,
          );
          if (done === undefined) return;
          const whole = this.#reassembled.wrap(done.bytes, 0, done.length);
          this.#walkReassembled(whole, done.nextHeader, now);
          return;
        }
        case Ipv6NextHeader.NoNextHeader:
          stats.dropNoNextHeader++;
          return;
        default:
          this.#deliver(ip, nh, nhAt, at, end - at, now);
          return;
      }
    }
    stats.dropMalformed++;
  }

  #walkReassembled(ip: Ipv6Packet, nh: number, now: number): void {
    // The unfragmentable headers were handled on the fragment; the rebuilt packet starts with the
    // fragmentable part right after its fixed header.
    ip.nextHeader = nh;
    this.#incoming.packet = ip;
    try {
      this.#walk(ip, nh, ip.offset + 6, now);
    } finally {
      this.#incoming.packet = this.#rxPacket;
    }
  }

  #deliver(
    ip: Ipv6Packet,
    nh: number,
    nhAt: number,
    at: number,
    length: number,
    now: number,
  ): void {
    const incoming = this.#incoming;
    incoming.nextHeader = nh;
    incoming.bytes = ip.bytes;
    incoming.offset = at;
    incoming.length = length;
    incoming.packet = ip;
    if (nh === Ipv6NextHeader.Icmpv6) {
      this.stats.rxDelivered++;
      this.icmp.receive(incoming, now);
      return;
    }
    const handler = this.#transports[nh];
    if (handler === undefined) {
      this.stats.dropNoProtocol++;
      this.#paramProblem(Icmpv6ParamProblem.UnrecognizedNextHeader, nhAt, ip, now);
      return;
    }
    this.stats.rxDelivered++;
    handler.receive(incoming, now);
  }

  /** Reports a parameter problem at absolute offset `at` of the packet `ip`. */
  #paramProblem(
    code: number,
    at: number,
    ip: Ipv6Packet,
    now: number,
    evenMulticast = false,
  ): void {
    this.icmp.sendError(Icmpv6Type.ParameterProblem, code, at - ip.offset, ip, now, evenMulticast);
  }

  #reassemblyExpired(header: Uint8Array, now: number): void {
    const ip = this.#reassembled.wrap(header, 0, header.length);
    this.icmp.sendError(
      Icmpv6Type.TimeExceeded,
      Icmpv6TimeExceeded.FragmentReassembly,
      0,
      ip,
      now,
      false,
    );
  }

  #queue(hop: Ipv6Address, length: number, fill: Ipv6Fill, now: number): SendResult {
    const packet = new Uint8Array(IPV6_HEADER_LENGTH + length);
    this.#txFill = fill;
    this.#writePacket(packet, 0);
    this.#txFill = noFill;
    const result = this.neighbors.enqueue(hop, packet, now);
    if (result === "full") {
      // Dropped and counted, but reported as queued, as IPv4 does for a full ARP queue: "busy" would
      // make a transport retry on every poll while no entry can free up (a spinning stack).
      this.stats.dropNeighborFull++;
      return "queued";
    }
    if (result === "request") this.ndp.solicit(hop, undefined, now);
    this.stats.txQueued++;
    return "queued";
  }

  #transmit(mac: number, length: number, fill: Ipv6Fill, now: number): SendResult {
    if (length <= this.#txLimit) {
      this.#txFill = fill;
      const sent = this.#eth.send(
        mac,
        ETHERTYPE_IPV6,
        IPV6_HEADER_LENGTH + length,
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
    // RFC 8200 §4.5: the source fragments; the whole packet is built once, then sliced.
    const scratch = this.#scratch ??= new Uint8Array(IPV6_HEADER_LENGTH + 65535);
    this.#txFill = fill;
    this.#writePacket(scratch, 0);
    this.#txFill = noFill;
    return this.#fragmenter.send(mac, scratch, 0, length, this.#txLimit, now);
  }

  #writePacket(bytes: Uint8Array, offset: number): void {
    const repr = this.#txRepr;
    repr.emit(this.#txView.wrap(bytes, offset, IPV6_HEADER_LENGTH));
    let at = offset + IPV6_HEADER_LENGTH;
    if (this.#txAlert) {
      emitRouterAlertHeader(bytes, at, this.#txAlertNext);
      at += 8;
    }
    this.#txFill(bytes, at, repr.src, repr.dst);
  }

  #sendLocal(length: number, fill: Ipv6Fill): SendResult {
    if (this.#loopback.length >= this.#loopbackMax) {
      this.stats.dropLoopbackFull++;
      return "busy";
    }
    const packet = new Uint8Array(IPV6_HEADER_LENGTH + length);
    this.#txFill = fill;
    this.#writePacket(packet, 0);
    this.#txFill = noFill;
    this.#loopback.push(packet);
    this.stats.loopback++;
    this.stats.txPackets++;
    return "sent";
  }

  #sendQueued(mac: number, packet: Uint8Array, now: number): void {
    const length = packet.length - IPV6_HEADER_LENGTH;
    this.#txLimit = this.destinations.hasPathMtus
      ? this.destinations.pathMtu(Ipv6Address.read(packet, 24), this.linkMtu, now) -
        IPV6_HEADER_LENGTH
      : this.mtu;
    if (length > this.#txLimit) {
      this.#fragmenter.send(mac, packet, 0, length, this.#txLimit, now);
      return;
    }
    this.#txSource = packet;
    this.#txSourceOffset = 0;
    this.#txSourceLength = packet.length;
    if (!this.#eth.send(mac, ETHERTYPE_IPV6, packet.length, this.#copyFill, now)) {
      this.stats.txBusy++;
      return;
    }
    this.stats.txPackets++;
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

function noFill(): void {}
