/**
 * Applies DHCP leases to an interface: the address with its connected route, the default gateway, and
 * the DNS servers of a resolver. Pass the result's callbacks to `DhcpClient` as `onBound`/`onUnbound`.
 *
 * @module
 */

import { Ipv4Cidr } from "../../wire/address.ts";
import type { DhcpLease, DhcpLossReason } from "./client.ts";

/** What a lease changes; `Ipv4Endpoint` (`iface.ipv4`) provides it. */
export interface LeaseTarget {
  /** Adds an address and its connected route. */
  addAddress(cidr: Ipv4Cidr): void;
  /** Removes an address and its connected route. */
  removeAddress(address: number): void;
  /** Sets or clears the default gateway. */
  setGateway(gateway: number | undefined): void;
}

/** What takes the lease's DNS servers (`DnsResolver`). */
export interface DnsServersTarget {
  /** Replaces the servers. */
  setServers(servers: number[]): void;
}

/** The `onBound`/`onUnbound` callbacks that keep `ipv4` (and `dns`) in step with the lease. */
export function leaseApplier(
  ipv4: LeaseTarget,
  dns?: DnsServersTarget,
): {
  onBound(lease: DhcpLease, now: number): void;
  onUnbound(lease: DhcpLease, reason: DhcpLossReason, now: number): void;
} {
  let applied: DhcpLease | undefined;
  return {
    onBound(lease) {
      if (applied && applied.address !== lease.address) ipv4.removeAddress(applied.address);
      ipv4.addAddress(new Ipv4Cidr(lease.address, lease.prefixLength));
      ipv4.setGateway(lease.router);
      dns?.setServers(lease.dnsServers);
      applied = lease;
    },
    onUnbound(lease) {
      // RFC 2131 §4.4.5: at expiry the client "MUST immediately stop any other network processing"
      // with the address, so it goes at once, and the gateway and servers it came with go too.
      ipv4.removeAddress(lease.address);
      ipv4.setGateway(undefined);
      dns?.setServers([]);
      applied = undefined;
    },
  };
}
