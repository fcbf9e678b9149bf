/**
 * Neighbor discovery for a host (RFC 4861) and stateless address autoconfiguration (RFC 4862):
 * answers neighbor solicitations, feeds advertisements to the neighbor cache, runs duplicate address
 * detection for every new address, solicits routers, and takes default routers, on-link prefixes,
 * SLAAC addresses, the hop limit, timers and the MTU from router advertisements; applies redirects.
 *
 * @module
 */

import { Logger } from "../../util/log.ts";
import { isWireError } from "../../wire/error.ts";
import { Icmpv6Packet, Icmpv6Type } from "../../wire/icmpv6.ts";
import {
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_UNSPECIFIED,
  Ipv6Address,
} from "../../wire/ipv6_address.ts";
import { IPV6_MIN_MTU } from "../../wire/ipv6.ts";
import { NdpRepr } from "../../wire/ndp.ts";
import type { SendResult } from "../handler.ts";
import type { AddressOrigin } from "./addresses.ts";
import type { Ipv6Incoming } from "./contract.ts";
import type { Ipv6Endpoint } from "./endpoint.ts";

/** Options of NDP. */
export interface NdpOptions {
  /** DAD solicitations per address (0 turns DAD off). */
  dadTransmits: number;
  /** Act on router advertisements. */
  acceptRa: boolean;
  /** Router solicitations to send once the link-local address is up. */
  routerSolicitations: number;
}

/** MAX_RTR_SOLICITATION_DELAY (RFC 4861 §10), also the DAD start jitter (RFC 4862 §5.4.2). */
const MAX_START_DELAY_MS = 1000;
/** RTR_SOLICITATION_INTERVAL. */
const RS_INTERVAL_MS = 4000;

const log = new Logger("ndp");

/** The NDP, DAD and SLAAC logic of one IPv6 endpoint. */
export class Ndp {
  /** Counters. */
  readonly stats = {
    rxNs: 0,
    rxNa: 0,
    rxRa: 0,
    rxRs: 0,
    rxRedirect: 0,
    txNs: 0,
    txNa: 0,
    txRs: 0,
    dadProbes: 0,
    dadFailed: 0,
    addressConflicts: 0,
    dropHopLimit: 0,
    dropInvalid: 0,
    ignoredRa: 0,
    ignoredRedirect: 0,
  };
  /** DNS servers from router advertisements (RFC 8106), with when each stops being usable. */
  dnsServers: { address: Ipv6Address; until: number }[] = [];
  /** Called when an advertisement changes the DNS servers (a resolver plugs in here). */
  onDnsServers: ((servers: Ipv6Address[]) => void) | undefined;
  /** Addresses DAD found in use by another node (RFC 4862 §5.4.5), for diagnostics. */
  readonly duplicates: Ipv6Address[] = [];
  #ip: Ipv6Endpoint;
  #options: NdpOptions;
  #repr = new NdpRepr();
  #tx = new NdpRepr();
  #txView = new Icmpv6Packet();
  #rsLeft = 0;
  #rsAt = Infinity;
  #gotRa = false;
  #baseReachable = 0;
  #fill: (bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address) => void;

