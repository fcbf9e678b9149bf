/**
 * The ARP neighbour cache: IPv4 → MAC entries with expiry, incomplete entries that hold a bounded queue of
 * datagrams waiting for resolution, and request retries with exponential back-off. Every bound has a
 * counter that says when it bit. It never reads a clock: callers pass `now`.
 *
 * @module
 */

/** Limits and timings of the cache. */
export interface ArpCacheOptions {
  /** How long a resolved entry is trusted (ms, default 60 000). */
  entryTtlMs?: number;
  /** Most entries, complete or not (default 512). */
  maxEntries?: number;
  /** Most datagrams queued behind one unresolved address (default 8). */
  pendingPerEntry?: number;
  /** Most bytes queued behind all unresolved addresses (default 256 KiB). */
  pendingBytes?: number;
  /** Delay before the first retry of a request; doubled on each retry (ms, default 1000). */
  retryMs?: number;
  /** Retries after the first request before giving up (default 3). */
  maxRetries?: number;
  /**
   * How long past its lifetime an entry still in use keeps being used while unicast requests revalidate
   * it (ms, default 5000; RFC 1122 §2.3.2.1), so that busy traffic never stalls on a routine expiry.
   */
  staleMs?: number;
}

/** Counters of the cache. */
export interface ArpCacheStats {
  [counter: string]: number;
  /** Entries created or refreshed from the wire. */
  learned: number;
  /** Complete entries evicted to make room. */
  evicted: number;
  /** Lookups that found an entry past its lifetime. */
  expired: number;
  /** New addresses refused because every entry was busy resolving. */
  dropCacheFull: number;
  /** Datagrams refused because an entry's queue or the byte budget was full. */
  dropPendingFull: number;
  /** Datagrams dropped because their address never resolved. */
  dropUnresolved: number;
  /** Requests sent again after no reply. */
  retries: number;
  /** Replies ignored because nobody asked (poisoning resistance). */
  ignoredUnsolicited: number;
  /** Learned MACs that differed from a trusted entry and were not applied. */
  conflicts: number;
  /** Unicast requests revalidating an entry past its lifetime. */
  probes: number;
}

/**
 * What `enqueue` did: "request" (queued; send the first request now), "queued" (a request is already
 * outstanding), "full" (refused by a bound, counted) or "request-full" (refused, but a new entry needs
 * its first request).
 */
export type EnqueueResult = "queued" | "request" | "full" | "request-full";

interface Entry<T> {
  ip: number;
  /** -1 while incomplete. */
  mac: number;
  expiresAt: number;
  retries: number;
  nextRetryAt: number;
  pending: T[];
  pendingBytes: number;
  /** Completed by an answer to our own request, rather than created from someone's request. */
  solicited: boolean;
  /** Creation order, to find the newest entry. */
  order: number;
}

/** An IPv4 → MAC cache; `T` is a queued datagram. */
export class ArpCache<T extends { readonly size: number }> {
  /** Counters. */
  readonly stats: ArpCacheStats = {
    learned: 0,
    evicted: 0,
    expired: 0,
    dropCacheFull: 0,
    dropPendingFull: 0,
    dropUnresolved: 0,
    retries: 0,
    ignoredUnsolicited: 0,
    conflicts: 0,
    probes: 0,
  };
  /** Set by `lookupForSend` when the caller must send a request to revalidate the entry. */
  probeDue = false;
  /** With `probeDue`: broadcast the request (the unicast one went unanswered). */
  probeBroadcast = false;
  #entries = new Map<number, Entry<T>>();
  #ttl: number;
  #max: number;
  #perEntry: number;
  #maxPendingBytes: number;
  #pendingBytes = 0;
  /** Entries still resolving, so that polls skip the scan when there are none (the usual case). */
  #resolving = 0;
  #retryMs: number;
  #maxRetries: number;
  #staleMs: number;
  #created = 0;

  /** Creates an empty cache. */
  constructor(options: ArpCacheOptions = {}) {
    this.#ttl = options.entryTtlMs ?? 60_000;
    this.#max = Math.max(1, options.maxEntries ?? 512);
    this.#perEntry = Math.max(0, options.pendingPerEntry ?? 8);
    this.#maxPendingBytes = options.pendingBytes ?? 256 * 1024;
    this.#retryMs = options.retryMs ?? 1000;
    this.#maxRetries = options.maxRetries ?? 3;
    this.#staleMs = options.staleMs ?? 5000;
  }

