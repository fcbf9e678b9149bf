/**
 * Opens the link an app runs on: the NIC (optionally recorded to a pcap file), the `Interface` over it
 * and the real-time `Runtime` that drives it. With `--nic memory` a peer stack in the same process sits
 * at the other end of an in-memory cable and answers ARP, ping and UDP echo on port 7.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Interface } from "../../stack/layer/interface.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import type { Nic } from "../../stack/nic/nic.ts";
import { openNic } from "../../stack/nic/open.ts";
import { PcapNic } from "../../stack/nic/pcap.ts";
import { Runtime } from "../../stack/runtime.ts";
import { setLogLevel } from "../../stack/util/log.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr } from "../../stack/wire/address.ts";
import {
  LINK_OPTIONS,
  type LinkConfig,
  MEMORY_PEER_CIDR,
  parseLinkValues,
  UsageError,
} from "./link_options.ts";

/** The peer stack of `--nic memory`. */
export interface MemoryPeer {
  iface: Interface;
  nic: Nic;
  /** Its address, 10.0.0.1. */
  address: number;
}

/** An open link: NIC, interface and runtime (started). */
export interface Link {
  config: LinkConfig;
  nic: Nic;
  iface: Interface;
  runtime: Runtime;
  /** The in-process peer when the NIC is `memory`. */
  peer?: MemoryPeer;
  /** The stack's clock (ms). */
  now(): number;
  /** Stops the runtime and closes the NICs (flushing the capture). */
  close(): Promise<void>;
}

/** The MAC of the app's end of the memory cable, and of the peer's. */
const MEMORY_APP_MAC = 0x02_00_00_00_00_02;
const MEMORY_PEER_MAC = 0x02_00_00_00_00_01;

/**
 * Opens the link from command-line `args` (only the link options are read; others are ignored) or
 * from a parsed config, and starts its runtime. Throws `UsageError` for bad options and `Error` when
 * the NIC cannot be opened.
 */
export async function openLink(args: string[] | LinkConfig): Promise<Link> {
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
    peer = { iface: peerIface, nic: pair.b, address: peerCidr.address };
  } else {
    nic = await openNic(config.nic, {
      mac: config.mac,
      mtu: config.mtu,
      pcap: config.pcap,
      pcapEpochMs: config.pcap === undefined ? undefined : Date.now() - performance.now(),
    });
  }
  const iface = new Interface(nic, {
    addresses: config.addresses,
    gateway: config.gateway,
    mac: config.mac,
    rng,
    clock,
  });
  const entries = [{ iface, nic }];
  if (peer !== undefined) entries.push({ iface: peer.iface, nic: peer.nic });
  const runtime = new Runtime(entries, clock);
  runtime.start();
  let closed = false;
  return {
    config,
    nic,
    iface,
    runtime,
    peer,
    now: () => runtime.now(),
    async close() {
      if (closed) return;
      closed = true;
      await runtime.stop();
      nic.close();
      peer?.nic.close();
    },
  };
}

/** Parses only the link options out of `args`. */
export function parseLinkArgs(args: string[]): LinkConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: LINK_OPTIONS,
      strict: false,
      allowPositionals: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]);
  }
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
