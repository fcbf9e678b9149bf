/**
 * The virtio-net driver proper: device initialisation (virtio 1.2 §3.1.1), feature negotiation, one receive
 * and one transmit split virtqueue, and the `Nic` interface on top. Frames are received and sent in place
 * in the DMA buffers; the 12-byte virtio_net_hdr sits just before each frame in the same buffer (VERSION_1
 * implies any descriptor layout), so every buffer is a single descriptor fixed at start-up.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { zeroBytes } from "../../util/zero_bytes.ts";
import type { FrameFill, FrameHandler, Nic, NicCaps, NicStats } from "../nic.ts";
import { newNicStats } from "../nic.ts";
import {
  Feature,
  featureBit,
  featureNames,
  NET_HDR_F_DATA_VALID,
  NET_HDR_F_NEEDS_CSUM,
  NET_HDR_LENGTH,
  NET_S_LINK_UP,
  NetConfig,
  Status,
} from "./constants.ts";
import { DmaArena, type DmaMemory } from "./dma.ts";
import { markNeedsChecksum, transportChecksumValid } from "./net_header.ts";
import { placeQueue, SplitQueue } from "./queue.ts";
import type { VirtioTransport } from "./transport.ts";
import type { InterruptSource } from "./uio.ts";

/** Options of `VirtioNet.start`. */
export interface VirtioNetOptions {
  /** Largest IP datagram to carry (default 1500, at most the device's MTU and `MAX_MTU`). */
  mtu?: number;
  /** Descriptors per queue (default 256, capped by the device). */
  queueSize?: number;
  /** Negotiate CSUM / GUEST_CSUM when offered (default true). */
  offloads?: boolean;
  /** Negotiate EVENT_IDX when offered (default true). */
  eventIdx?: boolean;
  /** Wait for interrupts from here instead of polling when idle (uio_pci_generic). */
  interrupts?: InterruptSource;
}

/** Bytes per buffer: header plus the largest frame. */
export const BUFFER_SIZE = 2048;
/** The largest MTU a single-buffer frame allows (2048 - 12 header - 14 Ethernet). */
export const MAX_MTU = BUFFER_SIZE - NET_HDR_LENGTH - 14;
const RX_QUEUE = 0;
const TX_QUEUE = 1;
const RESET_SPINS = 1_000_000;
const MAX_IDLE_DELAY_MS = 4;
/** Event-loop yields before `wait` starts sleeping. */
const SPIN_YIELDS = 32;

/** Features the driver cannot work without. */
export const REQUIRED_FEATURES = featureBit(Feature.VERSION_1) | featureBit(Feature.NET_MAC);

/** DMA bytes needed for two queues of `queueSize` entries and their buffers. */
export function dmaBytesFor(queueSize: number, pageSize = 4096): number {
  const ringPages = 2 * Math.ceil((16 + 8 + 6 + 6) * queueSize / pageSize + 3);
  return ringPages * pageSize + 2 * queueSize * BUFFER_SIZE;
}

/** A virtio-net device driven from user space. */
export class VirtioNet implements Nic {
  readonly name: string;
  readonly mac: number;
  readonly mtu: number;
  readonly caps: NicCaps;
  readonly stats: NicStats;
  /** The features both sides agreed on. */
  readonly features: bigint;

  readonly #transport: VirtioTransport;
  readonly #memory: DmaMemory;
  readonly #bytes: Uint8Array;
  readonly #rx: SplitQueue;
  readonly #tx: SplitQueue;
  readonly #rxOffsets: Int32Array;
  readonly #txOffsets: Int32Array;
  readonly #txFree: Uint16Array;
  #txFreeCount: number;
  /** 1 while the device owns a transmit buffer, so a device returning one twice cannot corrupt the pool. */
  readonly #txWithDevice: Uint8Array;
  readonly #maxFrame: number;
  readonly #mergeable: boolean;
  readonly #verifyUnmarked: boolean;
  readonly #linkStatus: boolean;
  #closed = false;
  #waitGeneration = 0;
  #interrupts: InterruptSource | undefined;

