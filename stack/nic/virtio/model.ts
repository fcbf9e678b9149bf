/**
 * A software model of a virtio-net device (the device side of virtio 1.2 §2.7 and §5.1) for tests: it
 * implements the register transport, reads the driver's rings through bus addresses in a `HeapDma`, takes
 * receive buffers to deliver frames into, and consumes transmitted frames, exactly as hardware would. It
 * checks what the driver does (addresses inside memory, descriptor directions, ring indices) and records
 * every violation in `errors` so tests can assert there were none.
 *
 * @module
 */

import {
  AVAIL_F_NO_INTERRUPT,
  Feature,
  featureBit,
  NET_HDR_LENGTH,
  NetConfig,
  Status,
  USED_F_NO_NOTIFY,
} from "./constants.ts";
import type { HeapDma } from "./dma.ts";
import { needEvent } from "./queue.ts";
import type { VirtioTransport } from "./transport.ts";

/** Options of the model. */
export interface VirtioNetModelOptions {
  /** Feature bits offered (default VERSION_1, MAC, STATUS, MRG_RXBUF, EVENT_IDX). */
  features?: bigint;
  /** The device's MAC (default 52:54:00:12:34:56). */
  mac?: number;
  /** Largest queue size (default 256). */
  queueMax?: number;
  /** The MTU in the config space (with the MTU feature). */
  mtu?: number;
  /** Refuse FEATURES_OK whatever the driver asks (a device that rejects the negotiation). */
  rejectFeatures?: boolean;
  /** Number of queues (default 2). */
  numQueues?: number;
}

interface ModelQueue {
  size: number;
  desc: number;
  driver: number;
  device: number;
  enabled: boolean;
  /** Next avail index the device will read. */
  lastAvail: number;
  /** Next used index the device will write. */
  usedIdx: number;
  notifications: number;
}

/** A transmitted frame as the model saw it: the header fields and a copy of the frame. */
export interface ModelFrame {
  flags: number;
  csumStart: number;
  csumOffset: number;
  frame: Uint8Array;
}

/** Default features of the model. */
export const MODEL_DEFAULT_FEATURES = featureBit(Feature.VERSION_1) | featureBit(Feature.NET_MAC) |
  featureBit(Feature.NET_STATUS) | featureBit(Feature.NET_MRG_RXBUF) |
  featureBit(Feature.RING_EVENT_IDX);

/** The device side of a virtio-net card over ordinary memory. */
export class VirtioNetModel implements VirtioTransport {
  readonly name = "model";
  readonly memory: HeapDma;
  readonly offered: bigint;
  /** Protocol violations seen, as messages. */
  readonly errors: string[] = [];
  /** Features the driver wrote. */
  driverFeatures = 0n;
  /** While true the device says it polls: it asks the driver not to notify (flags or avail_event). */
  polling = false;
  /** Link state reported in the config space. */
  linkUp = true;
  /** The ISR status; set to 1 when a used entry is written while the driver asked for interrupts. */
  isr = 0;
  /** Interrupts raised. */
  interrupts = 0;
  /** Called when the device raises an interrupt (tests wire it to a fake interrupt source). */
  onInterrupt?: () => void;

  readonly #mac: number;
  readonly #queueMax: number;
  readonly #mtu: number;
  readonly #rejectFeatures: boolean;
  readonly #numQueues: number;
  #status = 0;
  #generation = 0;
  #queues: ModelQueue[] = [];
  readonly #view: DataView;

  /** A model whose rings and buffers live in `memory`. */
  constructor(memory: HeapDma, opts: VirtioNetModelOptions = {}) {
    this.memory = memory;
    this.#view = new DataView(memory.bytes.buffer);
    this.offered = opts.features ?? MODEL_DEFAULT_FEATURES;
    this.#mac = opts.mac ?? 0x525400123456;
    this.#queueMax = opts.queueMax ?? 256;
    this.#mtu = opts.mtu ?? 1500;
    this.#rejectFeatures = opts.rejectFeatures ?? false;
    this.#numQueues = opts.numQueues ?? 2;
    this.#reset();
  }

  // ---- transport (what the driver calls) ----

  getStatus(): number {
    return this.#status;
  }

