/**
 * The IPv6 neighbor cache (RFC 4861 §7.3): entries in the states INCOMPLETE, REACHABLE, STALE, DELAY
 * and PROBE, with the transitions of Appendix C, a bounded queue of packets per unresolved neighbor,
 * and a bounded number of entries. It decides; the caller sends: `poll` reports which solicitations are
 * due through a callback. It never reads a clock.
 *
 * @module
 */

import type { Ipv6Address } from "../../wire/ipv6_address.ts";

/** Neighbor states (RFC 4861 §7.3.2). */
export type NeighborState = "incomplete" | "reachable" | "stale" | "delay" | "probe";

/** Timings and limits (RFC 4861 §10 defaults). */
export interface NeighborCacheOptions {
  /** Most entries (default 256). */
  maxEntries?: number;
  /** Packets queued behind one unresolved neighbor (default 8; RFC 4861 §7.2.2 asks for at least 1). */
  pendingPerEntry?: number;
  /** Time between solicitations (ms, RetransTimer, default 1000). */
  retransMs?: number;
  /** REACHABLE lifetime (ms, ReachableTime, default 30 000). */
  reachableMs?: number;
  /** DELAY_FIRST_PROBE_TIME (ms, default 5000). */
  delayMs?: number;
  /** MAX_MULTICAST_SOLICIT and MAX_UNICAST_SOLICIT (default 3). */
  maxSolicit?: number;
}

/** Counters. */
export interface NeighborCacheStats {
  [counter: string]: number;
  learned: number;
  evicted: number;
  dropCacheFull: number;
  dropPendingFull: number;
  dropUnresolved: number;
  solicits: number;
  unreachable: number;
}

/** One neighbor. */
export interface Neighbor {
  address: Ipv6Address;
  /** -1 while incomplete. */
  mac: number;
  state: NeighborState;
  isRouter: boolean;
  /** Solicitations sent in INCOMPLETE or PROBE. */
  probes: number;
  /** When the state's timer fires. */
  deadline: number;
  /** Whole IPv6 packets waiting for the link-layer address. */
  pending: Uint8Array[];
}

/** How a solicitation is due: multicast (resolution) or unicast to the known MAC (NUD probe). */
export type SolicitFn = (target: Ipv6Address, unicastMac: number | undefined) => void;

/** The neighbor cache of one interface. */
export class NeighborCache {
  /** Counters. */
  readonly stats: NeighborCacheStats = {
    learned: 0,
    evicted: 0,
    dropCacheFull: 0,
    dropPendingFull: 0,
    dropUnresolved: 0,
    solicits: 0,
    unreachable: 0,
  };
  /** Called with the packets of a neighbor that just resolved. */
  onResolved: (neighbor: Neighbor, packets: Uint8Array[], now: number) => void = () => {};
  /** Called when a router's entry is removed as unreachable (to drop it from the router list). */
  onUnreachable: (address: Ipv6Address) => void = () => {};
  #entries = new Map<string, Neighbor>();
  #max: number;
  #pendingMax: number;
  retransMs: number;
  reachableMs: number;
  #delayMs: number;
  #maxSolicit: number;

