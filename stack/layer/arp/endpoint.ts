/**
 * The ARP layer (RFC 826): answers requests for the interface's own addresses, resolves next hops for
 * IPv4 through the cache (queueing datagrams meanwhile), retries requests with back-off, and announces
 * its addresses with gratuitous ARP when the interface starts (RFC 5227 §2.3). Replies nobody asked for
 * never overwrite the cache (see `ArpCache.learn`).
 *
 * @module
 */

import { formatIpv4, formatMac, isUnicastMac, MAC_BROADCAST } from "../../wire/address.ts";
import { ARP_PACKET_LENGTH, ArpOperation, ArpPacket, ArpRepr } from "../../wire/arp.ts";
import { EtherType } from "../../wire/ethernet.ts";
import { isWireError } from "../../wire/error.ts";
import { Logger } from "../../util/log.ts";
import type { EthEndpoint, EthIncoming, EthRecv } from "../eth/endpoint.ts";
import { countWireError, newLayerStats } from "../stats.ts";
import { ArpCache, type ArpCacheOptions } from "./cache.ts";

/** Options of the ARP layer. */
export interface ArpOptions extends ArpCacheOptions {
  /** Gratuitous announcements sent at start (default 2, RFC 5227 ANNOUNCE_NUM). */
  announcements?: number;
  /** Time between announcements (ms, default 2000, RFC 5227 ANNOUNCE_INTERVAL). */
  announceIntervalMs?: number;
}

/** Which addresses the interface owns, as ARP needs to know. */
export interface ArpOwner {
  /** True for an address of the interface. */
  hasAddress(ip: number): boolean;
  /** The interface's addresses, announced at start. */
  addressList(): readonly number[];
  /** The own address to use towards `ip`. */
  sourceFor(ip: number): number | undefined;
}

const log = new Logger("arp");

/** RFC 5227 §1.1 DEFEND_INTERVAL: at most one defence of an address per 10 s. */
const DEFEND_INTERVAL_MS = 10_000;

/** The ARP endpoint of an interface; `T` is a datagram queued until its next hop resolves. */
export class ArpEndpoint<T extends { readonly size: number }> implements EthRecv {
  /** Counters of the protocol; the cache keeps its own in `cache.stats`. */
  readonly stats = newLayerStats(
    "rxRequests",
    "rxReplies",
    "txRequests",
    "txReplies",
    "txAnnouncements",
    "txDefenses",
    "dropBadSender",
    "ignoredNotForUs",
    "addressConflicts",
    "txBusy",
  );
  /** The neighbour cache. */
  readonly cache: ArpCache<T>;
  /** Called with the datagrams that waited for `ip` once it resolved to `mac`. */
  onResolved: (ip: number, mac: number, items: T[], now: number) => void = () => {};
  /** Called with the datagrams dropped because `ip` never answered. */
  onUnresolved: (ip: number, items: T[]) => void = () => {};
  #eth: EthEndpoint;
  #owner: ArpOwner;
  #view = new ArpPacket();
  #rx = new ArpRepr();
  #tx = new ArpRepr();
  #fill: (bytes: Uint8Array, offset: number, length: number) => void;
  #request: (ip: number) => void;
  #announceLeft = 0;
  #announceAt = 0;
  #announceInterval: number;
  #announceTotal: number;
  #defendedAt = -Infinity;
  #now = 0;
  #dropped: (ip: number, items: T[]) => void;

