/**
 * A unikernel-style network runtime for Deno: a TCP/IP stack written in TypeScript (Ethernet, ARP, IPv4,
 * ICMP, UDP, TCP, IPv6) with NICs driven from user space (virtio-net in a QEMU guest, TAP and AF_PACKET on a
 * Linux host, in-memory links for tests), and a `Deno.serve`-compatible HTTP server on top.
 *
 * The quickest way in is a link and `serve`:
 *
 * ```ts
 * import { openLink, runtimeClock, serve } from "./mod.ts";
 *
 * const link = await openLink(Deno.args); // --nic memory|tap:NAME|packet:IFACE|virtio --ip CIDR|dhcp ...
 * serve(
 *   { listener: link.tcp.listen({ port: 80 }), clock: runtimeClock(link.runtime) },
 *   (req) => new Response(`hello from ${new URL(req.url).pathname}\n`),
 * );
 * ```
 *
 * Lower down, every layer is an endpoint with Recv and Send handlers (see `stack/DESIGN.md`), driven by
 * `Interface.poll(now)` with an injected clock.
 *
 * @module
 */

// Wire formats: views, reprs, checksums, addresses.
export * from "./stack/wire/mod.ts";

// NICs: the interface, in-memory links, pcap, TAP, AF_PACKET, virtio-net.
export * from "./stack/nic/mod.ts";
export { HeapDma, openVirtioNic, VirtioNet, VirtioNetModel } from "./stack/nic/virtio/mod.ts";
export type {
  DmaMemory,
  OpenVirtioNicOptions,
  VirtioNetOptions,
  VirtioTransport,
} from "./stack/nic/virtio/mod.ts";

// Layers and the runtime loop.
export { Interface } from "./stack/layer/interface.ts";
export type { InterfaceOptions, Transport } from "./stack/layer/interface.ts";
export { Runtime } from "./stack/runtime.ts";
export type { Pollable, RuntimeOptions, RuntimeStats } from "./stack/runtime.ts";
export type { SendHandler, SendResult } from "./stack/layer/handler.ts";
export { EthEndpoint } from "./stack/layer/eth/endpoint.ts";
export { ArpEndpoint } from "./stack/layer/arp/endpoint.ts";
export { ArpCache } from "./stack/layer/arp/cache.ts";
export { Ipv4Endpoint } from "./stack/layer/ipv4/endpoint.ts";
export type {
  Ipv4Fill,
  Ipv4Incoming,
  Ipv4Sender,
  TransportHandler,
} from "./stack/layer/ipv4/contract.ts";
export { IcmpEndpoint } from "./stack/layer/icmp/endpoint.ts";
export type { EchoReply, PingOptions } from "./stack/layer/icmp/endpoint.ts";
export { UdpEndpoint } from "./stack/layer/udp/endpoint.ts";
export type { UdpBinding, UdpHandler, UdpIncoming } from "./stack/layer/udp/endpoint.ts";
export { Ipv6Endpoint } from "./stack/layer/ipv6/endpoint.ts";
export type { Ipv6Options } from "./stack/layer/ipv6/endpoint.ts";
export type {
  Ipv6Fill,
  Ipv6Incoming,
  Ipv6Sender,
  Ipv6TransportHandler,
} from "./stack/layer/ipv6/contract.ts";
export { Udp6 } from "./stack/layer/ipv6/udp.ts";
export { attachTcp6, Ipv6Handles } from "./stack/layer/ipv6/tcp6.ts";
export type { Tcp6 } from "./stack/layer/ipv6/tcp6.ts";
export { DualStackListener } from "./stack/layer/ipv6/dual_listener.ts";

// TCP: the endpoint (Open / In / Stray events) and the socket-style API.
export { TcpEndpoint } from "./stack/layer/tcp/endpoint.ts";
export type { TcpEndpointOptions } from "./stack/layer/tcp/endpoint.ts";
export { TcpConnection } from "./stack/layer/tcp/connection.ts";
export type { TcpCloseReason, TcpConnectionInfo } from "./stack/layer/tcp/connection.ts";
export type {
  TcpEvent,
  TcpHandler,
  TcpInEvent,
  TcpOpenEvent,
  TcpStrayEvent,
} from "./stack/layer/tcp/events.ts";
export { TcpState, tcpStateName } from "./stack/layer/tcp/state.ts";
export { TCP_DEFAULTS } from "./stack/layer/tcp/config.ts";
export type { TcpConfig } from "./stack/layer/tcp/config.ts";
export { newReno } from "./stack/layer/tcp/congestion/new_reno.ts";
export { cubic } from "./stack/layer/tcp/congestion/cubic.ts";
export type {
  CongestionController,
  CongestionFactory,
} from "./stack/layer/tcp/congestion/controller.ts";
export {
  AddrInUse,
  BadResource,
  connect,
  ConnectionRefused,
  ConnectionReset,
  listen,
  TcpConn,
  tcpFor,
  TcpListener,
  TcpSockets,
  TimedOut,
} from "./stack/socket/tcp.ts";
export type {
  TcpAddressCodec,
  TcpConnectOptions,
  TcpListenOptions,
  TcpNetAddr,
} from "./stack/socket/tcp.ts";

// HTTP.
export * from "./stack/http/mod.ts";

// DHCP and DNS.
export { DhcpClient } from "./stack/app/dhcp/client.ts";
export type { DhcpLease, DhcpState } from "./stack/app/dhcp/client.ts";
export { attachDhcp } from "./stack/app/dhcp/attach.ts";
export { DnsError, DnsResolver } from "./stack/app/dns/resolver.ts";
export { attachResolver } from "./stack/app/dns/attach.ts";

// Links for apps: the shared command-line options and the wiring of NIC, interface and runtime.
export { openLink } from "./apps/lib/link.ts";
export type { Link, OpenLinkOptions } from "./apps/lib/link.ts";
export { LINK_HELP, LINK_OPTIONS, parseLinkValues, UsageError } from "./apps/lib/link_options.ts";
export type { LinkConfig } from "./apps/lib/link_options.ts";

// Utilities.
export { Rng } from "./stack/util/rng.ts";
export { Logger, setLogLevel, setLogSink } from "./stack/util/log.ts";
export type { LogLevel } from "./stack/util/log.ts";
