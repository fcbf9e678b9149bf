/**
 * Parses the virtio vendor capabilities in a device's PCI configuration space (virtio 1.2 §4.1.4): they say
 * in which BAR, at which offset, the common configuration, notification area, ISR and device configuration
 * of a modern device live.
 *
 * @module
 */

import { PciCapType } from "./constants.ts";

/** Where one register block lives. */
export interface CapabilityRegion {
  bar: number;
  offset: number;
  length: number;
}

/** The four register blocks of a virtio PCI modern device. */
export interface VirtioCapabilities {
  common: CapabilityRegion;
  notify: CapabilityRegion & { multiplier: number };
  isr: CapabilityRegion;
  device: CapabilityRegion;
}

const PCI_STATUS = 0x06;
const PCI_STATUS_CAP_LIST = 0x10;
const PCI_CAP_POINTER = 0x34;
const PCI_CAP_ID_VENDOR = 0x09;
const MAX_CAPS = 48;

/**
 * Reads the virtio capabilities from `config` (at least the 256-byte standard header). Returns a sentence
 * saying what is missing when the device is not a usable modern virtio device. The first capability of
 * each type wins, as §4.1.4 recommends.
 */
export function parseVirtioCapabilities(config: Uint8Array): VirtioCapabilities | string {
  if (config.length < 0x40) return `PCI config space is only ${config.length} bytes`;
  if (!(config[PCI_STATUS] & PCI_STATUS_CAP_LIST)) return "PCI device has no capability list";
  const found: Partial<Record<number, CapabilityRegion & { multiplier: number }>> = {};
  const seen = new Set<number>();
  let at = config[PCI_CAP_POINTER] & 0xfc;
  for (let n = 0; at !== 0 && n < MAX_CAPS; n++) {
    if (at < 0x40 || at + 16 > config.length || seen.has(at)) {
      return `PCI capability list is malformed at 0x${at.toString(16)}`;
    }
    seen.add(at);
    if (config[at] === PCI_CAP_ID_VENDOR && config[at + 2] >= 16) {
      const type = config[at + 3];
      const bar = config[at + 4];
      const view = new DataView(config.buffer, config.byteOffset);
      const region = {
        bar,
        offset: view.getUint32(at + 8, true),
        length: view.getUint32(at + 12, true),
        multiplier: type === PciCapType.NOTIFY && config[at + 2] >= 20 && at + 20 <= config.length
          ? view.getUint32(at + 16, true)
          : 0,
      };
      if (bar <= 5 && found[type] === undefined) found[type] = region;
    }
    at = config[at + 1] & 0xfc;
  }
  const missing = (
    [
      [PciCapType.COMMON, "COMMON"],
      [PciCapType.NOTIFY, "NOTIFY"],
      [PciCapType.ISR, "ISR"],
      [PciCapType.DEVICE, "DEVICE"],
    ] as const
  ).filter(([type]) => found[type] === undefined).map(([, name]) => name);
  if (missing.length > 0) {
    return `Device has no virtio ${missing.join(", ")} capability (not a virtio 1.x modern device)`;
  }
  const strip = ({ bar, offset, length }: CapabilityRegion) => ({ bar, offset, length });
  return {
    common: strip(found[PciCapType.COMMON]!),
    notify: {
      ...strip(found[PciCapType.NOTIFY]!),
      multiplier: found[PciCapType.NOTIFY]!.multiplier,
    },
    isr: strip(found[PciCapType.ISR]!),
    device: strip(found[PciCapType.DEVICE]!),
  };
}
