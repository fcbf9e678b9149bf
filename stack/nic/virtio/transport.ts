/**
 * How the driver talks to a virtio device's registers, independent of the bus: the PCI modern transport
 * maps them from a BAR (`MmioTransport`), and tests use a software model of the device instead.
 *
 * @module
 */

import { CommonCfg } from "./constants.ts";

/** The register operations of a virtio 1.x transport (virtio 1.2 §4.1.4.3 for PCI). */
export interface VirtioTransport {
  /** A name for logs and errors, such as `pci:0000:00:03.0`. */
  readonly name: string;
  /** Reads device_status. */
  getStatus(): number;
  /** Writes device_status (0 resets the device). */
  setStatus(status: number): void;
  /** The 64 feature bits the device offers. */
  deviceFeatures(): bigint;
  /** Writes the 64 feature bits the driver accepts. */
  setDriverFeatures(features: bigint): void;
  /** Number of virtqueues the device has. */
  numQueues(): number;
  /** The largest size queue `index` supports (0 when it does not exist). */
  queueMaxSize(index: number): number;
  /** Programs and enables queue `index` with the bus addresses of its three areas. */
  setupQueue(index: number, size: number, desc: number, driver: number, device: number): void;
  /** Tells the device that queue `index` has new available buffers. */
  notify(index: number): void;
  /** config_generation, which changes while the device configuration is being updated. */
  configGeneration(): number;
  /** Reads one byte of the device-specific configuration. */
  readConfig8(offset: number): number;
  /** Reads a little-endian 16-bit field of the device-specific configuration. */
  readConfig16(offset: number): number;
  /** Reads (and so clears) the ISR status, which deasserts a level-triggered INTx (§4.1.4.5). */
  readIsr(): number;
  /** Releases mappings. */
  close(): void;
}

/** The register blocks of a PCI modern device, each as memory (mapped BAR regions). */
export interface MmioRegions {
  /** `struct virtio_pci_common_cfg`. */
  common: ArrayBuffer;
  /** The notification area. */
  notify: ArrayBuffer;
  /** notify_off_multiplier from the NOTIFY capability. */
  notifyMultiplier: number;
  /** The device-specific configuration. */
  device: ArrayBuffer;
  /** The ISR status byte. */
  isr: ArrayBuffer;
  /** Unmaps the BARs. */
  release(): void;
}

/**
 * The PCI modern transport over mapped register blocks. Every register access is an `Atomics` load or
 * store of the register's exact width, so V8 neither merges, splits, reorders nor drops MMIO accesses.
 * 64-bit registers are written as two 32-bit halves, low first, which §4.1.3.1 allows.
 */
export class MmioTransport implements VirtioTransport {
  readonly name: string;
  readonly #regions: MmioRegions;
  readonly #c8: Uint8Array;
  readonly #c16: Uint16Array;
  readonly #c32: Uint32Array;
  readonly #notify16: Uint16Array;
  readonly #dev8: Uint8Array;
  readonly #isr8: Uint8Array;
  readonly #notifyOffsets: number[] = [];

  /** Wraps the mapped regions of one device. */
  constructor(name: string, regions: MmioRegions) {
    this.name = name;
    this.#regions = regions;
    this.#c8 = new Uint8Array(regions.common, 0, CommonCfg.LENGTH);
    this.#c16 = new Uint16Array(regions.common, 0, CommonCfg.LENGTH / 2);
    this.#c32 = new Uint32Array(regions.common, 0, CommonCfg.LENGTH / 4);
    this.#notify16 = new Uint16Array(regions.notify, 0, regions.notify.byteLength >>> 1);
    this.#dev8 = new Uint8Array(regions.device);
    this.#isr8 = new Uint8Array(regions.isr, 0, 1);
  }

  getStatus(): number {
    return Atomics.load(this.#c8, CommonCfg.DEVICE_STATUS);
  }

  setStatus(status: number): void {
    Atomics.store(this.#c8, CommonCfg.DEVICE_STATUS, status);
  }

  deviceFeatures(): bigint {
    Atomics.store(this.#c32, CommonCfg.DEVICE_FEATURE_SELECT / 4, 0);
    const low = Atomics.load(this.#c32, CommonCfg.DEVICE_FEATURE / 4);
    Atomics.store(this.#c32, CommonCfg.DEVICE_FEATURE_SELECT / 4, 1);
    const high = Atomics.load(this.#c32, CommonCfg.DEVICE_FEATURE / 4);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  setDriverFeatures(features: bigint): void {
    Atomics.store(this.#c32, CommonCfg.DRIVER_FEATURE_SELECT / 4, 0);
    Atomics.store(this.#c32, CommonCfg.DRIVER_FEATURE / 4, Number(features & 0xffffffffn));
    Atomics.store(this.#c32, CommonCfg.DRIVER_FEATURE_SELECT / 4, 1);
    Atomics.store(this.#c32, CommonCfg.DRIVER_FEATURE / 4, Number(features >> 32n));
  }

  numQueues(): number {
    return Atomics.load(this.#c16, CommonCfg.NUM_QUEUES / 2);
  }

  queueMaxSize(index: number): number {
    Atomics.store(this.#c16, CommonCfg.QUEUE_SELECT / 2, index);
    return Atomics.load(this.#c16, CommonCfg.QUEUE_SIZE / 2);
  }

  setupQueue(index: number, size: number, desc: number, driver: number, device: number): void {
    const c16 = this.#c16;
    Atomics.store(c16, CommonCfg.QUEUE_SELECT / 2, index);
    Atomics.store(c16, CommonCfg.QUEUE_SIZE / 2, size);
    this.#write64(CommonCfg.QUEUE_DESC, desc);
    this.#write64(CommonCfg.QUEUE_DRIVER, driver);
    this.#write64(CommonCfg.QUEUE_DEVICE, device);
    const notifyOff = Atomics.load(c16, CommonCfg.QUEUE_NOTIFY_OFF / 2);
    const byteOffset = notifyOff * this.#regions.notifyMultiplier;
    if (byteOffset + 2 > this.#regions.notify.byteLength) {
      throw new Error(`Queue ${index} notify offset ${byteOffset} is outside the notify region`);
    }
    this.#notifyOffsets[index] = byteOffset >>> 1;
    Atomics.store(c16, CommonCfg.QUEUE_ENABLE / 2, 1);
  }

  notify(index: number): void {
    Atomics.store(this.#notify16, this.#notifyOffsets[index], index);
  }

  configGeneration(): number {
    return Atomics.load(this.#c8, CommonCfg.CONFIG_GENERATION);
  }

  readConfig8(offset: number): number {
    return Atomics.load(this.#dev8, offset);
  }

  readConfig16(offset: number): number {
    return Atomics.load(this.#dev8, offset) | (Atomics.load(this.#dev8, offset + 1) << 8);
  }

  readIsr(): number {
    return Atomics.load(this.#isr8, 0);
  }

  close(): void {
    this.#regions.release();
  }

  #write64(offset: number, value: number): void {
    Atomics.store(this.#c32, offset / 4, value % 0x100000000);
    Atomics.store(this.#c32, offset / 4 + 1, Math.floor(value / 0x100000000));
  }
}