  private constructor(
    transport: VirtioTransport,
    memory: DmaMemory,
    features: bigint,
    mac: number,
    mtu: number,
    rx: SplitQueue,
    tx: SplitQueue,
    arena: DmaArena,
  ) {
    this.name = `virtio:${transport.name}`;
    this.#transport = transport;
    this.#memory = memory;
    this.#bytes = memory.bytes;
    this.features = features;
    this.mac = mac;
    this.mtu = mtu;
    this.#maxFrame = mtu + 14;
    this.#rx = rx;
    this.#tx = tx;
    const has = (bit: number) => (features & featureBit(bit)) !== 0n;
    this.caps = {
      rxChecksumVerified: has(Feature.NET_GUEST_CSUM),
      txChecksumOffload: has(Feature.NET_CSUM),
    };
    this.#mergeable = has(Feature.NET_MRG_RXBUF);
    this.#verifyUnmarked = has(Feature.NET_GUEST_CSUM);
    this.#linkStatus = has(Feature.NET_STATUS);
    this.stats = {
      ...newNicStats(),
      rxMalformed: 0,
      rxChecksumDropped: 0,
      rxBadDescriptor: 0,
      txBadDescriptor: 0,
      txTooLong: 0,
      rxNotifications: 0,
      txNotifications: 0,
      linkUp: 1,
      interrupts: 0,
    };
    this.#rxOffsets = new Int32Array(rx.size);
    this.#txOffsets = new Int32Array(tx.size);
    for (let id = 0; id < rx.size; id++) {
      const at = arena.alloc(BUFFER_SIZE, BUFFER_SIZE);
      this.#rxOffsets[id] = at;
      rx.setDescriptor(id, memory.busAddress(at), BUFFER_SIZE, true);
    }
    this.#txFree = new Uint16Array(tx.size);
    this.#txWithDevice = new Uint8Array(tx.size);
    for (let id = 0; id < tx.size; id++) {
      const at = arena.alloc(BUFFER_SIZE, BUFFER_SIZE);
      this.#txOffsets[id] = at;
      tx.setDescriptor(id, memory.busAddress(at), 0, false);
      this.#txFree[id] = tx.size - 1 - id;
    }
    this.#txFreeCount = tx.size;
  }

  /**
   * Resets and initialises the device behind `transport` (§3.1.1) with its rings and buffers in `memory`,
   * and hands every receive buffer to it. On failure the device is left FAILED and the error says why.
   */
  static start(
    transport: VirtioTransport,
    memory: DmaMemory,
    opts: VirtioNetOptions = {},
  ): VirtioNet {
    const fail = (message: string): never => {
      transport.setStatus(transport.getStatus() | Status.FAILED);
      throw new Error(`${transport.name}: ${message}`);
    };
    transport.setStatus(0);
    let spins = 0;
    while (transport.getStatus() !== 0) {
      if (++spins > RESET_SPINS) {
        throw new Error(`${transport.name}: device does not finish its reset`);
      }
    }
    transport.setStatus(Status.ACKNOWLEDGE);
    transport.setStatus(Status.ACKNOWLEDGE | Status.DRIVER);

    const offered = transport.deviceFeatures();
    const missing = REQUIRED_FEATURES & ~offered;
    if (missing !== 0n) {
      fail(
        `device lacks required features ${featureNames(missing).join(", ")} ` +
          `(offers ${featureNames(offered).join(", ") || "none"})`,
      );
    }
    let wanted = REQUIRED_FEATURES | featureBit(Feature.NET_STATUS) |
      featureBit(Feature.NET_MRG_RXBUF) | featureBit(Feature.NET_MTU);
    if (opts.offloads !== false) {
      wanted |= featureBit(Feature.NET_CSUM) | featureBit(Feature.NET_GUEST_CSUM);
    }
    if (opts.eventIdx !== false) wanted |= featureBit(Feature.RING_EVENT_IDX);
    const features = offered & wanted;
    transport.setDriverFeatures(features);
    transport.setStatus(Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK);
    if ((transport.getStatus() & Status.FEATURES_OK) === 0) {
      fail(`device rejected features ${featureNames(features).join(", ")} (FEATURES_OK not kept)`);
    }

    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > MAX_MTU) {
      fail(`MTU ${mtu} is outside 68..${MAX_MTU}`);
    }
    if (features & featureBit(Feature.NET_MTU)) {
      const deviceMtu = transport.readConfig16(NetConfig.MTU);
      if (mtu > deviceMtu) fail(`MTU ${mtu} is above the device's MTU ${deviceMtu}`);
    }
    if (transport.numQueues() < 2) fail(`device has ${transport.numQueues()} queues, needs 2`);