  setStatus(status: number): void {
    if (status === 0) {
      this.#reset();
      return;
    }
    if ((status & Status.FEATURES_OK) && !(this.#status & Status.FEATURES_OK)) {
      const extra = this.driverFeatures & ~this.offered;
      const ok = !this.#rejectFeatures && extra === 0n &&
        (this.driverFeatures & featureBit(Feature.VERSION_1)) !== 0n;
      if (!ok) status &= ~Status.FEATURES_OK;
    }
    if ((status & Status.DRIVER_OK) && !(status & Status.FEATURES_OK)) {
      this.errors.push("DRIVER_OK set without FEATURES_OK");
    }
    this.#status = (this.#status & Status.DEVICE_NEEDS_RESET) | status;
  }

  deviceFeatures(): bigint {
    return this.offered;
  }

  setDriverFeatures(features: bigint): void {
    if (this.#status & Status.FEATURES_OK) this.errors.push("features written after FEATURES_OK");
    this.driverFeatures = features;
  }

  numQueues(): number {
    return this.#numQueues;
  }

  queueMaxSize(index: number): number {
    return index < this.#numQueues ? this.#queueMax : 0;
  }

  setupQueue(index: number, size: number, desc: number, driver: number, device: number): void {
    if (!(this.#status & Status.FEATURES_OK)) this.errors.push("queue set up before FEATURES_OK");
    if (size > this.#queueMax || (size & (size - 1)) !== 0) {
      this.errors.push(`bad queue size ${size}`);
    }
    if (desc % 16 || driver % 2 || device % 4) this.errors.push(`queue ${index} areas misaligned`);
    for (
      const [address, length] of [[desc, 16 * size], [driver, 6 + 2 * size], [device, 6 + 8 * size]]
    ) {
      if (!this.#inside(address, length)) this.errors.push(`queue ${index} area outside memory`);
    }
    this.#queues[index] = {
      size,
      desc,
      driver,
      device,
      enabled: true,
      lastAvail: 0,
      usedIdx: 0,
      notifications: 0,
    };
    this.#advertise(index);
  }

  notify(index: number): void {
    const queue = this.#queues[index];
    if (!queue?.enabled) {
      this.errors.push(`notify of disabled queue ${index}`);
      return;
    }
    queue.notifications++;
  }

  configGeneration(): number {
    return this.#generation;
  }

  readConfig8(offset: number): number {
    return this.#config()[offset] ?? 0;
  }

  readConfig16(offset: number): number {
    const config = this.#config();
    return (config[offset] ?? 0) | ((config[offset + 1] ?? 0) << 8);
  }

  readIsr(): number {
    const isr = this.isr;
    this.isr = 0;
    return isr;
  }

  close(): void {}

  // ---- device behaviour (what tests call) ----

  /** Sets DEVICE_NEEDS_RESET, as a device does after an internal error. */
  breakDevice(): void {
    this.#status |= Status.DEVICE_NEEDS_RESET;
  }

  /** Changes the link state (and config_generation, as a real device does). */
  setLink(up: boolean): void {
    this.linkUp = up;
    this.#generation = (this.#generation + 1) & 0xff;
  }

  /** Notifications the driver sent for queue `index`. */
  notifications(index: number): number {
    return this.#queues[index]?.notifications ?? 0;
  }

  /** Receive buffers the driver has made available and the device has not used. */
  rxAvailable(): number {
    const queue = this.#queues[0];
    if (!queue) return 0;
    return (this.#u16(queue.driver + 2) - queue.lastAvail) & 0xffff;
  }

  /**
   * Delivers one frame into the next receive buffer, with header `flags`; false when the driver has no
   * buffer available (the frame is lost, as on a real device).
   */
  deliver(frame: Uint8Array, flags = 0): boolean {
    const queue = this.#queues[0];
    if (!queue?.enabled || !(this.#status & Status.DRIVER_OK)) return false;
    const id = this.#nextAvail(queue);
    if (id < 0) return false;
    const { address, length, flags: descFlags } = this.#descriptor(queue, id);
    if (!(descFlags & 2)) this.errors.push(`receive descriptor ${id} is not device-writable`);
    if (NET_HDR_LENGTH + frame.length > length) {
      this.errors.push(`receive buffer ${id} of ${length} bytes is too small`);
      return false;
    }
    const at = this.memory.offsetOf(address);
    const bytes = this.memory.bytes;
    bytes.fill(0, at, at + NET_HDR_LENGTH);
    bytes[at] = flags;
    bytes[at + 10] = 1; // num_buffers
    bytes.set(frame, at + NET_HDR_LENGTH);
    this.#pushUsed(queue, id, NET_HDR_LENGTH + frame.length);
    this.#advertise(0);
    return true;
  }

  /** Writes an arbitrary used entry on the receive queue (for malformed-device tests). */
  deliverRaw(id: number, length: number): void {
    const queue = this.#queues[0];
    this.#pushUsed(queue, id, length);
  }

  /** Consumes every available transmit buffer and returns the frames (copies), marking them used. */
  transmitted(): ModelFrame[] {
    const queue = this.#queues[1];
    const out: ModelFrame[] = [];
    if (!queue?.enabled) return out;
    for (;;) {
      const id = this.#nextAvail(queue);
      if (id < 0) break;
      const { address, length, flags } = this.#descriptor(queue, id);
      if (flags & 2) this.errors.push(`transmit descriptor ${id} is device-writable`);
      if (length < NET_HDR_LENGTH) {
        this.errors.push(`transmit descriptor ${id} shorter than the header`);
      } else {
        const at = this.memory.offsetOf(address);
        const bytes = this.memory.bytes;
        out.push({
          flags: bytes[at],
          csumStart: bytes[at + 6] | (bytes[at + 7] << 8),
          csumOffset: bytes[at + 8] | (bytes[at + 9] << 8),
          frame: bytes.slice(at + NET_HDR_LENGTH, at + length),
        });
      }
      this.#pushUsed(queue, id, 0);
    }
    this.#advertise(1);
    return out;
  }

  // ---- internals ----

  #reset(): void {
    this.#status = 0;
    this.driverFeatures = 0n;
    this.#queues = [];
  }

  #config(): number[] {
    const mac: number[] = [];
    for (let i = 5; i >= 0; i--) mac.push(Math.floor(this.#mac / 2 ** (8 * i)) & 0xff);
    const config = [...mac, this.linkUp ? 1 : 0, 0, 1, 0, this.#mtu & 0xff, this.#mtu >> 8];
    if (config.length !== NetConfig.MTU + 2) throw new Error("Model config layout is wrong");
    return config;
  }

  #inside(address: number, length: number): boolean {
    const start = this.memory.offsetOf(address);
    const end = this.memory.offsetOf(address + length - 1);
    return start >= 0 && end === start + length - 1;
  }

  #u16(address: number): number {
    const at = this.memory.offsetOf(address);
    if (at < 0) {
      this.errors.push(`read outside memory at 0x${address.toString(16)}`);
      return 0;
    }
    return this.#view.getUint16(at, true);
  }

  #setU16(address: number, value: number): void {
    const at = this.memory.offsetOf(address);
    if (at < 0) this.errors.push(`write outside memory at 0x${address.toString(16)}`);
    else this.#view.setUint16(at, value, true);
  }

  #nextAvail(queue: ModelQueue): number {
    const availIdx = this.#u16(queue.driver + 2);
    const waiting = (availIdx - queue.lastAvail) & 0xffff;
    if (waiting === 0) return -1;
    if (waiting > queue.size) {
      this.errors.push(`avail index ${availIdx} is ${waiting} ahead of the device`);
      return -1;
    }
    const id = this.#u16(queue.driver + 4 + 2 * (queue.lastAvail % queue.size));
    queue.lastAvail = (queue.lastAvail + 1) & 0xffff;
    if (id >= queue.size) {
      this.errors.push(`avail entry ${id} is outside the descriptor table`);
      return -1;
    }
    return id;
  }

  #descriptor(queue: ModelQueue, id: number): { address: number; length: number; flags: number } {
    const at = this.memory.offsetOf(queue.desc + 16 * id);
    const view = this.#view;
    const address = view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
    const length = view.getUint32(at + 8, true);
    const flags = view.getUint16(at + 12, true);
    if (flags & 1) this.errors.push(`descriptor ${id} is chained, which this driver never does`);
    if (!this.#inside(address, length)) {
      this.errors.push(
        `descriptor ${id} buffer 0x${address.toString(16)}+${length} is outside memory`,
      );
    }
    return { address, length, flags };
  }

  #pushUsed(queue: ModelQueue, id: number, length: number): void {
    const slot = queue.device + 4 + 8 * (queue.usedIdx % queue.size);
    const at = this.memory.offsetOf(slot);
    this.#view.setUint32(at, id, true);
    this.#view.setUint32(at + 4, length, true);
    const old = queue.usedIdx;
    queue.usedIdx = (queue.usedIdx + 1) & 0xffff;
    this.#setU16(queue.device + 2, queue.usedIdx);
    // Interrupt the driver if it asked (§2.7.7, §2.7.10): used_event under EVENT_IDX, else the flag.
    const eventIdx = (this.driverFeatures & featureBit(Feature.RING_EVENT_IDX)) !== 0n;
    const wanted = eventIdx
      ? needEvent(this.#u16(queue.driver + 4 + 2 * queue.size), queue.usedIdx, old)
      : (this.#u16(queue.driver) & AVAIL_F_NO_INTERRUPT) === 0;
    if (wanted) {
      this.isr = 1;
      this.interrupts++;
      this.onInterrupt?.();
    }
  }

  /** Tells the driver whether to notify: used flags, or avail_event under EVENT_IDX (§2.7.10). */
  #advertise(index: number): void {
    const queue = this.#queues[index];
    if (!queue) return;
    const eventIdx = (this.driverFeatures & featureBit(Feature.RING_EVENT_IDX)) !== 0n;
    if (eventIdx) {
      const event = this.polling ? (queue.lastAvail - 1) & 0xffff : queue.lastAvail;
      this.#setU16(queue.device + 4 + 8 * queue.size, event);
    } else {
      this.#setU16(queue.device, this.polling ? USED_F_NO_NOTIFY : 0);
    }
  }

  /** Re-advertises notification wishes after `polling` changed. */
  advertise(): void {
    for (let i = 0; i < this.#queues.length; i++) this.#advertise(i);
  }
}
