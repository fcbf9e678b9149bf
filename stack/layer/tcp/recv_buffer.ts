/**
 * The receive buffer: a byte ring with out-of-order reassembly, in the manner of smoltcp's `Assembler`.
 * Bytes up to RCV.NXT are readable; bytes received beyond it are stored at their place in the ring and
 * tracked as a bounded list of ranges (offsets relative to RCV.NXT) until the gap before them fills.
 *
 * An in-order segment that finds the ring empty may be lent instead of copied (`write(..., lend)`): the
 * app's reads copy straight from the NIC's buffer, and `settle` copies what is left into the ring before
 * that buffer goes back to the NIC. An app that reads in its event handler so saves one copy per segment.
 *
 * Overlapping segments that carry different bytes: the first-received bytes are kept and later copies
 * are ignored (RFC 9293 §3.10.7.4 leaves the choice open; keeping what is stored means stored data never
 * changes, and a segment that only overlaps costs no copy).
 *
 * @module
 */

/** The most SACK blocks reported (RFC 2018 §3). */
const MAX_SACK_BLOCKS = 4;

/** A fixed-capacity receive ring with bounded out-of-order reassembly. */
export class RecvBuffer {
  #buf: Uint8Array;
  #head = 0;
  #readable = 0;
  #maxHoles: number;
  // Out-of-order ranges [start, end) relative to RCV.NXT, sorted by start, disjoint and not touching;
  // `#stamp` orders them by when they last grew, for SACK (RFC 2018 §4).
  #starts: number[] = [];
  #ends: number[] = [];
  #stamps: number[] = [];
  #count = 0;
  #clock = 0;
  #outOfOrder = 0;
  #refused = 0;
  // A lent segment: the readable bytes are #lent[#lentAt .. #lentAt + #readable), the ring is empty.
  #lent: Uint8Array | undefined = undefined;
  #lentAt = 0;

  /** A buffer of `capacity` bytes that tracks at most `maxHoles` out-of-order ranges. */
  constructor(capacity: number, maxHoles = 8) {
    if (!(capacity > 0) || !Number.isInteger(capacity)) {
      throw new RangeError(`Receive buffer capacity must be a positive integer, got ${capacity}`);
    }
    this.#buf = new Uint8Array(capacity);
    this.#maxHoles = Math.max(0, maxHoles);
  }

  /** The buffer's size in bytes. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** In-order bytes the application can read. */
  get readable(): number {
    return this.#readable;
  }

  /** The receive window: space from RCV.NXT to the end of the buffer (out-of-order data lies inside). */
  get window(): number {
    return this.#buf.length - this.#readable;
  }

  /** Bytes held beyond RCV.NXT, waiting for a gap to fill. */
  get outOfOrderBytes(): number {
    return this.#outOfOrder;
  }

  /** Segments dropped because they would have opened a range beyond `maxHoles`. */
  get refused(): number {
    return this.#refused;
  }

  /** How many out-of-order ranges are held. */
  get outOfOrderRanges(): number {
    return this.#count;
  }

