/**
 * The driver side of a split virtqueue (virtio 1.2 §2.7) over any `DmaMemory`: the descriptor table, the
 * driver area (available ring) and the device area (used ring). Each descriptor is one buffer for the whole
 * life of the queue (no chains), so "descriptor id" and "buffer" are the same number and nothing is
 * allocated per frame. Index stores that hand entries to the device use `Atomics.store`, which is
 * sequentially consistent: the ring entries written before it are visible first, and the notification
 * check read after it cannot be hoisted above it (the barrier §2.7.13 asks for).
 *
 * Assumes a little-endian host (x86-64), as virtio 1.x rings are little-endian.
 *
 * @module
 */

import { AVAIL_F_NO_INTERRUPT, USED_F_NO_NOTIFY } from "./constants.ts";
import type { DmaArena, DmaMemory } from "./dma.ts";

/** Where the three parts of a queue sit, as offsets into the memory's bytes. */
export interface QueueLayout {
  size: number;
  descOffset: number;
  availOffset: number;
  usedOffset: number;
}

/** Bytes of the descriptor table, driver area and device area of a queue of `size` entries (§2.7). */
export function queueAreaSizes(size: number): { desc: number; avail: number; used: number } {
  return { desc: 16 * size, avail: 6 + 2 * size, used: 6 + 8 * size };
}

/** Places a queue of `size` entries in `arena` with the alignments of §2.7 (16, 2 and 4 bytes). */
export function placeQueue(arena: DmaArena, size: number): QueueLayout {
  if (size <= 0 || size > 32768 || (size & (size - 1)) !== 0) {
    throw new Error(`Queue size ${size} is not a power of 2 between 1 and 32768`);
  }
  const sizes = queueAreaSizes(size);
  return {
    size,
    descOffset: arena.alloc(sizes.desc, 16),
    availOffset: arena.alloc(sizes.avail, 4),
    usedOffset: arena.alloc(sizes.used, 4),
  };
}

/** True when an index move from `old` to `next` passes `event` (vring_need_event, §2.7.10). */
export function needEvent(event: number, next: number, old: number): boolean {
  return ((next - event - 1) & 0xffff) < ((next - old) & 0xffff);
}

/** The driver's half of one split virtqueue. */
export class SplitQueue {
  /** Number of descriptors (a power of 2). */
  readonly size: number;
  /** Whether VIRTIO_F_EVENT_IDX was negotiated (used_event / avail_event replace the flags). */
  readonly eventIdx: boolean;
  /** Bus addresses to program into the device. */
  readonly descAddress: number;
  /** Bus address of the driver area (available ring). */
  readonly availAddress: number;
  /** Bus address of the device area (used ring). */
  readonly usedAddress: number;
  /** Length the device wrote for the descriptor last returned by `takeUsed`. */
  usedLength = 0;

  readonly #mask: number;
  readonly #desc32: Uint32Array;
  readonly #desc16: Uint16Array;
  readonly #avail: Uint16Array;
  readonly #used16: Uint16Array;
  readonly #used32: Uint32Array;
  #availShadow = 0;
  #availPublished = 0;
  #lastUsed = 0;

  /** Binds a queue to its areas in `memory`; the areas are zeroed (flags, indices). */
  constructor(memory: DmaMemory, layout: QueueLayout, eventIdx: boolean) {
    const { size, descOffset, availOffset, usedOffset } = layout;
    this.size = size;
    this.#mask = size - 1;
    this.eventIdx = eventIdx;
    const buffer = memory.bytes.buffer;
    const base = memory.bytes.byteOffset;
    const sizes = queueAreaSizes(size);
    memory.bytes.fill(0, descOffset, descOffset + sizes.desc);
    memory.bytes.fill(0, availOffset, availOffset + sizes.avail);
    memory.bytes.fill(0, usedOffset, usedOffset + sizes.used);
    this.#desc32 = new Uint32Array(buffer, base + descOffset, 4 * size);
    this.#desc16 = new Uint16Array(buffer, base + descOffset, 8 * size);
    this.#avail = new Uint16Array(buffer, base + availOffset, 3 + size);
    this.#used16 = new Uint16Array(buffer, base + usedOffset, 4 + 4 * size);
    this.#used32 = new Uint32Array(buffer, base + usedOffset + 4, 2 * size);
    this.descAddress = memory.busAddress(descOffset);
    this.availAddress = memory.busAddress(availOffset);
    this.usedAddress = memory.busAddress(usedOffset);
  }

  /** Points descriptor `id` at `length` bytes at bus address `address`; `writable` for device-written. */
  setDescriptor(id: number, address: number, length: number, writable: boolean): void {
    const w = id * 4;
    this.#desc32[w] = address % 0x100000000;
    this.#desc32[w + 1] = Math.floor(address / 0x100000000);
    this.#desc32[w + 2] = length;
    this.#desc16[id * 8 + 6] = writable ? 2 : 0;
    this.#desc16[id * 8 + 7] = 0;
  }

  /** Changes the length of descriptor `id` (a transmit buffer before it is offered). */
  setLength(id: number, length: number): void {
    this.#desc32[id * 4 + 2] = length;
  }

  /** Queues descriptor `id` for the device; it becomes visible at the next `publish`. */
  offer(id: number): void {
    this.#avail[2 + (this.#availShadow & this.#mask)] = id;
    this.#availShadow = (this.#availShadow + 1) & 0xffff;
  }

  /** Descriptors offered but not yet published. */
  get unpublished(): number {
    return (this.#availShadow - this.#availPublished) & 0xffff;
  }

  /**
   * Makes offered descriptors visible to the device and returns whether the device wants to be notified
   * (it suppresses notifications while it is already polling the queue, §2.7.10).
   */
  publish(): boolean {
    const old = this.#availPublished;
    const next = this.#availShadow;
    if (old === next) return false;
    Atomics.store(this.#avail, 1, next);
    this.#availPublished = next;
    if (this.eventIdx) return needEvent(Atomics.load(this.#used16, 2 + 4 * this.size), next, old);
    return (Atomics.load(this.#used16, 0) & USED_F_NO_NOTIFY) === 0;
  }

  /** Used entries the device has returned and the driver has not taken. */
  get usedPending(): number {
    return (Atomics.load(this.#used16, 1) - this.#lastUsed) & 0xffff;
  }

  /** Takes the next used descriptor id (its written length in `usedLength`): -1 when none, -2 for a bad id. */
  takeUsed(): number {
    const last = this.#lastUsed;
    if (Atomics.load(this.#used16, 1) === last) return -1;
    const slot = (last & this.#mask) * 2;
    const id = this.#used32[slot];
    this.usedLength = this.#used32[slot + 1];
    this.#lastUsed = (last + 1) & 0xffff;
    // A device returning an id outside the table is broken: the entry is skipped (callers count it).
    if (id >= this.size) return -2;
    return id;
  }

  /**
   * Asks the device not to interrupt: the driver polls (§2.7.7). With EVENT_IDX the flag is ignored, so
   * used_event is set just behind the last seen index, which the device only passes after 65535 entries.
   */
  suppressInterrupts(): void {
    this.#avail[0] = AVAIL_F_NO_INTERRUPT;
    if (this.eventIdx) this.#avail[2 + this.size] = (this.#lastUsed - 1) & 0xffff;
  }

  /** Asks for an interrupt as soon as one more used entry arrives (for interrupt-driven waiting). */
  requestInterrupt(): void {
    Atomics.store(this.#avail, 0, 0);
    if (this.eventIdx) Atomics.store(this.#avail, 2 + this.size, this.#lastUsed);
  }
}
