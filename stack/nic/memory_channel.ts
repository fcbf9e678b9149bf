/**
 * One direction of an in-memory link: a fixed pool of preallocated frame slots, a FIFO of frames in
 * flight, and seeded impairments (loss, duplication, reordering, corruption, delay, jitter, rate, a
 * bounded queue). It is driven only by the `now` its callers pass in; it never reads a clock.
 *
 * @module
 */

import { Rng } from "../util/rng.ts";
import type { FrameFill, FrameHandler, NicStats } from "./nic.ts";

/** Faults and shaping applied to frames crossing an in-memory link. Probabilities are 0..1. */
export interface Impairments {
  /** Probability a frame is lost. */
  loss?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back behind the next frame sent. */
  reorder?: number;
  /** Longest a held-back frame waits for a later frame before it goes anyway (ms, default 10). */
  reorderMaxHoldMs?: number;
  /** Probability one random bit of the frame is flipped. */
  corrupt?: number;
  /** Fixed one-way delay in ms. */
  delayMs?: number;
  /** Extra delay drawn uniformly from [0, jitterMs); it never reorders frames. */
  jitterMs?: number;
  /** Serialisation rate of the link; frames queue behind each other at this rate. */
  rateBitsPerSecond?: number;
  /** Frames the link holds in flight; more are dropped at the tail and counted. */
  queueFrames?: number;
}

/** Counters kept per direction, merged into the receiving NIC's stats. */
export interface ChannelStats {
  lossDropped: number;
  queueDropped: number;
  duplicated: number;
  corrupted: number;
  /** Frames that a later frame overtook. */
  reordered: number;
}

/** Options of a channel. */
export interface ChannelOptions {
  /** Largest frame in bytes (Ethernet header included). */
  maxFrame: number;
  /** Slots in the pool when no `queueFrames` bound is set (default 256). */
  ringFrames?: number;
  impair?: Impairments;
  rng: Rng;
  /** The receiving NIC's counters; impairment counters are added to it. */
  rxStats: NicStats;
  /** The sending NIC's counters. */
  txStats: NicStats;
}

const NONE = -1;

/** One direction of an in-memory link. */
export class MemoryChannel {
  /** The whole pool; slot `i` starts at `i * slotSize`. Receivers get views into it. */
  readonly pool: Uint8Array;
  readonly slotSize: number;
  readonly capacity: number;
  #free: Int32Array;
  #freeCount: number;
  #fifo: Int32Array;
  #head = 0;
  #count = 0;
  #length: Int32Array;
  #deliverAt: Float64Array;
  #held = NONE;
  #heldRelease = 0;
  #lastDeliverAt = -Infinity;
  #linkFreeAt = -Infinity;
  #latestNow = -Infinity;
  #bounded: boolean;
  #scratch: Uint8Array;
  #impair: Required<Impairments>;
  #rng: Rng;
  #rx: NicStats;
  #tx: NicStats;
  #waiters: Array<() => void> = [];
  /** Bumped by `close`, so that a handler closing the link does not free its slot twice. */
  #generation = 0;

