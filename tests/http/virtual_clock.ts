/**
 * A virtual clock for timeout tests: time moves only when the test advances it.
 *
 * @module
 */

import type { Clock } from "../../stack/http/clock.ts";

interface Timer {
  at: number;
  resolve: () => void;
}

/** Lets every pending promise chain run (in-memory streams settle within one macrotask). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A clock whose time is set by {@linkcode VirtualClock.advance}. */
export class VirtualClock implements Clock {
  #now = 0;
  #timers: Timer[] = [];
  /** Milliseconds since the epoch reported as wall time (for the Date header). */
  wall = Date.UTC(2026, 10, 27, 7, 0, 0);

  now(): number {
    return this.#now;
  }

  wallTime(): number {
    return this.wall + this.#now;
  }

  after(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = { at: this.#now + Math.max(0, ms), resolve };
      if (signal?.aborted) return resolve();
      this.#timers.push(timer);
      signal?.addEventListener("abort", () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        resolve();
      }, { once: true });
    });
  }

  /** Number of sleeps waiting for the clock. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and settling after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    while (true) {
      let next: Timer | undefined;
      for (const t of this.#timers) if (t.at <= target && (!next || t.at < next.at)) next = t;
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.resolve();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}
