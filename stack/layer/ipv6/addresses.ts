/**
 * The IPv6 host's configuration state: its addresses with their DAD state and lifetimes (RFC 4862
 * §5.4, §5.5.3), the on-link prefix list and the default router list (RFC 4861 §5.1, §6.3.4). It holds
 * no sending logic; the NDP code drives it and reads which DAD probes are due.
 *
 * @module
 */

import type { Ipv6Address } from "../../wire/ipv6_address.ts";

/** An address's state (RFC 4862 §5.5.4; "duplicate" is kept to report what DAD found). */
export type AddressState = "tentative" | "preferred" | "deprecated" | "duplicate";

/** Where an address came from. */
export type AddressOrigin = "link-local" | "static" | "slaac";

/** One own address. */
export interface OwnAddress {
  address: Ipv6Address;
  prefixLength: number;
  state: AddressState;
  origin: AddressOrigin;
  /** ms; Infinity for static and link-local addresses. */
  validUntil: number;
  preferredUntil: number;
  /** DAD solicitations still to send. */
  dadLeft: number;
  /** When the next DAD step is due (a solicitation, or the verdict after the last one). */
  dadAt: number;
}

/** An on-link prefix (RFC 4861 §6.3.4). */
export interface OnLinkPrefix {
  prefix: Ipv6Address;
  prefixLength: number;
  validUntil: number;
}

/** A default router (RFC 4861 §6.3.4). */
export interface DefaultRouter {
  address: Ipv6Address;
  until: number;
}

/** Two hours: the floor RFC 4862 §5.5.3(e) puts under a lowered valid lifetime. */
const TWO_HOURS = 2 * 3600 * 1000;

/** Bounds on what router advertisements can make a host hold (a flood of RAs must not grow it). */
const MAX_ADDRESSES = 32;
const MAX_PREFIXES = 32;
const MAX_ROUTERS = 8;

/** Addresses, prefixes and routers of one interface. */
export class Ipv6Config {
  /** Counters of refusals by the bounds. */
  readonly stats = { dropAddressesFull: 0, dropPrefixesFull: 0, dropRoutersFull: 0 };
  /** Own addresses, in the order they were added. */
  readonly addresses: OwnAddress[] = [];
  /** On-link prefixes learned from RAs or implied by static addresses. */
  readonly prefixes: OnLinkPrefix[] = [];
  /** Default routers, in the order learned. */
  readonly routers: DefaultRouter[] = [];
  /** Called when an address appears (to join its solicited-node group). */
  onAdd: (address: OwnAddress) => void = () => {};
  /** Called when an address goes (duplicate or expired). */
  onRemove: (address: OwnAddress) => void = () => {};

  /** Adds an address; with `dadTransmits` > 0 it starts tentative, DAD due at `dadAt`. */
  add(
    address: Ipv6Address,
    prefixLength: number,
    origin: AddressOrigin,
    options: { dadTransmits: number; dadAt: number; validUntil?: number; preferredUntil?: number },
  ): OwnAddress | undefined {
    const existing = this.find(address);
    if (existing !== undefined) return existing;
    if (this.addresses.length >= MAX_ADDRESSES) {
      this.stats.dropAddressesFull++;
      return undefined;
    }
    const own: OwnAddress = {
      address,
      prefixLength,
      origin,
      state: options.dadTransmits > 0 ? "tentative" : "preferred",
      validUntil: options.validUntil ?? Infinity,
      preferredUntil: options.preferredUntil ?? Infinity,
      dadLeft: options.dadTransmits,
      dadAt: options.dadTransmits > 0 ? options.dadAt : Infinity,
    };
    this.addresses.push(own);
    if (origin === "static" && prefixLength < 128) {
      this.setPrefix(address.masked(prefixLength), prefixLength, Infinity);
    }
    this.onAdd(own);
    return own;
  }

  /** Removes an address (not its prefix). */
  remove(address: Ipv6Address): void {
    const i = this.addresses.findIndex((a) => a.address.equals(address));
    if (i < 0) return;
    const [own] = this.addresses.splice(i, 1);
    this.onRemove(own);
  }

  /** The entry of `address`, whatever its state. */
  find(address: Ipv6Address): OwnAddress | undefined {
    for (const a of this.addresses) if (a.address.equals(address)) return a;
    return undefined;
  }

  /** The entry whose address is at `bytes[at..at+16)`, without allocating. */
  findAt(bytes: Uint8Array, at: number): OwnAddress | undefined {
    const list = this.addresses;
    for (let i = 0; i < list.length; i++) if (list[i].address.equalsAt(bytes, at)) return list[i];
    return undefined;
  }

