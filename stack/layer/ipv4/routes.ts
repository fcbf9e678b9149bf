/**
 * The IPv4 route table: longest-prefix match over connected networks (from the interface's own
 * addresses), static routes and a default gateway. A lookup yields the next hop whose MAC ARP resolves.
 *
 * @module
 */

import { Ipv4Cidr } from "../../wire/address.ts";

/** One route: destinations in `network` go to `via`, or directly when `via` is undefined. */
export interface Route {
  network: Ipv4Cidr;
  via: number | undefined;
}

/** A longest-prefix-match route table. */
export class RouteTable {
  #routes: Route[] = [];
  // Networks and masks of `#routes`, in the same order, for lookups without getters.
  #nets = new Int32Array(0);
  #masks = new Int32Array(0);

  /** Adds a route; more specific prefixes win regardless of the order they were added. */
  add(network: Ipv4Cidr, via?: number): void {
    this.remove(network);
    this.#routes.push({ network, via: via === undefined ? undefined : via >>> 0 });
    // Longest prefix first, so that the first match is the best one.
    this.#routes.sort((a, b) => b.network.prefixLength - a.network.prefixLength);
    this.#index();
  }

  /** Removes the route for exactly `network` (same network and prefix). */
  remove(network: Ipv4Cidr): void {
    this.#routes = this.#routes.filter((r) =>
      r.network.prefixLength !== network.prefixLength || r.network.network !== network.network
    );
    this.#index();
  }

  /** Sets (or with undefined clears) the default gateway, the 0.0.0.0/0 route. */
  setGateway(gateway: number | undefined): void {
    const any = new Ipv4Cidr(0, 0);
    if (gateway === undefined) this.remove(any);
    else this.add(any, gateway);
  }

  /** The next hop towards `dst`: `dst` itself on a connected network, a gateway, or undefined. */
  nextHop(dst: number): number | undefined {
    const nets = this.#nets;
    const masks = this.#masks;
    for (let i = 0; i < nets.length; i++) {
      if ((dst & masks[i]) === nets[i]) return this.#routes[i].via ?? dst;
    }
    return undefined;
  }

  #index(): void {
    this.#nets = Int32Array.from(this.#routes, (r) => r.network.network);
    this.#masks = Int32Array.from(this.#routes, (r) => r.network.netmask);
  }

  /** The routes, most specific first. */
  routes(): readonly Route[] {
    return this.#routes;
  }
}
