/**
 * When each segment of new data was first sent, for time-based loss detection in the manner of RACK
 * (RFC 8985 §6): a ring of (start sequence number, send time) in sending order, which for new data is
 * also sequence order, so a lookup is a binary search. Old entries are overwritten; a lookup that falls
 * off the ring answers undefined.
 *
 * @module
 */

/** Send times of recent segments of new data. */
export class SendTimes {
  #starts: Float64Array;
  #times: Float64Array;
  #head = 0;
  #length = 0;
  #end = 0;

  /** Remembers up to `capacity` segments. */
  constructor(capacity = 4096) {
    this.#starts = new Float64Array(capacity);
    this.#times = new Float64Array(capacity);
  }

  /** Records a segment [start, end) of new data sent at `time`; older-sequence segments are ignored. */
  record(start: number, end: number, time: number): void {
    if (this.#length > 0 && ((start - this.#end) | 0) < 0) return;
    const capacity = this.#starts.length;
    const i = (this.#head + this.#length) % capacity;
    this.#starts[i] = start >>> 0;
    this.#times[i] = time;
    if (this.#length < capacity) this.#length++;
    else this.#head = (this.#head + 1) % capacity;
    this.#end = end >>> 0;
  }

  /** When the segment holding byte `seq` was sent, or undefined when unknown. */
  lookup(seq: number): number | undefined {
    if (this.#length === 0) return undefined;
    const capacity = this.#starts.length;
    const first = this.#starts[this.#head];
    const off = (seq - first) | 0;
    if (off < 0 || ((seq - this.#end) | 0) >= 0) return undefined;
    let lo = 0;
    let hi = this.#length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const start = this.#starts[(this.#head + mid) % capacity];
      if (((start - first) | 0) <= off) lo = mid;
      else hi = mid - 1;
    }
    return this.#times[(this.#head + lo) % capacity];
  }

  /** Forgets everything. */
  clear(): void {
    this.#length = 0;
  }
}