  /**
   * Stores `bytes[off .. off + len)`, whose first byte is `offsetFromRcvNxt` bytes after RCV.NXT
   * (negative for data already received). Data beyond the window is trimmed; a new out-of-order range
   * when `maxHoles` are already held is dropped. Returns how many bytes became contiguous: advance
   * RCV.NXT by that much. With `lend`, an in-order segment arriving at an empty ring is kept where it is
   * until `settle`, which the caller must call before `bytes` changes.
   */
  write(
    offsetFromRcvNxt: number,
    bytes: Uint8Array,
    off: number,
    len: number,
    lend = false,
  ): number {
    if (this.#lent !== undefined) this.settle();
    let start = offsetFromRcvNxt;
    let end = Math.min(offsetFromRcvNxt + len, this.window);
    if (start < 0) start = 0;
    if (start >= end) return 0;
    if (this.#count === 0 && start === 0) {
      // The common case, in order with nothing held beyond: no ranges to merge.
      if (lend && this.#readable === 0) {
        this.#lent = bytes;
        this.#lentAt = off - offsetFromRcvNxt;
        this.#readable = end;
        return end;
      }
      this.#copyIn(0, bytes, off - offsetFromRcvNxt, end);
      this.#readable += end;
      return end;
    }
    // The ranges that overlap or touch [start, end): indices first .. last - 1.
    let first = 0;
    while (first < this.#count && this.#ends[first] < start) first++;
    let last = first;
    while (last < this.#count && this.#starts[last] <= end) last++;
    if (first === last && start > 0 && this.#count >= this.#maxHoles) {
      this.#refused++;
      return 0;
    }
    // Copy only the parts no earlier segment supplied.
    let cursor = start;
    for (let i = first; i < last; i++) {
      if (cursor < this.#starts[i]) {
        this.#copyIn(cursor, bytes, off + cursor - offsetFromRcvNxt, this.#starts[i] - cursor);
      }
      cursor = Math.max(cursor, this.#ends[i]);
    }
    if (cursor < end) this.#copyIn(cursor, bytes, off + cursor - offsetFromRcvNxt, end - cursor);
    // Merge into one range.
    let covered = 0;
    if (first < last) {
      start = Math.min(start, this.#starts[first]);
      end = Math.max(end, this.#ends[last - 1]);
      for (let i = first; i < last; i++) covered += this.#ends[i] - this.#starts[i];
    }
    this.#outOfOrder += end - start - covered;
    this.#splice(first, last - first, start, end);
    if (this.#starts[0] !== 0) return 0;
    // The range at RCV.NXT is now in order.
    const advance = this.#ends[0];
    this.#outOfOrder -= advance;
    this.#splice(0, 1);
    for (let i = 0; i < this.#count; i++) {
      this.#starts[i] -= advance;
      this.#ends[i] -= advance;
    }
    this.#readable += advance;
    return advance;
  }

  /** Copies up to `len` readable bytes into `dst[off..)` and frees them; returns the count. */
  read(dst: Uint8Array, off = 0, len: number = dst.length - off): number {
    const n = this.peek(dst, off, len);
    this.consume(n);
    return n;
  }

  /** Copies up to `len` readable bytes into `dst[off..)` without freeing them; returns the count. */
  peek(dst: Uint8Array, off = 0, len: number = dst.length - off): number {
    const n = Math.max(0, Math.min(len, this.#readable));
    if (n === 0) return 0;
    if (this.#lent !== undefined) {
      dst.set(this.#lent.subarray(this.#lentAt, this.#lentAt + n), off);
      return n;
    }
    const cap = this.#buf.length;
    const first = Math.min(n, cap - this.#head);
    dst.set(this.#buf.subarray(this.#head, this.#head + first), off);
    if (first < n) dst.set(this.#buf.subarray(0, n - first), off + first);
    return n;
  }

  /** Frees up to `n` readable bytes without copying them. */
  consume(n: number): void {
    const k = Math.max(0, Math.min(n, this.#readable));
    // Lent bytes stand for the ring positions they would have had, so the head moves the same way.
    this.#head += k;
    if (this.#head >= this.#buf.length) this.#head -= this.#buf.length;
    this.#readable -= k;
    if (this.#lent !== undefined) {
      this.#lentAt += k;
      if (this.#readable === 0) this.#lent = undefined;
    }
    // Empty, with nothing held beyond RCV.NXT: the next bytes go to the start of the ring, whose
    // cache lines are warm, rather than walk the whole ring (a request-response stream of small
    // messages would otherwise touch new memory with each one).
    if (this.#readable === 0 && this.#count === 0) this.#head = 0;
  }

  /** Where in the ring the oldest readable byte is (0 whenever the ring is empty), for tests. */
  get ringOffset(): number {
    return this.#head;
  }

  /** Copies what is left of a lent segment into the ring, so that its buffer can be reused. */
  settle(): void {
    const lent = this.#lent;
    if (lent === undefined) return;
    this.#lent = undefined;
    const n = this.#readable;
    this.#readable = 0; // #copyIn places bytes relative to the end of the readable ones
    this.#copyIn(0, lent, this.#lentAt, n);
    this.#readable = n;
  }

  /** True while a lent segment's bytes are unread and not yet copied (`settle` is due). */
  get lending(): boolean {
    return this.#lent !== undefined;
  }

  /**
   * Fills `out` with SACK blocks `[left0, right0, left1, right1, ...]` in sequence space for the
   * out-of-order ranges, the most recently changed first (RFC 2018 §4), at most 4; returns the count.
   */
  sackBlocks(rcvNxt: number, out: number[]): number {
    out.length = 0;
    const n = Math.min(this.#count, MAX_SACK_BLOCKS);
    // Selection by stamp: the range count is small (maxHoles), and this allocates nothing.
    let bound = Infinity;
    for (let k = 0; k < n; k++) {
      let best = -1;
      for (let i = 0; i < this.#count; i++) {
        const stamp = this.#stamps[i];
        if (stamp < bound && (best < 0 || stamp > this.#stamps[best])) best = i;
      }
      bound = this.#stamps[best];
      out.push((rcvNxt + this.#starts[best]) >>> 0, (rcvNxt + this.#ends[best]) >>> 0);
    }
    return n;
  }

  /** Forgets all out-of-order data (e.g. under memory pressure; RFC 2018 §8 allows reneging). */
  dropOutOfOrder(): void {
    this.#count = 0;
    this.#outOfOrder = 0;
  }

  /** Copies `len` bytes of `src[srcOff..)` to the ring position `offset` bytes after RCV.NXT. */
  #copyIn(offset: number, src: Uint8Array, srcOff: number, len: number): void {
    const cap = this.#buf.length;
    let at = this.#head + this.#readable + offset;
    while (at >= cap) at -= cap;
    const first = Math.min(len, cap - at);
    this.#buf.set(src.subarray(srcOff, srcOff + first), at);
    if (first < len) this.#buf.set(src.subarray(srcOff + first, srcOff + len), 0);
  }

  /** Replaces `remove` ranges at `index` with [start, end) if given, keeping the arrays dense. */
  #splice(index: number, remove: number, start?: number, end?: number): void {
    const insert = start === undefined ? 0 : 1;
    const shift = insert - remove;
    if (shift < 0) {
      for (let i = index + insert; i < this.#count + shift; i++) this.#move(i, i - shift);
    } else if (shift > 0) {
      for (let i = this.#count - 1 + shift; i >= index + insert; i--) this.#move(i, i - shift);
    }
    this.#count += shift;
    if (insert === 1) {
      this.#starts[index] = start!;
      this.#ends[index] = end!;
      this.#stamps[index] = ++this.#clock;
    }
  }

  #move(to: number, from: number): void {
    this.#starts[to] = this.#starts[from];
    this.#ends[to] = this.#ends[from];
    this.#stamps[to] = this.#stamps[from];
  }
}