    const eventIdx = (features & featureBit(Feature.RING_EVENT_IDX)) !== 0n;
    const arena = new DmaArena(memory);
    const queues: SplitQueue[] = [];
    for (const index of [RX_QUEUE, TX_QUEUE]) {
      const max = transport.queueMaxSize(index);
      if (max === 0) fail(`queue ${index} is not available`);
      // A descriptor table larger than a page would straddle scattered 4 KiB pages.
      let size = Math.min(opts.queueSize ?? 256, max, memory.pageSize / 16);
      while (size & (size - 1)) size &= size - 1; // round down to a power of 2
      const queue = new SplitQueue(memory, placeQueue(arena, size), eventIdx);
      queue.suppressInterrupts();
      transport.setupQueue(index, size, queue.descAddress, queue.availAddress, queue.usedAddress);
      queues.push(queue);
    }

    const mac = readMac(transport);
    const nic = new VirtioNet(transport, memory, features, mac, mtu, queues[0], queues[1], arena);
    nic.#interrupts = opts.interrupts;
    transport.setStatus(
      Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK | Status.DRIVER_OK,
    );
    const status = transport.getStatus();
    if (status & (Status.DEVICE_NEEDS_RESET | Status.FAILED)) {
      fail(`device refused DRIVER_OK (status 0x${status.toString(16)})`);
    }
    nic.#refillAll();
    return nic;
  }

  /** What backs the DMA memory ("hugepages 2 MiB", "locked 4 KiB pages", "heap"). */
  get dmaKind(): string {
    return this.#memory.kind;
  }

  /** Descriptors of the receive queue currently owned by the device (for tests and stats). */
  get rxQueueSize(): number {
    return this.#rx.size;
  }

  /** Transmit buffers free right now (after reclaiming completed ones). */
  get txFree(): number {
    this.#reclaim();
    return this.#txFreeCount;
  }

  receive(_now: number, handler: FrameHandler, budget = 64): number {
    const rx = this.#rx;
    const bytes = this.#bytes;
    const stats = this.stats;
    let handed = 0;
    while (handed < budget) {
      const id = rx.takeUsed();
      if (id === -1) break;
      if (id === -2) {
        stats.rxBadDescriptor++;
        continue;
      }
      const at = this.#rxOffsets[id];
      const length = rx.usedLength - NET_HDR_LENGTH;
      const frame = at + NET_HDR_LENGTH;
      if (length < 14 || length > this.#maxFrame) {
        stats.rxDropped++;
        stats.rxMalformed++;
      } else if (this.#mergeable && (bytes[at + 10] | (bytes[at + 11] << 8)) !== 1) {
        // Buffers hold a whole frame, so a frame spread over several is not one we asked for.
        stats.rxDropped++;
        stats.rxMalformed++;
      } else if (
        this.#verifyUnmarked &&
        (bytes[at] & (NET_HDR_F_DATA_VALID | NET_HDR_F_NEEDS_CSUM)) === 0 &&
        !transportChecksumValid(bytes, frame, length)
      ) {
        stats.rxDropped++;
        stats.rxChecksumDropped++;
      } else {
        stats.rxFrames++;
        stats.rxBytes += length;
        handed++;
        try {
          handler(bytes, frame, length);
        } finally {
          rx.offer(id);
        }
        continue;
      }
      rx.offer(id);
    }
    if (rx.unpublished > 0 && rx.publish()) {
      stats.rxNotifications++;
      this.#transport.notify(RX_QUEUE);
    }
    return handed;
  }

  send(_now: number, length: number, fill: FrameFill): boolean {
    const stats = this.stats;
    if (length < 14 || length > this.#maxFrame) {
      stats.txTooLong++;
      return false;
    }
    if (this.#txFreeCount === 0) this.#reclaim();
    if (this.#txFreeCount === 0) {
      stats.txBusy++;
      return false;
    }
    const id = this.#txFree[--this.#txFreeCount];
    const at = this.#txOffsets[id];
    const bytes = this.#bytes;
    zeroBytes(bytes, at, at + NET_HDR_LENGTH);
    try {
      fill(bytes, at + NET_HDR_LENGTH, length);
    } catch (error) {
      this.#txFree[this.#txFreeCount++] = id;
      throw error;
    }
    if (this.caps.txChecksumOffload) markNeedsChecksum(bytes, at, length);
    this.#txWithDevice[id] = 1;
    this.#tx.setLength(id, NET_HDR_LENGTH + length);
    this.#tx.offer(id);
    stats.txFrames++;
    stats.txBytes += length;
    return true;
  }

  flush(_now: number): void {
    if (this.#tx.unpublished > 0 && this.#tx.publish()) {
      this.stats.txNotifications++;
      this.#transport.notify(TX_QUEUE);
    }
  }

  /**
   * Polls the receive ring, first yielding to the event loop with `setImmediate` a few times (cheap, low
   * latency when traffic is about to arrive), then sleeping 1, 2, 4, 4... ms between looks, so an idle
   * stack costs little CPU. A newer call supersedes an older one still running, whose loop then ends (the
   * runtime starts a fresh wait each time it sleeps). Throws when the device asks for a reset.
   */
  async wait(timeoutMs: number): Promise<void> {
    this.checkDevice();
    if (this.#interrupts) return this.#waitForInterrupt(timeoutMs);
    const generation = ++this.#waitGeneration;
    let slept = 0;
    let spins = 0;
    let delay = 1;
    while (
      this.#rx.usedPending === 0 && slept < timeoutMs && !this.#closed &&
      generation === this.#waitGeneration
    ) {
      if (spins < SPIN_YIELDS) {
        spins++;
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const step = Math.min(delay, timeoutMs - slept);
      await new Promise((resolve) => setTimeout(resolve, step));
      slept += step;
      delay = Math.min(delay * 2, MAX_IDLE_DELAY_MS);
    }
  }

  /** Reads the device status and link state; throws a clear error when the device needs a reset. */
  checkDevice(): void {
    if (this.#closed) return;
    const status = this.#transport.getStatus();
    if (status & Status.DEVICE_NEEDS_RESET) {
      throw new Error(
        `${this.#transport.name}: device needs a reset (DEVICE_NEEDS_RESET in status 0x${
          status.toString(16)
        })`,
      );
    }
    if (this.#linkStatus) {
      this.stats.linkUp = this.#transport.readConfig16(NetConfig.STATUS) & NET_S_LINK_UP;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A reset stops the device from touching the rings before the memory is given back (§4.1.4.3.2).
    this.#transport.setStatus(0);
    this.#transport.close();
    this.#memory.close();
    this.#interrupts?.close();
  }

  /**
   * Sleeps until the receive queue's interrupt: ask for one at the next used entry, clear the ISR and
   * unmask, look once more, then wait. The last look comes after the ISR read: an entry that landed
   * between an earlier look and that read raised an interrupt the read then cleared, and would have
   * slept until the timeout. The ISR read afterwards deasserts the level-triggered line; interrupts go
   * back to suppressed for polling.
   */
  async #waitForInterrupt(timeoutMs: number): Promise<void> {
    const rx = this.#rx;
    if (rx.usedPending > 0 || timeoutMs <= 0) return;
    rx.requestInterrupt();
    try {
      this.#transport.readIsr();
      this.#interrupts!.unmask();
      if (rx.usedPending > 0) return;
      if (await this.#interrupts!.wait(timeoutMs)) this.stats.interrupts++;
      this.#transport.readIsr();
    } finally {
      rx.suppressInterrupts();
    }
  }

  #reclaim(): void {
    const tx = this.#tx;
    for (;;) {
      const id = tx.takeUsed();
      if (id === -1) return;
      if (id === -2 || this.#txWithDevice[id] === 0) {
        this.stats.txBadDescriptor++;
        continue;
      }
      this.#txWithDevice[id] = 0;
      this.#txFree[this.#txFreeCount++] = id;
    }
  }

  #refillAll(): void {
    for (let id = 0; id < this.#rx.size; id++) this.#rx.offer(id);
    if (this.#rx.publish()) {
      this.stats.rxNotifications++;
      this.#transport.notify(RX_QUEUE);
    }
  }
}

/** Reads the MAC from the device configuration, retrying while config_generation changes (§2.5.1). */
function readMac(transport: VirtioTransport): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = transport.configGeneration();
    let mac = 0;
    for (let i = 0; i < 6; i++) mac = mac * 256 + transport.readConfig8(NetConfig.MAC + i);
    if (transport.configGeneration() === before) return mac;
  }
  throw new Error(`${transport.name}: device configuration keeps changing`);
}