  /** Creates an empty cache. */
  constructor(options: NeighborCacheOptions = {}) {
    this.#max = Math.max(1, options.maxEntries ?? 256);
    this.#pendingMax = Math.max(1, options.pendingPerEntry ?? 8);
    this.retransMs = options.retransMs ?? 1000;
    this.reachableMs = options.reachableMs ?? 30_000;
    this.#delayMs = options.delayMs ?? 5000;
    this.#maxSolicit = options.maxSolicit ?? 3;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry of `address`, if any (for tests and diagnostics). */
  get(address: Ipv6Address): Neighbor | undefined {
    return this.#entries.get(address.key);
  }

  /**
   * The MAC to send to `address`, or undefined when unresolved. Sending to a STALE entry starts the
   * DELAY timer (RFC 4861 §7.3.3).
   */
  lookup(address: Ipv6Address, now: number): number | undefined {
    const entry = this.#entries.get(address.key);
    if (entry === undefined || entry.mac < 0) return undefined;
    if (entry.state === "stale") {
      entry.state = "delay";
      entry.deadline = now + this.#delayMs;
    }
    return entry.mac;
  }

  /**
   * Queues `packet` behind the resolution of `address`: "request" when a new INCOMPLETE entry needs its
   * first solicitation now, "queued" when one is outstanding, "full" when a bound refused it.
   */
  enqueue(address: Ipv6Address, packet: Uint8Array, now: number): "request" | "queued" | "full" {
    let entry = this.#entries.get(address.key);
    if (entry === undefined) {
      if (!this.#makeRoom()) {
        this.stats.dropCacheFull++;
        return "full";
      }
      entry = {
        address,
        mac: -1,
        state: "incomplete",
        isRouter: false,
        probes: 1,
        deadline: now + this.retransMs,
        pending: [packet],
      };
      this.#entries.set(address.key, entry);
      this.stats.solicits++;
      return "request";
    }
    if (entry.mac >= 0) {
      // Resolved meanwhile: the caller should have used lookup; hand the packet straight back.
      this.onResolved(entry, [packet], now);
      return "queued";
    }
    if (entry.pending.length >= this.#pendingMax) {
      // RFC 4861 §7.2.2: when the queue overflows, the oldest packet goes.
      entry.pending.shift();
      this.stats.dropPendingFull++;
    }
    entry.pending.push(packet);
    return "queued";
  }

  /**
   * Records a link-layer address learned from a solicitation, RS, RA or redirect (RFC 4861 §7.2.3,
   * §6.3.4, §8.3): a new or changed entry becomes STALE; an INCOMPLETE one releases its queue.
   */
  learn(address: Ipv6Address, mac: number, now: number, isRouter?: boolean): void {
    let entry = this.#entries.get(address.key);
    if (entry === undefined) {
      if (!this.#makeRoom()) {
        this.stats.dropCacheFull++;
        return;
      }
      entry = {
        address,
        mac,
        state: "stale",
        isRouter: isRouter ?? false,
        probes: 0,
        deadline: Infinity,
        pending: [],
      };
      this.#entries.set(address.key, entry);
      this.stats.learned++;
      return;
    }
    if (isRouter !== undefined) entry.isRouter = isRouter;
    if (entry.mac !== mac) {
      const wasIncomplete = entry.mac < 0;
      entry.mac = mac;
      entry.state = "stale";
      entry.deadline = Infinity;
      entry.probes = 0;
      this.stats.learned++;
      if (wasIncomplete) this.#release(entry, now);
    }
  }

  /**
   * Applies a neighbor advertisement (RFC 4861 §7.2.5). `mac` is the target link-layer option, if any.
   * Returns false when no entry exists (unsolicited advertisements create none).
   */
  advert(
    target: Ipv6Address,
    mac: number | undefined,
    flags: { solicited: boolean; override: boolean; router: boolean },
    now: number,
  ): boolean {
    const entry = this.#entries.get(target.key);
    if (entry === undefined) return false;
    const wasRouter = entry.isRouter;
    if (entry.mac < 0) {
      if (mac === undefined) return true;
      entry.mac = mac;
      entry.isRouter = flags.router;
      this.#confirm(entry, flags.solicited, now);
      this.stats.learned++;
      this.#release(entry, now);
      return true;
    }
    const same = mac === undefined || mac === entry.mac;
    if (!flags.override && !same) {
      // A different address without override only makes a REACHABLE entry suspect.
      if (entry.state === "reachable") {
        entry.state = "stale";
        entry.deadline = Infinity;
      }
      return true;
    }
    if (mac !== undefined && mac !== entry.mac) {
      entry.mac = mac;
      this.stats.learned++;
      if (!flags.solicited) {
        entry.state = "stale";
        entry.deadline = Infinity;
      }
    }
    if (flags.solicited) this.#confirm(entry, true, now);
    entry.isRouter = flags.router;
    if (wasRouter && !flags.router) this.onUnreachable(entry.address);
    return true;
  }

  /** Forward progress from an upper layer (RFC 4861 §7.3.1) confirms reachability. */
  confirm(address: Ipv6Address, now: number): void {
    const entry = this.#entries.get(address.key);
    if (entry !== undefined && entry.mac >= 0) this.#confirm(entry, true, now);
  }

  /** Removes an entry. */
  remove(address: Ipv6Address): void {
    this.#entries.delete(address.key);
  }

  /** Runs the state timers; `solicit` is called for each solicitation due. */
  poll(now: number, solicit: SolicitFn): boolean {
    let work = false;
    for (const [key, entry] of this.#entries) {
      if (entry.deadline > now) continue;
      work = true;
      switch (entry.state) {
        case "reachable":
          entry.state = "stale";
          entry.deadline = Infinity;
          break;
        case "delay":
          entry.state = "probe";
          entry.probes = 1;
          entry.deadline = now + this.retransMs;
          this.stats.solicits++;
          solicit(entry.address, entry.mac);
          break;
        case "incomplete":
        case "probe":
          if (entry.probes >= this.#maxSolicit) {
            this.#entries.delete(key);
            this.stats.unreachable++;
            this.stats.dropUnresolved += entry.pending.length;
            if (entry.isRouter) this.onUnreachable(entry.address);
            break;
          }
          entry.probes++;
          entry.deadline = now + this.retransMs;
          this.stats.solicits++;
          solicit(entry.address, entry.state === "probe" ? entry.mac : undefined);
          break;
        default:
          entry.deadline = Infinity;
      }
    }
    return work;
  }

  /** The earliest timer, or undefined. */
  pollAt(): number | undefined {
    let at = Infinity;
    for (const entry of this.#entries.values()) if (entry.deadline < at) at = entry.deadline;
    return at === Infinity ? undefined : at;
  }

  #confirm(entry: Neighbor, reachable: boolean, now: number): void {
    entry.probes = 0;
    if (reachable) {
      entry.state = "reachable";
      entry.deadline = now + this.reachableMs;
    } else {
      entry.state = "stale";
      entry.deadline = Infinity;
    }
  }

  #release(entry: Neighbor, now: number): void {
    if (entry.pending.length === 0) return;
    const packets = entry.pending;
    entry.pending = [];
    this.onResolved(entry, packets, now);
  }

  /** Frees a slot when full: the first STALE entry, else any resolved one; false when all resolve. */
  #makeRoom(): boolean {
    if (this.#entries.size < this.#max) return true;
    let victim: string | undefined;
    for (const [key, entry] of this.#entries) {
      if (entry.state === "stale") {
        victim = key;
        break;
      }
      if (victim === undefined && entry.mac >= 0) victim = key;
    }
    if (victim === undefined) return false;
    this.#entries.delete(victim);
    this.stats.evicted++;
    return true;
  }
}
