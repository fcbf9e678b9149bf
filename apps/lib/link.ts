/**
 * Opens the link an app runs on: the NIC (optionally recorded to a pcap file), the `Interface` over it
 * and the real-time `Runtime` that drives it, a DNS resolver and the TCP sockets. With `--ip dhcp` the
 * address, gateway and DNS servers come from a DHCP lease, renewed in the background. With `--nic memory`
 * a peer stack in the same process sits at the other end of an in-memory cable and answers ARP, ping,
 * UDP echo on port 7 and DHCP (one address, 10.0.0.2/24).
 *
 * @module
 */

import { attachDhcp, type AttachedDhcp } from "../../stack/app/dhcp/attach.ts";
import type { DhcpLease, DhcpLossReason } from "../../stack/app/dhcp/client.ts";
import { BootpOp, DhcpMessageType, DhcpPacket, DhcpRepr } from "../../stack/app/dhcp/wire.ts";
import { attachResolver, tcpConnector } from "../../stack/app/dns/attach.ts";
import type { DnsResolver } from "../../stack/app/dns/resolver.ts";
import { Interface } from "../../stack/layer/interface.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import type { Nic } from "../../stack/nic/nic.ts";
import { openNic } from "../../stack/nic/open.ts";
import { PcapNic } from "../../stack/nic/pcap.ts";
import { Runtime } from "../../stack/runtime.ts";
import { tcpFor, type TcpSockets } from "../../stack/socket/tcp.ts";
import { setLogLevel } from "../../stack/util/log.ts";
import { Rng } from "../../stack/util/rng.ts";
import { formatIpv4, Ipv4Cidr } from "../../stack/wire/address.ts";
import { WireError } from "../../stack/wire/error.ts";
import {
  DEFAULT_APP_CIDR,
  LINK_OPTIONS,
  type LinkConfig,
  MEMORY_PEER_CIDR,
  parseCommandLine,
  parseLinkValues,
} from "./link_options.ts";

/** The peer stack of `--nic memory`. */
export interface MemoryPeer {
  iface: Interface;
  nic: Nic;
  /** Its address, 10.0.0.1. */
  address: number;
}

/** An open link: NIC, interface and runtime (started), with its resolver and TCP sockets. */
export interface Link {
  config: LinkConfig;
  nic: Nic;
  iface: Interface;
  runtime: Runtime;
  /** The stub resolver: `--dns` servers, or the lease's with `--ip dhcp`. */
  resolver: DnsResolver;
  /** The link's TCP; `connect({ hostname })` looks names up with `resolver`. */
  tcp: TcpSockets;
  /** The running DHCP client with `--ip dhcp` (its `client.lease` is the current lease). */
  dhcp?: AttachedDhcp;
  /** The in-process peer when the NIC is `memory`. */
  peer?: MemoryPeer;
  /** The stack's clock (ms). */
  now(): number;
  /** Stops the runtime and closes the NICs (flushing the capture). */
  close(): Promise<void>;
}

/** Options of `openLink`. */
export interface OpenLinkOptions {
  /** Where DHCP news goes (a new or changed lease, a lost one); stdout by default. */
  report?: (line: string) => void;
}

/** The MAC of the app's end of the memory cable, and of the peer's. */
const MEMORY_APP_MAC = 0x02_00_00_00_00_02;
const MEMORY_PEER_MAC = 0x02_00_00_00_00_01;

/**
 * Opens the link from command-line `args` (only the link options are read; others are ignored) or
 * from a parsed config, and starts its runtime. With `--ip dhcp` it resolves once the interface has a
 * lease, and puts the leased address in `config.addresses`. Throws `UsageError` for bad options and
 * `Error` when the NIC cannot be opened or no lease arrives in time.
 */