  /** Creates an empty channel with all slots preallocated. */
  constructor(opts: ChannelOptions) {
    const i = opts.impair ?? {};
    this.#impair = {
      loss: i.loss ?? 0,
      duplicate: i.duplicate ?? 0,
      reorder: i.reorder ?? 0,
      reorderMaxHoldMs: i.reorderMaxHoldMs ?? 10,
      corrupt: i.corrupt ?? 0,
      delayMs: i.delayMs ?? 0,
      jitterMs: i.jitterMs ?? 0,
      rateBitsPerSecond: i.rateBitsPerSecond ?? 0,
      queueFrames: i.queueFrames ?? 0,
    };
    this.#bounded = this.#impair.queueFrames > 0;
    this.capacity = this.#bounded ? this.#impair.queueFrames : (opts.ringFrames ?? 256);
    if (!(this.capacity >= 1)) {
      throw new RangeError(`Cannot create a link of ${this.capacity} frames: need at least 1`);
    }
    this.slotSize = opts.maxFrame;
    this.pool = new Uint8Array(this.capacity * this.slotSize);
    this.#scratch = new Uint8Array(this.slotSize);
    this.#free = new Int32Array(this.capacity);
    for (let s = 0; s < this.capacity; s++) this.#free[s] = this.capacity - 1 - s;
    this.#freeCount = this.capacity;
    this.#fifo = new Int32Array(this.capacity);
    this.#length = new Int32Array(this.capacity);
    this.#deliverAt = new Float64Array(this.capacity);
    this.#rng = opts.rng;
    this.#rx = opts.rxStats;
    this.#tx = opts.txStats;
    for (const k of ["lossDropped", "queueDropped", "duplicated", "corrupted", "reordered"]) {
      this.#rx[k] = 0;
    }
  }

  /** Frames in flight (queued or held back), not yet received. */
  get inFlight(): number {
    return this.#count + (this.#held === NONE ? 0 : 1);
  }

  /** Accepts one frame from the sender; see `Nic.send`. */
  send(now: number, length: number, fill: FrameFill): boolean {
    if (length > this.slotSize || length < 0) {
      throw new RangeError(
        `Cannot send a frame of ${length} bytes: the link carries at most ${this.slotSize}`,
      );
    }
    this.#observe(now);
    const imp = this.#impair;
    if (this.#freeCount === 0) {
      if (!this.#bounded) {
        this.#tx.txBusy++;
        return false;
      }
      // A bounded queue behaves like a router: the sender never waits, the tail is dropped.
      fill(this.#scratch, 0, length);
      this.#countTx(length);
      this.#rx.queueDropped++;
      this.#rx.rxDropped++;
      return true;
    }
    const slot = this.#free[--this.#freeCount];
    const base = slot * this.slotSize;
    fill(this.pool, base, length);
    this.#countTx(length);
    if (imp.loss > 0 && this.#rng.next() < imp.loss) {
      this.#free[this.#freeCount++] = slot;
      this.#rx.lossDropped++;
      this.#rx.rxDropped++;
      return true;
    }
    if (imp.corrupt > 0 && length > 0 && this.#rng.next() < imp.corrupt) {
      const bit = this.#rng.below(length * 8);
      this.pool[base + (bit >>> 3)] ^= 1 << (bit & 7);
      this.#rx.corrupted++;
    }
    this.#length[slot] = length;
    this.#deliverAt[slot] = this.#arrival(now, length);
    let dup = NONE;
    if (imp.duplicate > 0 && this.#rng.next() < imp.duplicate && this.#freeCount > 0) {
      dup = this.#free[--this.#freeCount];
      this.pool.copyWithin(dup * this.slotSize, base, base + length);
      this.#length[dup] = length;
      this.#deliverAt[dup] = this.#deliverAt[slot];
      this.#rx.duplicated++;
    }
    if (this.#held !== NONE) {
      // The held frame goes right behind this later one: that is the reordering.
      this.#push(slot);
      if (dup !== NONE) this.#push(dup);
      this.#releaseHeld(this.#deliverAt[slot]);
      this.#rx.reordered++;
    } else if (imp.reorder > 0 && dup === NONE && this.#rng.next() < imp.reorder) {
      this.#held = slot;
      this.#heldRelease = this.#deliverAt[slot] + imp.reorderMaxHoldMs;
    } else {
      this.#push(slot);
      if (dup !== NONE) this.#push(dup);
    }
    this.#wake();
    return true;
  }

  /** Hands deliverable frames to `handler`; see `Nic.receive`. */
  receive(now: number, handler: FrameHandler, budget?: number): number {
    this.#observe(now);
    if (this.#held !== NONE && now >= this.#heldRelease) this.#releaseHeld(this.#heldRelease);
    // Frames queued while handling (a loopback reply) wait for the next call, so this always ends.
    let left = Math.min(budget ?? this.#count, this.#count);
    let handed = 0;
    const generation = this.#generation;
    while (left-- > 0 && this.#count > 0 && generation === this.#generation) {
      const slot = this.#fifo[this.#head];
      if (this.#deliverAt[slot] > now) break;
      this.#head = (this.#head + 1) % this.capacity;
      this.#count--;
      const length = this.#length[slot];
      this.#rx.rxFrames++;
      this.#rx.rxBytes += length;
      handed++;
      try {
        handler(this.pool, slot * this.slotSize, length);
      } finally {
        if (generation === this.#generation) this.#free[this.#freeCount++] = slot;
      }
    }
    return handed;
  }

  /** When the next frame becomes deliverable, or undefined when none is in flight. */
  pollAt(now: number): number | undefined {
    let at: number | undefined;
    if (this.#count > 0) at = this.#deliverAt[this.#fifo[this.#head]];
    if (this.#held !== NONE && (at === undefined || this.#heldRelease < at)) {
      at = this.#heldRelease;
    }
    return at === undefined ? undefined : Math.max(at, now);
  }

  /** Resolves when the sender queues a frame, when one is already deliverable, or after the timeout. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#count > 0 && this.#deliverAt[this.#fifo[this.#head]] <= this.#latestNow) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve();
      };
      this.#waiters.push(done);
      // The only timer in the stack: the real-time runtime's idle wait.
      const timer = setTimeout(done, Math.max(0, timeoutMs));
    });
  }

  /** Drops every frame in flight and resolves pending waits. */
  close(): void {
    this.#generation++;
    this.#head = 0;
    this.#count = 0;
    this.#held = NONE;
    this.#freeCount = this.capacity;
    for (let s = 0; s < this.capacity; s++) this.#free[s] = this.capacity - 1 - s;
    this.#wake();
  }

  #observe(now: number): void {
    if (now > this.#latestNow) this.#latestNow = now;
  }

  #countTx(length: number): void {
    this.#tx.txFrames++;
    this.#tx.txBytes += length;
  }

  /** Arrival time: serialisation behind earlier frames, then delay and jitter, never overtaking. */
  #arrival(now: number, length: number): number {
    const imp = this.#impair;
    let at = now;
    if (imp.rateBitsPerSecond > 0) {
      const start = Math.max(now, this.#linkFreeAt);
      this.#linkFreeAt = start + (length * 8 * 1000) / imp.rateBitsPerSecond;
      at = this.#linkFreeAt;
    }
    at += imp.delayMs;
    if (imp.jitterMs > 0) at += this.#rng.next() * imp.jitterMs;
    if (at < this.#lastDeliverAt) at = this.#lastDeliverAt;
    this.#lastDeliverAt = at;
    return at;
  }

  #push(slot: number): void {
    this.#fifo[(this.#head + this.#count) % this.capacity] = slot;
    this.#count++;
  }

  #releaseHeld(notBefore: number): void {
    const slot = this.#held;
    this.#held = NONE;
    if (this.#deliverAt[slot] < notBefore) this.#deliverAt[slot] = notBefore;
    if (this.#deliverAt[slot] > this.#lastDeliverAt) this.#lastDeliverAt = this.#deliverAt[slot];
    this.#push(slot);
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w();
  }
}
