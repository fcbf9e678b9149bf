/**
 * A binary min-heap of (deadline, key) entries with lazy deletion: a changed deadline pushes a new entry,
 * and entries that no longer match their owner's deadline are skipped when they reach the top.
 *
 * @module
 */

/** Deadlines of many owners, earliest first. */
export class TimerHeap {
  #times: number[] = [];
  #keys: number[] = [];

  /** How many entries, stale ones included. */
  get length(): number {
    return this.#times.length;
  }

  /** Adds a deadline for `key`. */
  push(time: number, key: number): void {
    const times = this.#times;
    const keys = this.#keys;
    let i = times.length;
    times.push(time);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (times[parent] <= time) break;
      times[i] = times[parent];
      keys[i] = keys[parent];
      i = parent;
    }
    times[i] = time;
    keys[i] = key;
  }

  /** The earliest deadline, or Infinity when empty. */
  peekTime(): number {
    return this.#times.length === 0 ? Infinity : this.#times[0];
  }

  /** The key of the earliest entry (check `length` first). */
  peekKey(): number {
    return this.#keys[0];
  }

  /** Removes the earliest entry. */
  pop(): void {
    const times = this.#times;
    const keys = this.#keys;
    const lastTime = times.pop()!;
    const lastKey = keys.pop()!;
    const n = times.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && times[child + 1] < times[child]) child++;
      if (times[child] >= lastTime) break;
      times[i] = times[child];
      keys[i] = keys[child];
      i = child;
    }
    times[i] = lastTime;
    keys[i] = lastKey;
  }

  /** Keeps only the entries `keep` approves, to bound the heap when many deadlines went stale. */
  compact(keep: (time: number, key: number) => boolean): void {
    const times = this.#times;
    const keys = this.#keys;
    this.#times = [];
    this.#keys = [];
    for (let i = 0; i < times.length; i++) {
      if (keep(times[i], keys[i])) this.push(times[i], keys[i]);
    }
  }
}