export async function openLink(
  args: string[] | LinkConfig,
  options: OpenLinkOptions = {},
): Promise<Link> {
  const report = options.report ?? ((line: string) => console.log(line));
  const config = Array.isArray(args) ? parseLinkArgs(args) : args;
  if (config.verbose) setLogLevel("debug");
  const rng = Rng.fromCrypto();
  const clock = () => performance.now();
  let nic: Nic;
  let peer: MemoryPeer | undefined;
  if (config.nic === "memory") {
    const pair = new MemoryPair({
      seed: rng.nextU32(),
      mtu: config.mtu,
      macA: config.mac ?? MEMORY_APP_MAC,
      macB: MEMORY_PEER_MAC,
    });
    nic = pair.a;
    if (config.pcap !== undefined) nic = openCapture(nic, config.pcap);
    const peerCidr = Ipv4Cidr.parse(MEMORY_PEER_CIDR);
    const peerIface = new Interface(pair.b, {
      addresses: [peerCidr],
      rng: new Rng(rng.nextU32()),
      clock,
    });
    peerIface.udp.bind(7, (d) => {
      peerIface.udp.send(
        d.dstPort,
        d.src,
        d.srcPort,
        d.bytes.subarray(d.offset, d.offset + d.length),
      );
    });
    serveDhcp(peerIface, peerCidr);
    peer = { iface: peerIface, nic: pair.b, address: peerCidr.address };
  } else {
    nic = await openNic(config.nic, {
      mac: config.mac,
      mtu: config.mtu,
      pcap: config.pcap,
      pcapEpochMs: config.pcap === undefined ? undefined : Date.now() - performance.now(),
      offload: config.offload,
    });
  }
  const iface = new Interface(nic, {
    // With DHCP the interface starts with no address: the lease adds it (RFC 2131 §4.1, 0.0.0.0).
    addresses: config.dhcp ? [] : config.addresses,
    gateway: config.gateway,
    mac: config.mac,
    rng,
    clock,
  });
  const entries = [{ iface, nic }];
  if (peer !== undefined) entries.push({ iface: peer.iface, nic: peer.nic });
  const runtime = new Runtime(entries, clock);
  // The resolver falls back to TCP through the sockets, and the sockets look names up with the
  // resolver, so the resolver reaches the sockets through a function.
  const { resolver, detach: detachResolver } = attachResolver(iface, {
    servers: config.dns,
    rng: new Rng(rng.nextU32()),
    wake: () => runtime.wake(),
    tcp: tcpConnector(() => link.tcp),
  });
  let dhcp: AttachedDhcp | undefined;
  let closed = false;
  const link: Link = {
    config,
    nic,
    iface,
    runtime,
    resolver,
    tcp: undefined as unknown as TcpSockets,
    peer,
    now: () => runtime.now(),
    async close() {
      if (closed) return;
      closed = true;
      dhcp?.detach();
      detachResolver();
      await runtime.stop();
      nic.close();
      peer?.nic.close();
    },
  };
  // Attached now, so that `listen(link)` and `connect(link)` of stack/socket/tcp.ts share these sockets.
  link.tcp = tcpFor(link, { resolve: (name) => resolver.lookupIpv4(name) });
  if (config.dhcp) {
    const hostname = config.dhcp.hostname;
    dhcp = link.dhcp = attachDhcp(iface, {
      mac: config.mac ?? nic.mac,
      rng: new Rng(rng.nextU32()),
      hostname,
      // Static --dns servers win over the lease's.
      dns: config.dns.length > 0 ? undefined : resolver,
      ...leaseReporter(config, report),
    });
  }
  runtime.start();
  if (dhcp !== undefined) {
    const lease = await leaseWithin(dhcp.leased, config.dhcp!.timeoutMs);
    if (lease === undefined) {
      await link.close();
      throw new Error(
        `No DHCP lease on ${config.nic} within ${config.dhcp!.timeoutMs} ms (is a DHCP server ` +
          "on the link? Use --ip CIDR for a static address)",
      );
    }
  }
  return link;
}

/**
 * Reports each lease that is new or changed (renewals that change nothing stay quiet), so that a boot
 * log shows the address, router and DNS servers, and each loss; keeps `config.addresses` on the lease.
 */
