/**
 * A bounded queue of control segments that belong to no connection state: RSTs for strays and bad ACKs,
 * and SYN-ACKs carrying SYN cookies. Segments arrive outside `poll` (no IP sender then), so they wait here
 * in preallocated arrays until the next poll.
 *
 * @module
 */

/** Fixed-capacity FIFO of control segments. */
export class ControlQueue {
  /** Local addresses. */
  readonly localAddr: Float64Array;
  /** Local ports. */
  readonly localPort: Uint16Array;
  /** Remote addresses. */
  readonly remoteAddr: Float64Array;
  /** Remote ports. */
  readonly remotePort: Uint16Array;
  /** Sequence numbers. */
  readonly seq: Float64Array;
  /** Acknowledgment numbers. */
  readonly ack: Float64Array;
  /** Flags. */
  readonly flags: Uint8Array;
  /** MSS option for a cookie SYN-ACK (0: none). */
  readonly mss: Uint16Array;
  /** The peer's TSval to echo in a cookie SYN-ACK (-1: no timestamps). */
  readonly tsEcr: Float64Array;
  /** Our TSval in a cookie SYN-ACK. */
  readonly tsVal: Float64Array;
  /** Our window scale in a cookie SYN-ACK (-1: none). */
  readonly windowScale: Int8Array;
  /** SACK-permitted in a cookie SYN-ACK (1) or not (0). */
  readonly sackPermitted: Uint8Array;
  /** Capacity in segments. */
  readonly capacity: number;
  #head = 0;
  #length = 0;

  /** Makes a queue of `capacity` segments. */
  constructor(capacity = 256) {
    this.capacity = capacity;
    this.localAddr = new Float64Array(capacity);
    this.localPort = new Uint16Array(capacity);
    this.remoteAddr = new Float64Array(capacity);
    this.remotePort = new Uint16Array(capacity);
    this.seq = new Float64Array(capacity);
    this.ack = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.mss = new Uint16Array(capacity);
    this.tsEcr = new Float64Array(capacity);
    this.tsVal = new Float64Array(capacity);
    this.windowScale = new Int8Array(capacity);
    this.sackPermitted = new Uint8Array(capacity);
  }

  /** Segments waiting. */
  get length(): number {
    return this.#length;
  }

  /** Appends a segment; returns its slot, or -1 when full (the caller counts the drop). */
  push(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    seq: number,
    ack: number,
    flags: number,
  ): number {
    if (this.#length === this.capacity) return -1;
    const i = (this.#head + this.#length) % this.capacity;
    this.#length++;
    this.localAddr[i] = localAddr;
    this.localPort[i] = localPort;
    this.remoteAddr[i] = remoteAddr;
    this.remotePort[i] = remotePort;
    this.seq[i] = seq >>> 0;
    this.ack[i] = ack >>> 0;
    this.flags[i] = flags;
    this.mss[i] = 0;
    this.tsEcr[i] = -1;
    this.tsVal[i] = 0;
    this.windowScale[i] = -1;
    this.sackPermitted[i] = 0;
    return i;
  }

  /** The slot of the oldest segment (check `length` first). */
  get head(): number {
    return this.#head;
  }

  /** Removes the oldest segment. */
  shift(): void {
    this.#head = (this.#head + 1) % this.capacity;
    this.#length--;
  }
}