  /** The preferred link-local address, if DAD has passed. */
  get linkLocal(): Ipv6Address | undefined {
    for (const a of this.addresses) {
      if (a.address.isLinkLocal && a.state === "preferred") return a.address;
    }
    return undefined;
  }

  /** Sets or refreshes an on-link prefix; a zero lifetime removes it (RFC 4861 §6.3.4). */
  setPrefix(prefix: Ipv6Address, prefixLength: number, validUntil: number): void {
    const i = this.prefixes.findIndex((p) =>
      p.prefixLength === prefixLength && p.prefix.equals(prefix)
    );
    if (i >= 0) {
      if (validUntil <= 0) this.prefixes.splice(i, 1);
      else this.prefixes[i].validUntil = validUntil;
    } else if (validUntil > 0) {
      if (this.prefixes.length >= MAX_PREFIXES) {
        this.stats.dropPrefixesFull++;
        return;
      }
      this.prefixes.push({ prefix, prefixLength, validUntil });
    }
  }

  /** True when `address` is on-link: link-local, or inside an on-link prefix. */
  isOnLink(address: Ipv6Address): boolean {
    if (address.isLinkLocal) return true;
    for (const p of this.prefixes) if (address.hasPrefix(p.prefix, p.prefixLength)) return true;
    return false;
  }

  /** Sets, refreshes or (lifetime 0) removes a default router. */
  setRouter(address: Ipv6Address, until: number, now: number): void {
    const i = this.routers.findIndex((r) => r.address.equals(address));
    if (until <= now) {
      if (i >= 0) this.routers.splice(i, 1);
    } else if (i >= 0) {
      this.routers[i].until = until;
    } else if (this.routers.length >= MAX_ROUTERS) {
      this.stats.dropRoutersFull++;
    } else {
      this.routers.push({ address, until });
    }
  }

  /** Removes a router (it became unreachable or stopped being a router). */
  removeRouter(address: Ipv6Address): void {
    const i = this.routers.findIndex((r) => r.address.equals(address));
    if (i >= 0) this.routers.splice(i, 1);
  }

  /**
   * Applies an autonomous prefix's lifetimes (seconds) to the SLAAC address `address` (RFC 4862
   * §5.5.3 d/e), creating it tentative when new. Returns the entry, or undefined when ignored.
   */
  slaac(
    address: Ipv6Address,
    prefixLength: number,
    validS: number,
    preferredS: number,
    now: number,
    dad: { dadTransmits: number; dadAt: number },
  ): OwnAddress | undefined {
    const valid = validS === 0xffffffff ? Infinity : now + validS * 1000;
    const preferred = preferredS === 0xffffffff ? Infinity : now + preferredS * 1000;
    const own = this.find(address);
    if (own === undefined) {
      if (validS === 0) return undefined;
      return this.add(address, prefixLength, "slaac", {
        ...dad,
        validUntil: valid,
        preferredUntil: preferred,
      });
    }
    own.preferredUntil = preferred;
    if (own.state === "deprecated" && preferred > now) own.state = "preferred";
    // RFC 4862 §5.5.3(e): a spoofed RA must not shorten a valid lifetime below two hours.
    const remaining = own.validUntil - now;
    if (valid - now > TWO_HOURS || valid > own.validUntil) own.validUntil = valid;
    else if (remaining > TWO_HOURS) own.validUntil = now + TWO_HOURS;
    return own;
  }

  /** Expires lifetimes: deprecates addresses, removes invalid ones, prefixes and routers. */
  expire(now: number): boolean {
    let work = false;
    for (const a of [...this.addresses]) {
      if (a.validUntil <= now) {
        this.remove(a.address);
        work = true;
      } else if (a.preferredUntil <= now && a.state === "preferred") {
        a.state = "deprecated";
        work = true;
      }
    }
    for (let i = this.prefixes.length - 1; i >= 0; i--) {
      if (this.prefixes[i].validUntil <= now) {
        this.prefixes.splice(i, 1);
        work = true;
      }
    }
    for (let i = this.routers.length - 1; i >= 0; i--) {
      if (this.routers[i].until <= now) {
        this.routers.splice(i, 1);
        work = true;
      }
    }
    return work;
  }

  /** The earliest lifetime or DAD deadline. */
  pollAt(): number | undefined {
    let at = Infinity;
    for (const a of this.addresses) {
      at = Math.min(at, a.dadAt, a.validUntil);
      if (a.state === "preferred") at = Math.min(at, a.preferredUntil);
    }
    for (const p of this.prefixes) at = Math.min(at, p.validUntil);
    for (const r of this.routers) at = Math.min(at, r.until);
    return at === Infinity ? undefined : at;
  }
}
