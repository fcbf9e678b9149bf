/**
 * The link options every app takes, so that every app runs on every link: `--nic`, `--ip` (repeatable),
 * `--gateway`, `--mac`, `--mtu`, `--pcap` and `--verbose`. Parsing turns them into a `LinkConfig` or
 * throws a `UsageError` whose message is one line fit for stderr.
 *
 * @module
 */

import { Ipv4Cidr, tryParseIpv4, tryParseMac } from "../../stack/wire/address.ts";

/** A bad command line: the message is shown as is, and the app exits with status 2. */
export class UsageError extends Error {
  /** Creates a usage error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The `node:util` parseArgs options of the link; apps spread them into their own. */
export const LINK_OPTIONS = {
  nic: { type: "string", default: "memory" },
  ip: { type: "string", multiple: true },
  gateway: { type: "string" },
  mac: { type: "string" },
  mtu: { type: "string" },
  pcap: { type: "string" },
  verbose: { type: "boolean", default: false },
} as const;

/** Help text lines for the link options. */
export const LINK_HELP = `Link options:
  --nic SPEC        memory (default; a peer stack at 10.0.0.1 in this process), tap:NAME,
                    packet:IFACE or virtio[:PCI]
  --ip CIDR         an interface address, repeatable (default 10.0.0.2/24)
  --gateway ADDR    the default gateway
  --mac ADDR        the interface MAC, such as 02:00:00:00:00:02
  --mtu N           the link MTU in bytes (68..65535)
  --pcap FILE       record every frame of the interface to FILE
  --verbose         log what the stack does to stderr`;

/** The default address of the app's interface. */
export const DEFAULT_APP_CIDR = "10.0.0.2/24";
/** The address of the in-memory peer stack. */
export const MEMORY_PEER_CIDR = "10.0.0.1/24";

/** A parsed link configuration. */
export interface LinkConfig {
  /** The NIC spec, such as `memory` or `tap:tap0`. */
  nic: string;
  addresses: Ipv4Cidr[];
  gateway?: number;
  mac?: number;
  mtu?: number;
  pcap?: string;
  verbose: boolean;
}

/** The raw values parseArgs produced for the link options. */
export interface LinkValues {
  nic?: string | boolean;
  ip?: (string | boolean)[] | string | boolean;
  gateway?: string | boolean;
  mac?: string | boolean;
  mtu?: string | boolean;
  pcap?: string | boolean;
  verbose?: string | boolean;
}

/** Checks the link options and turns them into a config; throws `UsageError` on bad values. */
export function parseLinkValues(values: LinkValues): LinkConfig {
  const nic = stringOption("nic", values.nic) ?? "memory";
  if (nic === "") {
    throw new UsageError("Bad --nic: expected memory, tap:NAME, packet:IFACE or virtio");
  }
  const ips = values.ip === undefined ? [] : Array.isArray(values.ip) ? values.ip : [values.ip];
  const addresses: Ipv4Cidr[] = [];
  for (const ip of ips) {
    const text = stringOption("ip", ip)!;
    const cidr = Ipv4Cidr.tryParse(text);
    if (cidr === undefined) {
      throw new UsageError(
        `Bad --ip '${text}': expected an address with a prefix, such as 10.0.0.2/24`,
      );
    }
    addresses.push(cidr);
  }
  if (addresses.length === 0) addresses.push(Ipv4Cidr.parse(DEFAULT_APP_CIDR));
  const config: LinkConfig = { nic, addresses, verbose: values.verbose === true };
  const gateway = stringOption("gateway", values.gateway);
  if (gateway !== undefined) {
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

function stringOption(name: string, value: string | boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new UsageError(`Missing value for --${name}`);
  return value;
}
