/**
 * Runs a DHCP client on an interface: the client talks through `iface.udp`, is polled as a UDP Send
 * handler (so `Interface.poll`/`pollAt` drive its timers), and its leases configure `iface.ipv4` and,
 * when given, a resolver's DNS servers.
 *
 * @module
 */

import type { SendHandler } from "../../layer/handler.ts";
import { type DnsServersTarget, leaseApplier, type LeaseTarget } from "./apply.ts";
import { DhcpClient, type DhcpClientOptions, type DhcpLease, type DhcpUdp } from "./client.ts";

/** What `attachDhcp` needs of an `Interface`. */
export interface DhcpInterface {
  /** The UDP layer: port 68 and the Send handler hook. */
  udp: DhcpUdp & { addSender(handler: SendHandler<unknown>): () => void };
  /** The IPv4 layer the lease configures. */
  ipv4: LeaseTarget;
  /** The ARP layer, to announce a new address (RFC 5227 §2.3) so that neighbours update their caches. */
  arp?: { announce(now: number): void };
}

/** Options of `attachDhcp`: the client's, plus a resolver to hand the DNS servers to. */
export interface AttachDhcpOptions extends DhcpClientOptions {
  /** Receives the lease's DNS servers. */
  dns?: DnsServersTarget;
}

/** A running DHCP client on an interface. */
export interface AttachedDhcp {
  /** The client (state, lease, stats, `release`). */
  client: DhcpClient;
  /** Resolves with the first lease, once the interface has its address (apps await it to start). */
  leased: Promise<DhcpLease>;
  /** Stops polling the client and closes it, without releasing the lease. */
  detach(): void;
}

/** Starts DHCP on `iface`. */
export function attachDhcp(iface: DhcpInterface, options: AttachDhcpOptions): AttachedDhcp {
  const apply = leaseApplier(iface.ipv4, options.dns);
  let first: ((lease: DhcpLease) => void) | undefined;
  const leased = new Promise<DhcpLease>((resolve) => (first = resolve));
  const client = new DhcpClient(iface.udp, {
    ...options,
    onBound(lease, now) {
      apply.onBound(lease, now);
      iface.arp?.announce(now);
      first?.(lease);
      first = undefined;
      options.onBound?.(lease, now);
    },
    onUnbound(lease, reason, now) {
      apply.onUnbound(lease, reason, now);
      options.onUnbound?.(lease, reason, now);
    },
  });
  const remove = iface.udp.addSender({
    send: (_tx, now) => client.poll(now),
    pollAt: (now) => client.pollAt(now),
  });
  return {
    client,
    leased,
    detach() {
      remove();
      client.close();
    },
  };
}
