/**
 * Four-tuple lookup without allocation: two nested maps keyed by exact 48-bit numbers (address × 65536 +
 * port), so no string keys are built per segment.
 *
 * @module
 */

/** Maps (local address, local port, remote address, remote port) to a number (a slot key). */
export class FourTupleMap {
  #outer = new Map<number, Map<number, number>>();
  #size = 0;
  // The last tuple found: a bulk flow hits it segment after segment, and skipping the maps also skips
  // the 48-bit keys, which are heap numbers rather than small integers in V8.
  #lastLocalAddr = -1;
  #lastLocalPort = -1;
  #lastRemoteAddr = -1;
  #lastRemotePort = -1;
  #lastValue = 0;

  /** How many tuples are stored. */
  get size(): number {
    return this.#size;
  }

  /** The value for a tuple, or undefined. */
  get(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ): number | undefined {
    if (
      remotePort === this.#lastRemotePort && localPort === this.#lastLocalPort &&
      remoteAddr === this.#lastRemoteAddr && localAddr === this.#lastLocalAddr
    ) {
      return this.#lastValue;
    }
    const value = this.#outer.get(remoteAddr * 65536 + remotePort)?.get(
      localAddr * 65536 + localPort,
    );
    if (value !== undefined) {
      this.#lastLocalAddr = localAddr;
      this.#lastLocalPort = localPort;
      this.#lastRemoteAddr = remoteAddr;
      this.#lastRemotePort = remotePort;
      this.#lastValue = value;
    }
    return value;
  }

  /** Stores a value for a tuple, replacing any earlier one. */
  set(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    value: number,
  ): void {
    const outerKey = remoteAddr * 65536 + remotePort;
    let inner = this.#outer.get(outerKey);
    if (inner === undefined) {
      inner = new Map();
      this.#outer.set(outerKey, inner);
    }
    const innerKey = localAddr * 65536 + localPort;
    if (!inner.has(innerKey)) this.#size++;
    inner.set(innerKey, value);
    this.#lastRemotePort = -1;
  }

  /** Removes a tuple; returns whether it was there. */
  delete(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): boolean {
    const outerKey = remoteAddr * 65536 + remotePort;
    const inner = this.#outer.get(outerKey);
    if (inner === undefined || !inner.delete(localAddr * 65536 + localPort)) return false;
    this.#lastRemotePort = -1;
    if (inner.size === 0) this.#outer.delete(outerKey);
    this.#size--;
    return true;
  }
}
