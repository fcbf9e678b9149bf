/**
 * The link options every app takes, so that every app runs on every link: `--nic`, `--ip`
 * (repeatable, or `dhcp`), `--gateway`, `--dns` (repeatable), `--dhcp-timeout`, `--dhcp-hostname`,
 * `--mac`, `--mtu`, `--pcap`, `--offload` / `--no-offload` and `--verbose`. Parsing turns them into
 * a `LinkConfig` or throws a `UsageError` whose message is one line fit for stderr.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { Ipv4Cidr, tryParseIpv4, tryParseMac } from "../../stack/wire/address.ts";

/** A bad command line: the message is shown as is, and the app exits with status 2. */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** `node:util` parseArgs, its error turned into a `UsageError` with the message's first line. */
export function parseCommandLine<T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
}

/** The `node:util` parseArgs options of the link; apps spread them into their own. */
export const LINK_OPTIONS = {
  nic: { type: "string", default: "memory" },
  ip: { type: "string", multiple: true },
  gateway: { type: "string" },
  dns: { type: "string", multiple: true },
  "dhcp-timeout": { type: "string" },
  "dhcp-hostname": { type: "string" },
  mac: { type: "string" },
  mtu: { type: "string" },
  pcap: { type: "string" },
  // No defaults: an explicit --offload on a link without offloads is an error; TAP has them by
  // default.
  offload: { type: "boolean" },
  "no-offload": { type: "boolean" },
  verbose: { type: "boolean", default: false },
} as const;

/** Help text lines for the link options. */
export const LINK_HELP = `Link options:
  --nic SPEC        memory (default; a peer stack at 10.0.0.1 in this process), tap:NAME,
                    packet:IFACE or virtio[:PCI]
  --ip CIDR         an interface address, repeatable (default 10.0.0.2/24)
  --ip dhcp         get the address, gateway and DNS servers by DHCP (renewed in the background)
  --gateway ADDR    the default gateway (static addresses only)
  --dns ADDR        a DNS server, repeatable (overrides the servers DHCP offers)
  --dhcp-timeout MS give up when no lease arrives within MS milliseconds (default 10000)
  --dhcp-hostname N the host name sent to the DHCP server (option 12)
  --mac ADDR        the interface MAC, such as 02:00:00:00:00:02
  --mtu N           the link MTU in bytes (68..65535)
  --pcap FILE       record every frame of the interface to FILE
  --offload         with tap:NAME (the default there), checksum and TCP segmentation offload
                    through a virtio-net header: 64 KiB TCP frames each way, faster bulk transfers
  --no-offload      with tap:NAME, a plain TAP: MTU-sized frames, every checksum computed here
  --verbose         log what the stack does to stderr`;

/** The default address of the app's interface. */
export const DEFAULT_APP_CIDR = "10.0.0.2/24";
/** The address of the in-memory peer stack. */
export const MEMORY_PEER_CIDR = "10.0.0.1/24";
/** How long `--ip dhcp` waits for a lease by default (ms). */
export const DEFAULT_DHCP_TIMEOUT_MS = 10_000;

/** A parsed link configuration. */
export interface LinkConfig {
  /** The NIC spec, such as `memory` or `tap:tap0`. */
  nic: string;
  /** Static addresses; empty with `dhcp` until `openLink` fills in the leased one. */
  addresses: Ipv4Cidr[];
  gateway?: number;
  /** Set by `--ip dhcp`: the address, gateway and DNS servers come from a lease. */
  dhcp?: { timeoutMs: number; hostname?: string };
  /** Static DNS servers (`--dns`); with DHCP they take the place of the lease's. */
  dns: number[];
  mac?: number;
  mtu?: number;
  pcap?: string;
  /** Checksum and segmentation offload (TAP: on unless `--no-offload`; other links: off). */
  offload: boolean;
  verbose: boolean;
}

/** The raw values parseArgs produced for the link options. */
export interface LinkValues {
  nic?: string | boolean;
  ip?: (string | boolean)[] | string | boolean;
  gateway?: string | boolean;
  dns?: (string | boolean)[] | string | boolean;
  "dhcp-timeout"?: string | boolean;
  "dhcp-hostname"?: string | boolean;
  mac?: string | boolean;
  mtu?: string | boolean;
  pcap?: string | boolean;
  offload?: string | boolean;
  "no-offload"?: string | boolean;
  verbose?: string | boolean;
}

