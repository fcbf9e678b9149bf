/**
 * The destination cache of RFC 4861 §5.1, reduced to what a host keeps per destination beyond the
 * neighbor cache: a better first hop learned from a redirect (§8.3) and a path MTU learned from Packet
 * Too Big (RFC 8201 §4). Both tables are bounded (the oldest entry goes) and path MTUs age out.
 *
 * @module
 */

import type { Ipv6Address } from "../../wire/ipv6_address.ts";
import { IPV6_MIN_MTU } from "../../wire/ipv6.ts";

/** How long a learned path MTU holds before the link MTU is tried again (RFC 8201 §4: 10 minutes). */
const PATH_MTU_AGE_MS = 10 * 60 * 1000;

/** Per-destination state of one interface. */
export class DestinationCache {
  #redirects = new Map<string, Ipv6Address>();
  #pathMtus = new Map<string, { mtu: number; until: number }>();
  #max: number;

  /** Creates empty tables of at most `max` entries each (default 256). */
  constructor(max = 256) {
    this.#max = max;
  }

  /** The first hop a redirect gave for `dst`, if any. */
  redirectFor(dst: Ipv6Address): Ipv6Address | undefined {
    return this.#redirects.size === 0 ? undefined : this.#redirects.get(dst.key);
  }

  /** Records a redirect of `dst` to `target`. */
  redirect(dst: Ipv6Address, target: Ipv6Address): void {
    bound(this.#redirects, dst.key, this.#max);
    this.#redirects.set(dst.key, target);
  }

  /**
   * Records a Packet Too Big for `dst`: its path MTU becomes `mtu`, never below 1280 nor above
   * `linkMtu`, for ten minutes. An MTU of the link's or more forgets the entry.
   */
  setPathMtu(dst: Ipv6Address, mtu: number, linkMtu: number, now: number): void {
    const clamped = Math.max(IPV6_MIN_MTU, Math.min(linkMtu, mtu));
    if (clamped >= linkMtu) {
      this.#pathMtus.delete(dst.key);
      return;
    }
    bound(this.#pathMtus, dst.key, this.#max);
    this.#pathMtus.set(dst.key, { mtu: clamped, until: now + PATH_MTU_AGE_MS });
  }

  /** The path MTU towards `dst`: `linkMtu` unless a Packet Too Big lowered it recently. */
  pathMtu(dst: Ipv6Address, linkMtu: number, now: number): number {
    if (this.#pathMtus.size === 0) return linkMtu;
    const entry = this.#pathMtus.get(dst.key);
    if (entry === undefined) return linkMtu;
    if (entry.until <= now) {
      this.#pathMtus.delete(dst.key);
      return linkMtu;
    }
    return Math.min(entry.mtu, linkMtu);
  }

  /** True when some path MTU is below the link's (the send path checks it before reading addresses). */
  get hasPathMtus(): boolean {
    return this.#pathMtus.size > 0;
  }
}

/** Makes room for `key` in `map` by dropping the oldest entry when it is full. */
function bound<V>(map: Map<string, V>, key: string, max: number): void {
  if (map.size < max || map.has(key)) return;
  const first = map.keys().next().value;
  if (first !== undefined) map.delete(first);
}
