/**
 * An `Interface` owns one NIC and the layer endpoints above it (eth → arp / ipv4 → icmp / udp, and
 * attached transports such as TCP), and drives them with `poll(now)`: drain the NIC's receive side, run
 * every layer's timers, let Send handlers and transports transmit, flush the NIC. `pollAt(now)` gives
 * the next deadline so that a runtime can sleep until then. Nothing here reads a clock.
 *
 * @module
 */

import type { Nic } from "../nic/nic.ts";
import { Rng } from "../util/rng.ts";
import { Logger } from "../util/log.ts";
import type { Ipv4Cidr } from "../wire/address.ts";
import { ArpEndpoint, type ArpOptions } from "./arp/endpoint.ts";
import { EthEndpoint } from "./eth/endpoint.ts";
import { earliest, runSenders, sendersPollAt } from "./handler.ts";
import { IcmpEndpoint, type IcmpOptions } from "./icmp/endpoint.ts";
import type { Ipv4Sender, TransportHandler } from "./ipv4/contract.ts";
import { Ipv4Endpoint, type PendingDatagram } from "./ipv4/endpoint.ts";
import { UdpEndpoint } from "./udp/endpoint.ts";
import { Ipv6Endpoint, type Ipv6Options } from "./ipv6/endpoint.ts";
import { Udp6 } from "./ipv6/udp.ts";

/** A transport plugged in with `attach` (TCP, or an app's own protocol). */
export interface Transport extends TransportHandler {
  /** Transmits due segments and runs timers; true when it did work. */
  poll(now: number, ip: Ipv4Sender): boolean;
  /** The next time it needs a poll, or undefined. */
  pollAt(now: number): number | undefined;
  /** Counters, reported by `Interface.stats()`. */
  readonly stats?: Record<string, number>;
}

/** Options of an interface. */
export interface InterfaceOptions {
  /** Own addresses with prefixes, such as `Ipv4Cidr.parse("10.0.0.1/24")`. */
  addresses?: Ipv4Cidr[];
  /** The default gateway. */
  gateway?: number;
  /** Seeds identification numbers and ephemeral ports (default: from crypto). */
  rng?: Rng;
  /** The MAC to use (default: the NIC's). */
  mac?: number;
  /** Put the interface on this 802.1Q VLAN. */
  vlanId?: number;
  /** Accept every frame (for captures and bridges). */
  promiscuous?: boolean;
  arp?: ArpOptions;
  ipv4?: {
    defaultTtl?: number;
    reassemblyBytes?: number;
    reassemblyTimeoutMs?: number;
    reassemblyDatagrams?: number;
  };
  icmp?: IcmpOptions;
  /** IPv6 (dual stack is the default: link-local address, DAD, SLAAC from RAs); false turns it off. */
  ipv6?: Ipv6Options | false;
  /** Frames received per `poll` at most, so that sending is not starved (default 256). */
  rxBudget?: number;
  /** Announce the addresses with gratuitous ARP on the first poll (default true). */
  announce?: boolean;
  /**
   * The stack's clock, read only when an app sends outside `poll` (from a timer), so that such frames
   * carry the current time; the runtime's clock in apps, nothing in virtual-clock tests.
   */
  clock?: () => number;
}

const log = new Logger("iface");

/** One network interface: a NIC and its layers. */
export class Interface {
  /** The NIC the interface owns. */
  readonly nic: Nic;
  /** The Ethernet layer: MAC filter, VLAN, raw Recv/Send handlers by EtherType. */
  readonly eth: EthEndpoint;
  /** ARP: the neighbour cache and its requests. */
  readonly arp: ArpEndpoint<PendingDatagram>;
  /** IPv4: addresses, routes, reassembly, transports by protocol. */
  readonly ipv4: Ipv4Endpoint;
  /** ICMPv4: echo, ping, errors. */
  readonly icmp: IcmpEndpoint;
  /** UDP: port bindings. */
  readonly udp: UdpEndpoint;
  /** The IPv6 layer, unless turned off with `ipv6: false`. */
  readonly ipv6: Ipv6Endpoint | undefined;
  /** UDP over IPv6, sharing `udp`'s ports. */
  readonly udp6: Udp6 | undefined;
  /** Counters of the interface itself. */
  readonly counters = { polls: 0, handlerErrors: 0 };
  #transports: { protocol: number; transport: Transport; remove: () => void }[] = [];
  #statsSources = new Map<string, () => Record<string, number>>();
  #rxBudget: number;
  #started = false;
  #announce: boolean;
  #now = 0;
  #onFrame: (bytes: Uint8Array, offset: number, length: number) => void;

