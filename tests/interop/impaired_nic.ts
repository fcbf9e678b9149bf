/**
 * A NIC wrapper that impairs what the stack receives the way `tc qdisc netem` on the sending Linux
 * interface would: seeded loss, duplication, a fixed delay, and netem's reordering (a share of the
 * frames skip the delay and overtake the others). The interop tests use it where the kernel lacks
 * sch_netem (CONFIG_NET_SCH_NETEM unset), so frames Linux sends still cross a lossy, reordering path.
 * Test tooling: it copies delayed frames into reused slots, it is not meant for the hot path.
 *
 * @module
 */

import type { FrameFill, FrameHandler, Nic, NicCaps, NicStats } from "../../stack/nic/nic.ts";
import { Rng } from "../../stack/util/rng.ts";

/** netem's parameters, as probabilities 0..1 and milliseconds. */
export interface NetemLike {
  loss: number;
  duplicate: number;
  delayMs: number;
  /** Share of frames sent at once instead of after the delay (netem `reorder`). */
  reorder: number;
}

/** Counters of what the impairment did. */
export interface ImpairedStats {
  lost: number;
  duplicated: number;
  delayed: number;
  reordered: number;
}

const SLOT = 2048;

/** Wraps `inner`; frames it receives are impaired before the stack sees them. */
export class ImpairedNic implements Nic {
  readonly stats: NicStats;
  readonly impaired: ImpairedStats = { lost: 0, duplicated: 0, delayed: 0, reordered: 0 };
  #inner: Nic;
  #netem: NetemLike;
  #rng: Rng;
  #free: Uint8Array[] = [];
  #queue: { at: number; frame: Uint8Array; length: number }[] = [];
  #head = 0;

  /** Impairs `inner`'s receive side with `netem`, choices drawn from `seed`. */
  constructor(inner: Nic, netem: NetemLike, seed = 1) {
    this.#inner = inner;
    this.#netem = netem;
    this.#rng = new Rng(seed);
    this.stats = inner.stats;
  }

  /** The inner NIC's name. */
  get name(): string {
    return this.#inner.name;
  }

  /** The inner NIC's MAC. */
  get mac(): number {
    return this.#inner.mac;
  }

  /** The inner NIC's MTU. */
  get mtu(): number {
    return this.#inner.mtu;
  }

  /** The inner NIC's capabilities. */
  get caps(): NicCaps {
    return this.#inner.caps;
  }

  /** Delivers the frames whose delay is over, then impairs what the inner NIC has. */
  receive(now: number, handler: FrameHandler, budget?: number): number {
    let delivered = 0;
    while (this.#head < this.#queue.length && this.#queue[this.#head].at <= now) {
      const { frame, length } = this.#queue[this.#head++];
      handler(frame, 0, length);
      if (frame.length === SLOT) this.#free.push(frame);
      delivered++;
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    const { loss, duplicate, delayMs, reorder } = this.#netem;
    delivered += this.#inner.receive(now, (bytes, offset, length) => {
      if (this.#rng.next() < loss) {
        this.impaired.lost++;
        return;
      }
      const copies = this.#rng.next() < duplicate ? 2 : 1;
      if (copies === 2) this.impaired.duplicated++;
      for (let i = 0; i < copies; i++) {
        if (this.#rng.next() < reorder) {
          // netem sends these at once, ahead of the frames still in the delay line.
          this.impaired.reordered++;
          handler(bytes, offset, length);
          continue;
        }
        const frame = length <= SLOT
          ? this.#free.pop() ?? new Uint8Array(SLOT)
          : new Uint8Array(length);
        frame.set(bytes.subarray(offset, offset + length));
        this.#queue.push({ at: now + delayMs, frame, length });
        this.impaired.delayed++;
      }
    }, budget);
    return delivered;
  }

  /** Sends through the inner NIC unimpaired. */
  send(now: number, length: number, fill: FrameFill): boolean {
    return this.#inner.send(now, length, fill);
  }

  /** Flushes the inner NIC. */
  flush(now: number): void {
    this.#inner.flush(now);
  }

  /** Waits on the inner NIC (the runtime already bounds the wait by `pollAt`). */
  wait(timeoutMs: number): Promise<void> {
    return this.#inner.wait(timeoutMs);
  }

  /** When the next delayed frame is due, or the inner NIC's own deadline. */
  pollAt(now: number): number | undefined {
    const due = this.#head < this.#queue.length ? this.#queue[this.#head].at : undefined;
    const inner = this.#inner.pollAt?.(now);
    if (due === undefined) return inner;
    return inner === undefined ? due : Math.min(due, inner);
  }

  /** Closes the inner NIC and drops what is still delayed. */
  close(): void {
    this.#queue.length = 0;
    this.#head = 0;
    this.#inner.close();
  }
}