  /** Number of entries, complete or not. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes queued behind unresolved addresses. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The MAC of `ip` if it is resolved and fresh, else undefined. */
  lookup(ip: number, now: number): number | undefined {
    const entry = this.#entries.get(ip);
    if (entry === undefined || entry.mac < 0) return undefined;
    if (now < entry.expiresAt) return entry.mac;
    if (now >= entry.expiresAt + this.#staleMs) this.#expire(entry);
    return undefined;
  }

  /**
   * The MAC to send to `ip`: a fresh entry's, or a stale one's during the grace period, setting
   * `probeDue` when a unicast request should revalidate it now. Undefined when it must be resolved.
   */
  lookupForSend(ip: number, now: number): number | undefined {
    const entry = this.#entries.get(ip);
    if (entry === undefined || entry.mac < 0) return undefined;
    if (now < entry.expiresAt) return entry.mac;
    if (now < entry.expiresAt + this.#staleMs) {
      if (now >= entry.nextRetryAt) {
        // The first probe goes to the known MAC (RFC 1122 §2.3.2.1); if it stays unanswered, the
        // MAC may be wrong, so later ones are broadcast.
        this.probeBroadcast = entry.nextRetryAt > entry.expiresAt;
        entry.nextRetryAt = now + this.#retryMs;
        this.probeDue = true;
        this.stats.probes++;
      }
      return entry.mac;
    }
    this.#expire(entry);
    return undefined;
  }

  /** True while a request for `ip` is outstanding. */
  isResolving(ip: number): boolean {
    const entry = this.#entries.get(ip);
    return entry !== undefined && entry.mac < 0;
  }

  /** Queues `item` until `ip` resolves (see `EnqueueResult`). */
  enqueue(ip: number, item: T, now: number): EnqueueResult {
    let entry = this.#entries.get(ip);
    if (entry !== undefined && entry.mac >= 0) {
      // A stale complete entry: resolve it again, as if it were new.
      this.#entries.delete(ip);
      entry = undefined;
    }
    let fresh = false;
    if (entry === undefined) {
      if (!this.#makeRoom(now, false)) {
        this.stats.dropCacheFull++;
        return "full";
      }
      entry = {
        ip,
        mac: -1,
        expiresAt: Infinity,
        retries: 0,
        nextRetryAt: now + this.#retryMs,
        pending: [],
        pendingBytes: 0,
        solicited: false,
        order: this.#created++,
      };
      this.#entries.set(ip, entry);
      this.#resolving++;
      fresh = true;
    }
    if (
      entry.pending.length >= this.#perEntry ||
      this.#pendingBytes + item.size > this.#maxPendingBytes
    ) {
      this.stats.dropPendingFull++;
      return fresh ? "request-full" : "full";
    }
    entry.pending.push(item);
    entry.pendingBytes += item.size;
    this.#pendingBytes += item.size;
    return fresh ? "request" : "queued";
  }

  /**
   * Records `ip` at `mac` from the wire. An outstanding entry is completed and a trusted one refreshed
   * only when the MAC agrees: a fresh entry is never overwritten with another MAC, which keeps an attacker
   * from redirecting traffic (ARP poisoning). A missing entry is created only when `mayCreate` (a request
   * addressed to us, RFC 826 "merge"), never from an unsolicited reply. Returns the datagrams that were
   * waiting, or undefined.
   */
  learn(ip: number, mac: number, now: number, mayCreate: boolean): T[] | undefined {
    const entry = this.#entries.get(ip);
    if (entry === undefined) {
      if (!mayCreate) {
        this.stats.ignoredUnsolicited++;
        return undefined;
      }
      if (!this.#makeRoom(now, true)) {
        this.stats.dropCacheFull++;
        return undefined;
      }
      // For a complete entry, `nextRetryAt` is when a stale entry may next be probed.
      this.#entries.set(ip, {
        ip,
        mac,
        expiresAt: now + this.#ttl,
        retries: 0,
        nextRetryAt: now + this.#ttl,
        pending: [],
        pendingBytes: 0,
        solicited: false,
        order: this.#created++,
      });
      this.stats.learned++;
      return undefined;
    }
    if (entry.mac >= 0) {
      // Another MAC replaces only an entry past its lifetime, and only from a request to us (which
      // would have created the entry anew) or while we probe it: the peer changed its card.
      const stale = now >= entry.expiresAt;
      const probing = entry.nextRetryAt > entry.expiresAt;
      if (entry.mac !== mac && !(stale && (mayCreate || probing))) {
        this.stats.conflicts++;
        return undefined;
      }
      entry.mac = mac;
      entry.expiresAt = entry.nextRetryAt = now + this.#ttl;
      this.stats.learned++;
      return undefined;
    }
    // An outstanding request: any answer for it is the one we asked for.
    this.#resolving--;
    entry.mac = mac;
    entry.solicited = true;
    entry.expiresAt = entry.nextRetryAt = now + this.#ttl;
    this.stats.learned++;
    const pending = entry.pending;
    this.#pendingBytes -= entry.pendingBytes;
    entry.pending = [];
    entry.pendingBytes = 0;
    return pending.length > 0 ? pending : undefined;
  }

  /**
   * Runs retries: calls `request(ip)` for each outstanding entry whose retry is due, and gives up on
   * entries out of retries, passing their queued datagrams to `dropped`. Returns true when it did work.
   */
  poll(
    now: number,
    request: (ip: number) => void,
    dropped?: (ip: number, items: T[]) => void,
  ): boolean {
    let work = false;
    for (const entry of this.#entries.values()) {
      if (entry.mac >= 0 || now < entry.nextRetryAt) continue;
      work = true;
      if (entry.retries >= this.#maxRetries) {
        this.#entries.delete(entry.ip);
        this.#resolving--;
        this.stats.dropUnresolved += entry.pending.length;
        this.#pendingBytes -= entry.pendingBytes;
        if (dropped !== undefined && entry.pending.length > 0) dropped(entry.ip, entry.pending);
        continue;
      }
      entry.retries++;
      this.stats.retries++;
      entry.nextRetryAt = now + this.#retryMs * 2 ** entry.retries;
      request(entry.ip);
    }
    return work;
  }

  /** The next retry deadline, or undefined when nothing is resolving. */
  pollAt(): number | undefined {
    if (this.#resolving === 0) return undefined;
    let at: number | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.mac < 0 && (at === undefined || entry.nextRetryAt < at)) at = entry.nextRetryAt;
    }
    return at;
  }

  /** Removes every entry and queued datagram. */
  clear(): void {
    this.#entries.clear();
    this.#pendingBytes = 0;
    this.#resolving = 0;
  }

  /** A snapshot for diagnostics: `[ip, mac or -1, expiresAt]` per entry. */
  entries(): [number, number, number][] {
    return [...this.#entries.values()].map((e) => [e.ip, e.mac, e.expiresAt]);
  }

  #expire(entry: Entry<T>): void {
    this.stats.expired++;
    this.#entries.delete(entry.ip);
  }

  /**
   * Frees one slot if the cache is full: an expired entry first. For our own resolution, then the
   * complete entry expiring first, those created from requests before those we resolved. For an entry
   * created from someone's request (`unsolicited`), only the newest such entry: otherwise a flood of
   * requests from many addresses pushes out a trusted entry, and a forged request re-creates it with
   * the attacker's MAC (poisoning through eviction); this way a flood only recycles the slots it took.
   */
  #makeRoom(now: number, unsolicited: boolean): boolean {
    if (this.#entries.size < this.#max) return true;
    let victim: Entry<T> | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.mac < 0) continue;
      if (now >= entry.expiresAt) {
        this.#entries.delete(entry.ip);
        this.stats.expired++;
        return true;
      }
      if (unsolicited) {
        if (!entry.solicited && (victim === undefined || entry.order > victim.order)) {
          victim = entry;
        }
      } else if (
        victim === undefined || (victim.solicited && !entry.solicited) ||
        (victim.solicited === entry.solicited && entry.expiresAt < victim.expiresAt)
      ) {
        victim = entry;
      }
    }
    if (victim === undefined) return false;
    this.#entries.delete(victim.ip);
    this.stats.evicted++;
    return true;
  }
}