  /** Builds the layers over `nic`. */
  constructor(nic: Nic, options: InterfaceOptions = {}) {
    const rng = options.rng ?? Rng.fromCrypto();
    this.nic = nic;
    this.eth = new EthEndpoint(nic, {
      mac: options.mac,
      vlanId: options.vlanId,
      promiscuous: options.promiscuous,
    });
    // ARP asks the IPv4 layer which addresses are ours; the late binding breaks the cycle.
    const owner = {
      hasAddress: (ip: number) => this.ipv4.hasAddress(ip),
      addressList: () => this.ipv4.addressList(),
      sourceFor: (ip: number) => this.ipv4.sourceFor(ip),
    };
    this.arp = new ArpEndpoint<PendingDatagram>(this.eth, owner, options.arp);
    this.ipv4 = new Ipv4Endpoint(this.eth, this.arp, {
      addresses: options.addresses,
      gateway: options.gateway,
      rng,
      clock: options.clock,
      tsoMaxBytes: nic.caps.tsoMaxBytes,
      ...options.ipv4,
    });
    this.icmp = new IcmpEndpoint(this.ipv4, options.icmp);
    this.udp = new UdpEndpoint(this.ipv4, {
      rxChecksumVerified: nic.caps.rxChecksumVerified,
      txChecksumOffload: nic.caps.txChecksumOffload,
      rng,
    });
    if (options.ipv6 !== false) {
      this.ipv6 = new Ipv6Endpoint(this.eth, { rng, clock: options.clock, ...options.ipv6 });
      this.udp6 = new Udp6(this.ipv6, this.udp, {
        rxChecksumVerified: nic.caps.rxChecksumVerified,
      });
    }
    this.#rxBudget = Math.max(1, options.rxBudget ?? 256);
    this.#announce = options.announce ?? true;
    this.#onFrame = (bytes, offset, length) => {
      try {
        this.eth.receive(bytes, offset, length, this.#now);
      } catch (error) {
        // The layers drop bad input without throwing; this is an app's handler failing. Keep serving.
        this.counters.handlerErrors++;
        log.error(`handler failed: ${error instanceof Error ? error.stack : String(error)}`);
      }
    };
  }

  /** Plugs in a transport for `protocol` (TCP is 6); the returned function detaches it. */
  attach(protocol: number, transport: Transport): () => void {
    const remove = this.ipv4.register(protocol, transport);
    const entry = { protocol, transport, remove };
    this.#transports.push(entry);
    return () => {
      const i = this.#transports.indexOf(entry);
      if (i >= 0) this.#transports.splice(i, 1);
      remove();
    };
  }

  /** Receives, runs timers and transmits; true when it did any work. */
  poll(now: number): boolean {
    this.#now = now;
    this.counters.polls++;
    this.ipv4.enterPoll(now);
    this.ipv6?.enterPoll(now);
    try {
      return this.#poll(now);
    } finally {
      this.ipv4.leavePoll();
      this.ipv6?.leavePoll();
    }
  }

  #poll(now: number): boolean {
    let work = false;
    if (!this.#started) {
      this.#started = true;
      if (this.#announce) this.arp.announce(now);
    }
    const received = this.nic.receive(now, this.#onFrame, this.#rxBudget);
    if (received > 0) work = true;
    if (this.arp.poll(now)) work = true;
    if (this.ipv4.poll(now)) work = true;
    if (this.ipv6?.poll(now)) work = true;
    for (const { transport } of this.#transports) {
      if (transport.poll(now, this.ipv4)) work = true;
    }
    if (this.udp.poll(now)) work = true;
    const ethSenders = this.eth.senders;
    if (ethSenders.length > 0 && runSenders(ethSenders, this.eth, now)) work = true;
    this.nic.flush(now);
    // A full budget means more frames may be waiting: report work so that the caller polls again.
    return work || received >= this.#rxBudget;
  }

  /** The next deadline of any layer, transport or the NIC, or undefined when nothing is pending. */
  pollAt(now: number): number | undefined {
    if (!this.#started) return now;
    let at = earliest(this.arp.pollAt(), this.ipv4.pollAt(now));
    at = earliest(at, this.ipv6?.pollAt(now));
    for (const { transport } of this.#transports) at = earliest(at, transport.pollAt(now));
    at = earliest(at, this.udp.pollAt(now));
    at = sendersPollAt(this.eth.senders, now, at);
    return earliest(at, this.nic.pollAt?.(now));
  }

  /**
   * Adds a named group of counters to `stats()`, for layers attached from outside (TCP over IPv6);
   * returns the function that removes it.
   */
  addStats(name: string, source: () => Record<string, number>): () => void {
    this.#statsSources.set(name, source);
    return () => {
      if (this.#statsSources.get(name) === source) this.#statsSources.delete(name);
    };
  }

  /** Every counter, grouped by layer. */
  stats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {
      nic: { ...this.nic.stats },
      eth: { ...this.eth.stats },
      arp: { ...this.arp.stats },
      arpCache: { ...this.arp.cache.stats },
      ipv4: { ...this.ipv4.stats },
      reassembly: { ...this.ipv4.reassembler.stats },
      icmp: { ...this.icmp.stats },
      udp: { ...this.udp.stats },
      iface: { ...this.counters },
    };
    if (this.ipv6 !== undefined) {
      out.ipv6 = { ...this.ipv6.stats };
      out.icmpv6 = { ...this.ipv6.icmp.stats };
      out.ndp = { ...this.ipv6.ndp.stats };
      out.neighbors = { ...this.ipv6.neighbors.stats };
      out.reassembly6 = { ...this.ipv6.reassembler.stats };
      out.mld = { ...this.ipv6.mld.stats };
      if (this.udp6 !== undefined) out.udp6 = { ...this.udp6.stats };
    }
    for (const { protocol, transport } of this.#transports) {
      if (transport.stats !== undefined) {
        out[protocol === 6 ? "tcp" : `proto${protocol}`] = { ...transport.stats };
      }
    }
    for (const [name, source] of this.#statsSources) out[name] = { ...source() };
    return out;
  }
}