  /** Creates the layer and registers it with `eth` for EtherType 0x0806. */
  constructor(eth: EthEndpoint, owner: ArpOwner, options: ArpOptions = {}) {
    this.#eth = eth;
    this.#owner = owner;
    this.cache = new ArpCache<T>(options);
    this.#announceTotal = options.announcements ?? 2;
    this.#announceInterval = options.announceIntervalMs ?? 2000;
    this.#fill = (bytes, offset) =>
      this.#tx.emit(this.#view.wrap(bytes, offset, ARP_PACKET_LENGTH));
    this.#request = (ip) => this.#sendRequest(ip, this.#now);
    this.#dropped = (ip, items) => {
      if (log.enabled("info")) {
        log.info(`${formatIpv4(ip)} did not answer; dropped ${items.length} datagrams`);
      }
      this.onUnresolved(ip, items);
    };
    eth.register(EtherType.Arp, this);
  }

  /** The MAC of `ip` if known and fresh (no side effects). */
  lookup(ip: number, now: number): number | undefined {
    return this.cache.lookup(ip, now);
  }

  /**
   * The MAC to send a datagram for `ip` to, or undefined when it must be resolved first. An entry past
   * its lifetime is still used for a grace period while unicast requests revalidate it.
   */
  lookupForSend(ip: number, now: number): number | undefined {
    const cache = this.cache;
    const mac = cache.lookupForSend(ip, now);
    if (cache.probeDue) {
      cache.probeDue = false;
      this.#sendRequest(ip, now, cache.probeBroadcast ? MAC_BROADCAST : mac);
    }
    return mac;
  }

  /**
   * Queues `item` until `ip` resolves, sending a request when none is outstanding. Returns "queued", or
   * "full" when a bound refused it (counted by the cache).
   */
  resolve(ip: number, item: T, now: number): "queued" | "full" {
    const result = this.cache.enqueue(ip, item, now);
    if (result === "request" || result === "request-full") this.#sendRequest(ip, now);
    return result === "request" || result === "queued" ? "queued" : "full";
  }

  /** Starts the gratuitous announcements of the own addresses (on the next poll). */
  announce(now: number): void {
    this.#announceLeft = this.#announceTotal;
    this.#announceAt = now;
  }

  /** Handles one ARP packet. */
  receive(packet: EthIncoming, now: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    const repr = ArpRepr.parse(
      this.#view.wrap(packet.bytes, packet.offset, packet.length),
      this.#rx,
    );
    if (isWireError(repr)) {
      countWireError(stats, repr);
      return;
    }
    const isRequest = repr.operation === ArpOperation.Request;
    if (isRequest) stats.rxRequests++;
    else stats.rxReplies++;
    const senderMac = repr.senderMac;
    const senderIp = repr.senderIp;
    if (!isUnicastMac(senderMac) || senderMac === 0 || senderMac === this.#eth.mac) {
      stats.dropBadSender++;
      return;
    }
    if (senderIp !== 0 && this.#owner.hasAddress(senderIp)) {
      // Someone else claims our address. RFC 5227 §2.4 (b): keep it and defend it with one
      // announcement, unless we defended within the last DEFEND_INTERVAL, so that neighbours whose
      // caches the claim updated switch back to us.
      stats.addressConflicts++;
      log.warn(`${formatMac(senderMac)} claims our address ${formatIpv4(senderIp)}`);
      if (now - this.#defendedAt >= DEFEND_INTERVAL_MS) {
        this.#defendedAt = now;
        this.#announceOne(senderIp, now);
        stats.txDefenses++;
      }
      return;
    }
    const targetIp = repr.targetIp;
    const forUs = this.#owner.hasAddress(targetIp);
    if (senderIp !== 0) {
      // RFC 826 "merge": refresh what we know; a request to us may also create an entry, since we are
      // about to talk to its sender. Replies only complete a request we made.
      const waiting = this.cache.learn(senderIp, senderMac, now, forUs && isRequest);
      if (waiting !== undefined) {
        if (log.enabled("debug")) {
          log.debug(
            `${formatIpv4(senderIp)} is at ${formatMac(senderMac)}; sending ${waiting.length}`,
          );
        }
        this.onResolved(senderIp, senderMac, waiting, now);
      }
    }
    if (!forUs) {
      stats.ignoredNotForUs++;
      return;
    }
    if (isRequest) {
      const tx = this.#tx;
      tx.operation = ArpOperation.Reply;
      tx.senderMac = this.#eth.mac;
      tx.senderIp = targetIp;
      tx.targetMac = senderMac;
      // An RFC 5227 probe (sender 0.0.0.0) is answered too; the reply goes to the asker's MAC.
      tx.targetIp = senderIp;
      if (this.#transmit(senderMac, now)) stats.txReplies++;
    }
  }

  /** Runs request retries and pending announcements; true when it did work. */
  poll(now: number): boolean {
    this.#now = now;
    let work = this.cache.poll(now, this.#request, this.#dropped);
    if (this.#announceLeft > 0 && now >= this.#announceAt) {
      let all = true;
      for (const ip of this.#owner.addressList()) {
        if (!this.#announceOne(ip, now)) all = false;
      }
      // A busy NIC retries on the next poll rather than skipping the announcement.
      if (all) {
        this.#announceLeft--;
        this.#announceAt = now + this.#announceInterval;
      }
      work = true;
    }
    return work;
  }

  /** The next retry or announcement due, or undefined. */
  pollAt(): number | undefined {
    const retry = this.cache.pollAt();
    if (this.#announceLeft === 0) return retry;
    return retry === undefined || this.#announceAt < retry ? this.#announceAt : retry;
  }

  /** Broadcasts one announcement of the own address `ip` (RFC 5227 §2.3); false when the NIC is busy. */
  #announceOne(ip: number, now: number): boolean {
    const tx = this.#tx;
    tx.operation = ArpOperation.Request;
    tx.senderMac = this.#eth.mac;
    tx.senderIp = ip;
    tx.targetMac = 0;
    tx.targetIp = ip;
    const sent = this.#transmit(MAC_BROADCAST, now);
    if (sent) this.stats.txAnnouncements++;
    return sent;
  }

  /** Sends a request for `ip` now (also used for retries), broadcast unless `to` names a MAC. */
  #sendRequest(ip: number, now: number, to = MAC_BROADCAST): void {
    const tx = this.#tx;
    tx.operation = ArpOperation.Request;
    tx.senderMac = this.#eth.mac;
    tx.senderIp = this.#owner.sourceFor(ip) ?? 0;
    tx.targetMac = 0;
    tx.targetIp = ip;
    if (this.#transmit(to, now)) this.stats.txRequests++;
  }

  #transmit(dst: number, now: number): boolean {
    const sent = this.#eth.send(dst, EtherType.Arp, ARP_PACKET_LENGTH, this.#fill, now);
    if (sent) this.stats.txPackets++;
    else this.stats.txBusy++;
    return sent;
  }
}
