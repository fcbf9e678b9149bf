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
    return this.#outer.get(remoteAddr * 65536 + remotePort)?.get(localAddr * 65536 + localPort);
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
  }

  /** Removes a tuple; returns whether it was there. */
  delete(localAddr: number, localPort: number, remoteAddr: number, remotePort: number): boolean {
    const outerKey = remoteAddr * 65536 + remotePort;
    const inner = this.#outer.get(outerKey);
    if (inner === undefined || !inner.delete(localAddr * 65536 + localPort)) return false;
    if (inner.size === 0) this.#outer.delete(outerKey);
    this.#size--;
    return true;
  }
}