  /** Creates the NDP logic of `ip`. */
  constructor(ip: Ipv6Endpoint, options: NdpOptions) {
    this.#ip = ip;
    this.#options = options;
    this.#fill = (bytes, offset, src, dst) => {
      this.#tx.emit(this.#txView.wrap(bytes, offset, this.#tx.bufferLength), src, dst);
    };
    ip.config.onAdd = (own) => ip.joinGroup(own.address.solicitedNode);
    ip.config.onRemove = (own) => ip.leaveGroup(own.address.solicitedNode);
  }

  /** Adds an address; DAD (if on) starts after a random delay of up to 1 s (RFC 4862 §5.4.2). */
  addAddress(address: Ipv6Address, prefixLength: number, origin: AddressOrigin, now: number): void {
    const own = this.#ip.config.add(address, prefixLength, origin, {
      dadTransmits: this.#options.dadTransmits,
      dadAt: now + this.#ip.rng.below(MAX_START_DELAY_MS),
    });
    if (own?.state === "preferred") this.#addressUp(address, now);
  }

  /** Sends a neighbor solicitation for `target`: multicast to resolve it, unicast to probe it. */
  solicit(target: Ipv6Address, unicastMac: number | undefined, now: number): void {
    const src = this.#ip.sourceFor(target);
    if (src === undefined) return;
    const tx = this.#message(Icmpv6Type.NeighborSolicit);
    tx.target = target;
    tx.sourceMac = this.#ip.mac;
    const dst = unicastMac === undefined ? target.solicitedNode : target;
    this.stats.txNs++;
    this.#send(dst, src, unicastMac, now);
  }

  /** Handles an NDP message (its ICMPv6 checksum already verified). */
  receive(packet: Ipv6Incoming, view: Icmpv6Packet, now: number): void {
    // RFC 4861 §6.1, §7.1, §8.1: a hop limit below 255 means the message crossed a router.
    if (packet.hopLimit !== 255) {
      this.stats.dropHopLimit++;
      return;
    }
    const repr = NdpRepr.parse(view, this.#repr);
    if (isWireError(repr)) {
      this.stats.dropInvalid++;
      return;
    }
    switch (repr.type) {
      case Icmpv6Type.NeighborSolicit:
        this.stats.rxNs++;
        this.#onSolicit(packet, repr, now);
        break;
      case Icmpv6Type.NeighborAdvert:
        this.stats.rxNa++;
        this.#onAdvert(packet, repr, now);
        break;
      case Icmpv6Type.RouterAdvert:
        this.stats.rxRa++;
        this.#onRouterAdvert(packet, repr, now);
        break;
      case Icmpv6Type.RouterSolicit:
        // RFC 4861 §6.2.6 is for routers: a host ignores solicitations.
        this.stats.rxRs++;
        break;
      case Icmpv6Type.Redirect:
        this.stats.rxRedirect++;
        this.#onRedirect(packet, repr, now);
        break;
    }
  }

  /** Runs DAD steps, router solicitations, lifetimes and the neighbor cache timers. */
  poll(now: number): boolean {
    const ip = this.#ip;
    let work = ip.config.expire(now);
    for (const own of [...ip.config.addresses]) {
      if (own.state !== "tentative" || own.dadAt > now) continue;
      work = true;
      if (own.dadLeft > 0) {
        // RFC 4862 §5.4.2: from ::, to the solicited-node group, no source link-layer option.
        const tx = this.#message(Icmpv6Type.NeighborSolicit);
        tx.target = own.address;
        own.dadLeft--;
        own.dadAt = now + ip.neighbors.retransMs;
        this.stats.dadProbes++;
        this.#send(own.address.solicitedNode, IPV6_UNSPECIFIED, undefined, now);
      } else {
        own.state = "preferred";
        own.dadAt = Infinity;
        this.#addressUp(own.address, now);
      }
    }
    if (this.#rsAt <= now) {
      work = true;
      this.#sendRouterSolicit(now);
    }
    if (ip.neighbors.poll(now, (target, mac) => this.solicit(target, mac, now))) work = true;
    return work;
  }

  /** The next DAD, RS, lifetime or neighbor deadline. */
  pollAt(): number | undefined {
    let at = this.#ip.config.pollAt();
    const n = this.#ip.neighbors.pollAt();
    if (n !== undefined && (at === undefined || n < at)) at = n;
    if (this.#rsAt !== Infinity && (at === undefined || this.#rsAt < at)) at = this.#rsAt;
    return at;
  }

  #addressUp(address: Ipv6Address, now: number): void {
    log.debug(`address ${address} is up`);
    if (address.isLinkLocal && this.#options.acceptRa && !this.#gotRa && this.#rsLeft === 0) {
      this.#rsLeft = this.#options.routerSolicitations;
      if (this.#rsLeft > 0) this.#rsAt = now + this.#ip.rng.below(MAX_START_DELAY_MS);
    }
  }

  #sendRouterSolicit(now: number): void {
    const src = this.#ip.config.linkLocal;
    if (src === undefined || this.#gotRa || this.#rsLeft <= 0) {
      this.#rsAt = Infinity;
      return;
    }
    const tx = this.#message(Icmpv6Type.RouterSolicit);
    tx.sourceMac = this.#ip.mac;
    this.stats.txRs++;
    this.#send(IPV6_ALL_ROUTERS, src, undefined, now);
    this.#rsLeft--;
    this.#rsAt = this.#rsLeft > 0 ? now + RS_INTERVAL_MS : Infinity;
  }

  #onSolicit(packet: Ipv6Incoming, repr: NdpRepr, now: number): void {
    const ip = this.#ip;
    const fromUnspecified = packet.src.isUnspecified;
    // RFC 4861 §7.1.1: DAD solicitations go to a solicited-node group and carry no source address.
    if (fromUnspecified && (!packet.dst.isSolicitedNode || repr.sourceMac !== undefined)) {
      this.stats.dropInvalid++;
      return;
    }
    const own = ip.config.find(repr.target);
    if (own === undefined || own.state === "duplicate") return;
    if (own.state === "tentative") {
      // RFC 4862 §5.4.3: another node's DAD for our tentative address means it is a duplicate; a
      // solicitation from a unicast source is address resolution and is ignored.
      if (fromUnspecified) this.#duplicate(repr.target);
      return;
    }
    if (!fromUnspecified && repr.sourceMac !== undefined) {
      ip.neighbors.learn(packet.src, repr.sourceMac, now);
    }
    const tx = this.#message(Icmpv6Type.NeighborAdvert);
    tx.target = repr.target;
    tx.targetMac = ip.mac;
    tx.override = true;
    // RFC 4861 §7.2.4: an answer to DAD goes to all nodes, unsolicited.
    tx.solicited = !fromUnspecified;
    const dst = fromUnspecified ? IPV6_ALL_NODES : packet.src;
    const mac = fromUnspecified ? undefined : repr.sourceMac;
    this.stats.txNa++;
    this.#send(dst, own.address, mac, now);
  }

  #onAdvert(packet: Ipv6Incoming, repr: NdpRepr, now: number): void {
    // RFC 4861 §7.1.2: a solicited advertisement is never multicast.
    if (packet.dst.isMulticast && repr.solicited) {
      this.stats.dropInvalid++;
      return;
    }
    const own = this.#ip.config.find(repr.target);
    if (own !== undefined) {
      if (own.state === "tentative") this.#duplicate(repr.target);
      else {
        this.stats.addressConflicts++;
        log.warn(`another node advertises our address ${repr.target}`);
      }
      return;
    }
    this.#ip.neighbors.advert(repr.target, repr.targetMac, repr, now);
  }

  #onRouterAdvert(packet: Ipv6Incoming, repr: NdpRepr, now: number): void {
    const ip = this.#ip;
    // RFC 4861 §6.1.2: only from a link-local source.
    if (!this.#options.acceptRa || !packet.src.isLinkLocal) {
      this.stats.ignoredRa++;
      return;
    }
    this.#gotRa = true;
    this.#rsAt = Infinity;
    if (repr.sourceMac !== undefined) ip.neighbors.learn(packet.src, repr.sourceMac, now, true);
    ip.config.setRouter(packet.src, now + repr.routerLifetime * 1000, now);
    if (repr.curHopLimit !== 0) ip.hopLimit = repr.curHopLimit;
    if (repr.reachableTime !== 0 && repr.reachableTime !== this.#baseReachable) {
      // RFC 4861 §6.3.4: a new base value is randomised again (§6.3.2).
      this.#baseReachable = repr.reachableTime;
      ip.neighbors.reachableMs = Math.round(repr.reachableTime * (0.5 + ip.rng.next()));
    }
    if (repr.retransTimer !== 0) ip.neighbors.retransMs = repr.retransTimer;
    // RFC 4861 §6.3.4: an MTU outside [1280, the link's] is ignored.
    if (repr.mtu !== undefined && repr.mtu >= IPV6_MIN_MTU && repr.mtu <= ip.ethMtu) {
      ip.linkMtu = repr.mtu;
    }
    if (repr.dnsServers.length > 0) {
      const until = repr.dnsLifetime === 0xffffffff ? Infinity : now + repr.dnsLifetime * 1000;
      // RFC 8106 §5.3.1: a lifetime of zero withdraws the servers.
      this.dnsServers = until <= now
        ? []
        : repr.dnsServers.slice(0, 3).map((address) => ({ address, until }));
      this.onDnsServers?.(this.dnsServers.map((s) => s.address));
    }
    for (const p of repr.prefixes) {
      if (p.prefix.isLinkLocal) continue;
      if (p.onLink) {
        const until = p.validLifetime === 0xffffffff ? Infinity : now + p.validLifetime * 1000;
        ip.config.setPrefix(
          p.prefix.masked(p.prefixLength),
          p.prefixLength,
          until === now ? 0 : until,
        );
      }
      // RFC 4862 §5.5.3: autonomous, a 64-bit interface identifier, preferred no longer than valid.
      if (!p.autonomous || p.preferredLifetime > p.validLifetime) continue;
      if (p.prefixLength !== 64) continue;
      const address = p.prefix.withMacInterfaceId(ip.mac);
      ip.config.slaac(address, 64, p.validLifetime, p.preferredLifetime, now, {
        dadTransmits: this.#options.dadTransmits,
        dadAt: now + ip.rng.below(MAX_START_DELAY_MS),
      });
      const own = ip.config.find(address);
      if (own !== undefined && own.state === "preferred" && this.#options.dadTransmits === 0) {
        this.#addressUp(address, now);
      }
    }
  }

  #onRedirect(packet: Ipv6Incoming, repr: NdpRepr, now: number): void {
    const ip = this.#ip;
    // RFC 4861 §8.1: from the router currently used for the destination, to a link-local or the
    // destination itself as target.
    const current = ip.firstHop(repr.destination);
    const targetOk = repr.target.isLinkLocal || repr.target.equals(repr.destination);
    if (
      !packet.src.isLinkLocal || current === undefined || !current.equals(packet.src) ||
      !targetOk ||
      repr.destination.isMulticast
    ) {
      this.stats.ignoredRedirect++;
      return;
    }
    ip.redirect(repr.destination, repr.target);
    if (repr.targetMac !== undefined) {
      ip.neighbors.learn(repr.target, repr.targetMac, now, !repr.target.equals(repr.destination));
    }
  }

  #duplicate(address: Ipv6Address): void {
    this.stats.dadFailed++;
    this.duplicates.push(address);
    log.warn(`duplicate address detected: ${address}`);
    this.#ip.config.remove(address);
    // RFC 4862 §5.4.5: a duplicate of the address made from our MAC means the MAC itself is shared.
    if (address.equals(Ipv6Address.linkLocalFromMac(this.#ip.mac))) {
      log.error("IPv6 is disabled on this interface: another node uses our MAC");
      this.#ip.disabled = true;
    }
  }

  #message(type: number): NdpRepr {
    const tx = this.#tx;
    tx.type = type;
    tx.sourceMac = undefined;
    tx.targetMac = undefined;
    tx.mtu = undefined;
    tx.prefixes = [];
    tx.router = false;
    tx.solicited = false;
    tx.override = false;
    return tx;
  }

  #send(dst: Ipv6Address, src: Ipv6Address, mac: number | undefined, _now: number): SendResult {
    return this.#ip.sendWith(
      dst,
      58,
      this.#tx.bufferLength,
      this.#fill,
      src,
      { hopLimit: 255 },
      mac,
    );
  }
}
