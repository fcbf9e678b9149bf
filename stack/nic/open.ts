/**
 * Opens a NIC from a command-line spec: `memory` (a loopback), `tap:NAME`, `packet:IFACE` or
 * `virtio[:PCIADDR]`. Drivers are imported on demand so that a spec only loads what it uses.
 *
 * @module
 */

import type { Nic } from "./nic.ts";

/** Options of `openNic`. */
export interface OpenNicOptions {
  /** Our MAC (TAP, AF_PACKET, memory); virtio uses the card's own. */
  mac?: number;
  /** Overrides the MTU the device reports. */
  mtu?: number;
  /** Records every frame to this pcap file. */
  pcap?: string;
  /** Milliseconds since the Unix epoch that `now = 0` stands for in the capture. */
  pcapEpochMs?: number;
  /** AF_PACKET receive ring layout (default 2). */
  packetVersion?: 2 | 3;
  /**
   * TAP checksum and TSO offload (see `TapOptions.offload`); TCP must then follow the NIC's `caps`
   * (pseudo-header checksums). Default true; false for a plain TAP.
   */
  offload?: boolean;
}

/** The specs `openNic` understands, for help texts. */
export const NIC_SPECS = "memory, tap:NAME, packet:IFACE or virtio";

/** Opens the NIC that `spec` names. */
export async function openNic(spec: string, opts: OpenNicOptions = {}): Promise<Nic> {
  const nic = await openRaw(spec, opts);
  if (opts.pcap === undefined) return nic;
  const { PcapNic } = await import("./pcap.ts");
  try {
    return new PcapNic(nic, { path: opts.pcap, epochMs: opts.pcapEpochMs });
  } catch (e) {
    nic.close();
    throw e;
  }
}

async function openRaw(spec: string, opts: OpenNicOptions): Promise<Nic> {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (kind) {
    case "memory":
      if (arg === undefined) {
        const { Loopback } = await import("./memory.ts");
        return new Loopback({ mac: opts.mac, mtu: opts.mtu });
      }
      break;
    case "tap":
      if (arg) {
        const { TapNic } = await import("./tap.ts");
        return new TapNic(arg, {
          mac: opts.mac,
          mtu: opts.mtu,
          offload: opts.offload,
          tso: opts.offload,
        });
      }
      break;
    case "packet":
      if (arg) {
        const { PacketNic } = await import("./packet.ts");
        return new PacketNic(arg, { mac: opts.mac, mtu: opts.mtu, version: opts.packetVersion });
      }
      break;
    case "virtio":
      if (arg !== "") {
        const { openVirtioNic } = await import("./virtio/mod.ts");
        return await openVirtioNic({ pciAddress: arg, mtu: opts.mtu });
      }
      break;
  }
  throw new Error(`Unknown NIC '${spec}': expected ${NIC_SPECS}`);
}
