/**
 * The user-space virtio-net driver: `openVirtioNic` finds the card on the PCI bus, checks that no kernel
 * driver owns it, maps its registers, allocates DMA memory and returns it as a `Nic`. Needs root, a
 * device without a bound driver, and no IOMMU (the guest-physical address is the DMA address). When the
 * card is bound to uio_pci_generic, the driver waits for its interrupts when idle instead of polling.
 *
 * @module
 */

import type { Nic } from "../nic.ts";
import { parseVirtioCapabilities } from "./capabilities.ts";
import { allocateDma } from "./dma.ts";
import { dmaBytesFor, VirtioNet } from "./net.ts";
import { findVirtioNet, SYSFS_PCI_DEVICES } from "./pci.ts";
import { MmioTransport } from "./transport.ts";
import { UioInterrupts } from "./uio.ts";

export { HeapDma } from "./dma.ts";
export type { DmaMemory } from "./dma.ts";
export { VirtioNetModel } from "./model.ts";
export { VirtioNet } from "./net.ts";
export type { VirtioNetOptions } from "./net.ts";
export type { VirtioTransport } from "./transport.ts";

/** Options of `openVirtioNic`. */
export interface OpenVirtioNicOptions {
  /** The device's PCI address (0000:00:03.0 or 00:03.0); default: the first virtio-net card. */
  pciAddress?: string;
  /** Largest IP datagram (default 1500). */
  mtu?: number;
  /** Descriptors per queue (default 256). */
  queueSize?: number;
  /** Negotiate checksum offloads when offered (default true); false for code that writes whole checksums. */
  offloads?: boolean;
  /** Where PCI devices are listed (default /sys/bus/pci/devices; tests point it at a fake tree). */
  sysfs?: string;
}

/** Opens the virtio-net card and drives it from user space. */
export function openVirtioNic(opts: OpenVirtioNicOptions = {}): Promise<Nic> {
  try {
    return Promise.resolve(openVirtioNicSync(opts));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** `openVirtioNic` without the promise, returning the concrete driver (for stats and tests). */
export function openVirtioNicSync(opts: OpenVirtioNicOptions = {}): VirtioNet {
  const device = findVirtioNet(opts.sysfs ?? SYSFS_PCI_DEVICES, opts.pciAddress);
  const driver = device.boundDriver();
  // uio_pci_generic is a stub that only hands the INTx line to user space: the stack still drives the card.
  if (driver !== undefined && driver !== "uio_pci_generic") {
    throw new Error(
      `PCI device ${device.address} is bound to the kernel driver '${driver}'; unbind it first ` +
        `(echo ${device.address} > ${device.folder}/driver/unbind)`,
    );
  }
  const caps = parseVirtioCapabilities(device.readConfig());
  if (typeof caps === "string") throw new Error(`PCI device ${device.address}: ${caps}`);
  device.enable();
  const transport = new MmioTransport(`pci:${device.address}`, device.mapRegions(caps));
  let memory;
  try {
    memory = allocateDma(dmaBytesFor(opts.queueSize ?? 256));
  } catch (error) {
    transport.close();
    throw error;
  }
  const node = driver === "uio_pci_generic" ? device.uioNode() : undefined;
  let interrupts: UioInterrupts | undefined;
  try {
    if (node) interrupts = new UioInterrupts(node, `${device.folder}/config`);
    return VirtioNet.start(transport, memory, {
      mtu: opts.mtu,
      queueSize: opts.queueSize,
      offloads: opts.offloads,
      interrupts,
    });
  } catch (error) {
    interrupts?.close();
    transport.close();
    memory.close();
    throw error;
  }
}
