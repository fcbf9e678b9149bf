/**
 * Runs a stub resolver on an interface: queries go through `iface.udp`, and the resolver is polled as a
 * UDP Send handler so that `Interface.poll`/`pollAt` drive its retransmissions and timeouts.
 *
 * @module
 */

import type { SendHandler } from "../../layer/handler.ts";
import { formatIpv4 } from "../../wire/address.ts";
import {
  DnsResolver,
  type DnsResolverOptions,
  type DnsTcpConnect,
  type DnsTcpConnection,
  type DnsUdp,
} from "./resolver.ts";

/** What `attachResolver` needs of an `Interface`. */
export interface DnsInterface {
  /** The UDP layer: ephemeral ports and the Send handler hook. */
  udp: DnsUdp & { addSender(handler: SendHandler<unknown>): () => void };
}

/** Starts a resolver on `iface`; `detach` stops polling it and fails running lookups. */
export function attachResolver(
  iface: DnsInterface,
  options: DnsResolverOptions,
): { resolver: DnsResolver; detach(): void } {
  const resolver = new DnsResolver(iface.udp, options);
  const remove = iface.udp.addSender({
    send: (_tx, now) => resolver.poll(now),
    pollAt: (now) => resolver.pollAt(now),
  });
  return {
    resolver,
    detach() {
      remove();
      resolver.close();
    },
  };
}

/** What `tcpConnector` needs of the socket API (`TcpSockets` from stack/socket/tcp.ts). */
export interface DnsSockets {
  /** Opens a connection to an IPv4 literal. */
  connect(options: { hostname: string; port: number }): Promise<DnsTcpConnection>;
}

/**
 * The resolver's TCP fallback over the stack's socket API. `sockets` is a function so that the resolver
 * can be built before the sockets (which take the resolver to look names up for `connect`).
 */
export function tcpConnector(sockets: () => DnsSockets): DnsTcpConnect {
  return (server, port) => sockets().connect({ hostname: formatIpv4(server), port });
}
