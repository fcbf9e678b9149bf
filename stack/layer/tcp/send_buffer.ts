/**
 * The send buffer: a byte ring holding what the application wrote and the peer has not acknowledged
 * yet. Offsets are relative to the oldest unacknowledged byte (SND.UNA), so that a retransmission
 * copies the same bytes again (ethox's "the app owns its buffers").
 *
 * @module
 */

/** A fixed-capacity byte ring for outgoing stream data. */
export class SendBuffer {
  #buf: Uint8Array;
  #head = 0;
  #length = 0;

  /** A buffer for up to `capacity` bytes. */
  constructor(capacity: number) {
    if (!(capacity > 0) || !Number.isInteger(capacity)) {
      throw new RangeError(`Send buffer capacity must be a positive integer, got ${capacity}`);
    }
    this.#buf = new Uint8Array(capacity);
  }

  /** The most bytes the buffer can hold. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** Bytes held: written and not yet consumed (sent or not). */
  get length(): number {
    return this.#length;
  }

  /** Room for more bytes. */
  get free(): number {
    return this.#buf.length - this.#length;
  }

  /** Appends as much of `bytes[offset .. offset + length)` as fits; returns the bytes accepted. */
  write(bytes: Uint8Array, offset = 0, length: number = bytes.length - offset): number {
    const n = Math.min(length, this.free);
    if (n <= 0) return 0;
    const cap = this.#buf.length;
    let tail = this.#head + this.#length;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    this.#buf.set(bytes.subarray(offset, offset + first), tail);
    if (first < n) this.#buf.set(bytes.subarray(offset + first, offset + n), 0);
    this.#length += n;
    return n;
  }

  /** Copies `length` bytes starting `fromOffset` bytes after the oldest byte into `dst[dstOffset..)`. */
  copyOut(fromOffset: number, dst: Uint8Array, dstOffset: number, length: number): void {
    if (fromOffset < 0 || length < 0 || fromOffset + length > this.#length) {
      throw new RangeError(
        `Cannot copy ${length} bytes at offset ${fromOffset} of a ${this.#length}-byte send buffer`,
      );
    }
    if (length === 0) return;
    const cap = this.#buf.length;
    let start = this.#head + fromOffset;
    if (start >= cap) start -= cap;
    const first = Math.min(length, cap - start);
    dst.set(this.#buf.subarray(start, start + first), dstOffset);
    if (first < length) dst.set(this.#buf.subarray(0, length - first), dstOffset + first);
  }

  /** Frees the `n` oldest bytes (acknowledged by the peer); more than `length` frees all. */
  consume(n: number): void {
    const k = Math.min(Math.max(n, 0), this.#length);
    this.#head += k;
    if (this.#head >= this.#buf.length) this.#head -= this.#buf.length;
    this.#length -= k;
    if (this.#length === 0) this.#head = 0;
  }

  /** Changes the capacity, keeping the bytes held; it cannot shrink below `length`. */
  resize(capacity: number): void {
    if (!Number.isInteger(capacity) || capacity < Math.max(this.#length, 1)) {
      throw new RangeError(
        `Cannot resize a send buffer holding ${this.#length} bytes to ${capacity}`,
      );
    }
    const next = new Uint8Array(capacity);
    this.copyOut(0, next, 0, this.#length);
    this.#buf = next;
    this.#head = 0;
  }
}
