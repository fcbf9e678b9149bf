/**
 * Runs a DHCP client on an interface: the client talks through `iface.udp`, is polled as a UDP Send
 * handler (so `Interface.poll`/`pollAt` drive its timers), and its leases configure `iface.ipv4` and,
 * when given, a resolver's DNS servers.
 *
 * @module
 */

import type { SendHandler } from "../../layer/handler.ts";
import { type DnsServersTarget, leaseApplier, type LeaseTarget } from "./apply.ts";
import { DhcpClient, type DhcpClientOptions, type DhcpUdp } from "./client.ts";

/** What `attachDhcp` needs of an `Interface`. */
export interface DhcpInterface {
  /** The UDP layer: port 68 and the Send handler hook. */
  udp: DhcpUdp & { addSender(handler: SendHandler<unknown>): () => void };
  /** The IPv4 layer the lease configures. */
  ipv4: LeaseTarget;
}

/** Options of `attachDhcp`: the client's, plus a resolver to hand the DNS servers to. */
export interface AttachDhcpOptions extends DhcpClientOptions {
  /** Receives the lease's DNS servers. */
  dns?: DnsServersTarget;
}

/** Starts DHCP on `iface`; `detach` stops it (without releasing the lease). */
export function attachDhcp(
  iface: DhcpInterface,
  options: AttachDhcpOptions,
): { client: DhcpClient; detach(): void } {
  const apply = leaseApplier(iface.ipv4, options.dns);
  const client = new DhcpClient(iface.udp, {
    ...options,
    onBound(lease, now) {
      apply.onBound(lease, now);
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
    detach() {
      remove();
      client.close();
    },
  };
}