/** Checks the link options and turns them into a config; throws `UsageError` on bad values. */
export function parseLinkValues(values: LinkValues): LinkConfig {
  const nic = stringOption("nic", values.nic) ?? "memory";
  if (nic === "") {
    throw new UsageError("Bad --nic: expected memory, tap:NAME, packet:IFACE or virtio");
  }
  const addresses: Ipv4Cidr[] = [];
  let dhcp = false;
  for (const ip of listOption(values.ip)) {
    const text = stringOption("ip", ip)!;
    if (text === "dhcp") {
      dhcp = true;
      continue;
    }
    const cidr = Ipv4Cidr.tryParse(text);
    if (cidr === undefined) {
      throw new UsageError(
        `Bad --ip '${text}': expected an address with a prefix, such as 10.0.0.2/24`,
      );
    }
    addresses.push(cidr);
  }
  if (dhcp && addresses.length > 0) {
    throw new UsageError("Bad --ip dhcp: it cannot be combined with static addresses");
  }
  if (!dhcp && addresses.length === 0) addresses.push(Ipv4Cidr.parse(DEFAULT_APP_CIDR));
  const dns: number[] = [];
  for (const server of listOption(values.dns)) {
    const text = stringOption("dns", server)!;
    const address = tryParseIpv4(text);
    if (address === undefined) {
      throw new UsageError(`Bad --dns '${text}': expected an IPv4 address such as 10.0.0.1`);
    }
    dns.push(address);
  }
  const tap = nic.startsWith("tap:");
  for (const name of ["offload", "no-offload"] as const) {
    if (values[name] === true && !tap) {
      throw new UsageError(`Bad --${name}: only tap:NAME links have offloads, not '${nic}'`);
    }
  }
  if (values.offload === true && values["no-offload"] === true) {
    throw new UsageError("Bad --offload: it cannot be combined with --no-offload");
  }
  const offload = tap && values["no-offload"] !== true;
  const config: LinkConfig = { nic, addresses, dns, offload, verbose: values.verbose === true };
  const timeoutMs = parseIntegerOption(
    "dhcp-timeout",
    values["dhcp-timeout"],
    DEFAULT_DHCP_TIMEOUT_MS,
    1,
    3_600_000,
  );
  const hostname = stringOption("dhcp-hostname", values["dhcp-hostname"]);
  if (hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})$/.test(hostname)) {
    throw new UsageError(
      `Bad --dhcp-hostname '${hostname}': expected letters, digits and hyphens, such as denovm`,
    );
  }
  if (dhcp) {
    config.dhcp = { timeoutMs };
    if (hostname !== undefined) config.dhcp.hostname = hostname;
  } else if (values["dhcp-timeout"] !== undefined || hostname !== undefined) {
    throw new UsageError("Bad --dhcp-timeout or --dhcp-hostname: they need --ip dhcp");
  }
  const gateway = stringOption("gateway", values.gateway);
  if (gateway !== undefined) {
    // The lease names the router; a second, static one would fight it at each renewal.
    if (dhcp) throw new UsageError("Bad --gateway: with --ip dhcp the lease names the gateway");
    const address = tryParseIpv4(gateway);
    if (address === undefined) {
      throw new UsageError(`Bad --gateway '${gateway}': expected an IPv4 address such as 10.0.0.1`);
    }
    config.gateway = address;
  }
  const mac = stringOption("mac", values.mac);
  if (mac !== undefined) {
    const value = tryParseMac(mac);
    if (value === undefined) {
      throw new UsageError(`Bad --mac '${mac}': expected six hex bytes such as 02:00:00:00:00:02`);
    }
    config.mac = value;
  }
  const mtu = stringOption("mtu", values.mtu);
  if (mtu !== undefined) {
    const value = Number(mtu);
    // RFC 791: every IPv4 link carries 68-byte datagrams; 65535 is the largest datagram.
    if (!/^[0-9]+$/.test(mtu) || value < 68 || value > 65535) {
      throw new UsageError(`Bad --mtu '${mtu}': expected a whole number of bytes from 68 to 65535`);
    }
    config.mtu = value;
  }
  const pcap = stringOption("pcap", values.pcap);
  if (pcap !== undefined) {
    if (pcap === "") throw new UsageError("Bad --pcap: expected a file name");
    config.pcap = pcap;
  }
  return config;
}

/** Parses an address argument (such as ping's target); throws `UsageError` when it is none. */
export function parseAddressArgument(what: string, text: string): number {
  const address = tryParseIpv4(text);
  if (address === undefined) {
    throw new UsageError(`Bad ${what} '${text}': expected an IPv4 address such as 10.0.0.1`);
  }
  return address;
}

/** Parses a whole-number option within bounds; throws `UsageError` otherwise. */
export function parseIntegerOption(
  name: string,
  value: string | boolean | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = stringOption(name, value);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) {
    throw new UsageError(`Bad --${name} '${text}': expected a whole number from ${min} to ${max}`);
  }
  return n;
}

function listOption<T>(value: T[] | T | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function stringOption(name: string, value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new UsageError(`Missing value for --${name}`);
  return value;
}
