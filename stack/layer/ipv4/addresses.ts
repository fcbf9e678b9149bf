/**
 * The interface's own IPv4 addresses with their prefixes, and the route table they feed: each address
 * adds a connected route for its network. Answers the questions both directions ask per datagram: is
 * this address ours, is it a broadcast, which own address sends towards a destination.
 *
 * @module
 */

import { IPV4_BROADCAST, type Ipv4Cidr } from "../../wire/address.ts";
import { RouteTable } from "./routes.ts";

/** Own addresses and routes of an interface. */
export class Ipv4Addresses {
  /** The route table (connected routes for the own addresses, the default gateway). */
  readonly routes = new RouteTable();
  #cidrs: Ipv4Cidr[] = [];
  #list: number[] = [];
  // Precomputed per address, because every datagram sent or received asks.
  #masks: number[] = [];
  #broadcasts: number[] = [];

  /** The own addresses with their prefixes. */
  get cidrs(): readonly Ipv4Cidr[] {
    return this.#cidrs;
  }

  /** The own addresses. */
  list(): readonly number[] {
    return this.#list;
  }

  /** Adds an address and its connected route. */
  add(cidr: Ipv4Cidr): void {
    this.remove(cidr.address);
    this.#cidrs.push(cidr);
    this.#list.push(cidr.address);
    this.#masks.push(cidr.netmask);
    this.#broadcasts.push(cidr.broadcast ?? -1);
    this.routes.add(cidr);
  }

  /** Removes an address and its connected route (unless another address shares the network). */
  remove(address: number): void {
    const i = this.#list.indexOf(address >>> 0);
    if (i < 0) return;
    const [cidr] = this.#cidrs.splice(i, 1);
    this.#list.splice(i, 1);
    this.#masks.splice(i, 1);
    this.#broadcasts.splice(i, 1);
    const shared = this.#cidrs.some((c) =>
      c.prefixLength === cidr.prefixLength && c.network === cidr.network
    );
    if (!shared) this.routes.remove(cidr);
  }

  /** True for an own address. */
  has(ip: number): boolean {
    return contains(this.#list, ip >>> 0);
  }

  /** True for the limited broadcast or the directed broadcast of an own network. */
  isBroadcast(ip: number): boolean {
    return ip === IPV4_BROADCAST || contains(this.#broadcasts, ip);
  }

  /**
   * The own address to send from towards `dst`: one on its network, else one on the network of the
   * gateway it is routed through, else the first; undefined when the interface has none.
   */
  sourceFor(dst: number): number | undefined {
    const list = this.#list;
    if (list.length === 0) return undefined;
    const masks = this.#masks;
    for (let i = 0; i < list.length; i++) if (((list[i] ^ dst) & masks[i]) === 0) return list[i];
    const hop = this.routes.nextHop(dst);
    if (hop !== undefined) {
      for (let i = 0; i < list.length; i++) if (((list[i] ^ hop) & masks[i]) === 0) return list[i];
    }
    return list[0];
  }
}

/**
 * `list.includes(value)` for the few addresses of an interface, asked for every packet: a loop the JIT
 * inlines, where `includes` is a builtin call.
 */
function contains(list: number[], value: number): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === value) return true;
  return false;
}