function leaseReporter(config: LinkConfig, report: (line: string) => void): {
  onBound(lease: DhcpLease): void;
  onUnbound(lease: DhcpLease, reason: DhcpLossReason): void;
} {
  let lastReported: string | undefined;
  const onUnbound = (lease: DhcpLease, reason: DhcpLossReason) => {
    lastReported = undefined;
    report(`dhcp: lost ${formatIpv4(lease.address)} (${reason}), asking again`);
  };
  const onBound = (lease: DhcpLease) => {
    const cidr = new Ipv4Cidr(lease.address, lease.prefixLength);
    config.addresses = [cidr];
    const router = lease.router === undefined ? "none" : formatIpv4(lease.router);
    const dns = config.dns.length > 0 ? config.dns : lease.dnsServers;
    const servers = dns.length === 0 ? "none" : dns.map(formatIpv4).join(",");
    const time = Number.isFinite(lease.expiresAt) ? `${lease.leaseTimeS} s` : "ever";
    const line = `dhcp: leased ${cidr} router ${router} dns ${servers} from ${
      formatIpv4(lease.serverId)
    } for ${time}`;
    const key = `${cidr} ${router} ${servers}`;
    if (key !== lastReported) report(line);
    lastReported = key;
  };
  return { onBound, onUnbound };
}

/** Resolves with the lease, or `undefined` once `timeoutMs` has passed without one. */
async function leaseWithin(
  leased: Promise<DhcpLease>,
  timeoutMs: number,
): Promise<DhcpLease | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      leased,
      new Promise<undefined>((
        resolve,
      ) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A one-address DHCP server on the memory peer, so that `--nic memory --ip dhcp` works without a
 * network: it offers and acknowledges 10.0.0.2/24 with the peer as router, for an hour.
 */
function serveDhcp(peer: Interface, own: Ipv4Cidr): void {
  const offered = Ipv4Cidr.parse(DEFAULT_APP_CIDR);
  const query = new DhcpPacket();
  peer.udp.bind(67, (d) => {
    const m = DhcpRepr.parse(query.wrap(d.bytes, d.offset, d.length));
    if (m instanceof WireError || m.op !== BootpOp.Request) return;
    const r = new DhcpRepr();
    r.op = BootpOp.Reply;
    r.xid = m.xid;
    r.chaddr = m.chaddr;
    r.broadcast = m.broadcast;
    r.serverId = own.address;
    if (m.messageType === DhcpMessageType.Discover) r.messageType = DhcpMessageType.Offer;
    else if (m.messageType === DhcpMessageType.Request) {
      const wanted = m.requestedIp ?? m.ciaddr;
      r.messageType = wanted === offered.address ? DhcpMessageType.Ack : DhcpMessageType.Nak;
    } else return;
    if (r.messageType !== DhcpMessageType.Nak) {
      r.yiaddr = offered.address;
      r.subnetMask = offered.netmask;
      r.routers = [own.address];
      r.leaseTime = 3600;
    }
    const bytes = new Uint8Array(r.bufferLength);
    r.emit(new DhcpPacket(bytes));
    // RFC 2131 §4.1: broadcast to a client without an address, unicast once it has one.
    peer.udp.send(67, m.ciaddr !== 0 ? m.ciaddr : 0xffffffff, 68, bytes);
  });
}

/** Parses only the link options out of `args`. */
export function parseLinkArgs(args: string[]): LinkConfig {
  const { values } = parseCommandLine({
    args,
    options: LINK_OPTIONS,
    strict: false,
    allowPositionals: true,
  });
  return parseLinkValues(values);
}

function openCapture(nic: Nic, path: string): Nic {
  try {
    return new PcapNic(nic, { path, epochMs: Date.now() - performance.now() });
  } catch (error) {
    nic.close();
    throw new Error(`Cannot record to ${path}: ${(error as Error).message.split("\n")[0]}`);
  }
}
