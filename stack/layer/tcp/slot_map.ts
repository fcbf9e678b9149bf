/**
 * A slot map: values live in a dense array and are named by keys that carry a generation, so a stale key
 * of a removed value never reaches the value that reused its slot.
 *
 * @module
 */

const INDEX_BITS = 22;
const INDEX_MASK = (1 << INDEX_BITS) - 1;
const GENERATION_LIMIT = 1 << (52 - INDEX_BITS);

/** Values addressed by generation-tagged number keys. */
export class SlotMap<T> {
  #values: (T | undefined)[] = [];
  #generations: number[] = [];
  #free: number[] = [];
  #size = 0;

  /** How many values are stored. */
  get size(): number {
    return this.#size;
  }

  /** Stores `value` and returns its key. */
  insert(value: T): number {
    let index = this.#free.pop();
    if (index === undefined) {
      index = this.#values.length;
      if (index > INDEX_MASK) throw new RangeError("Slot map is full");
      this.#values.push(undefined);
      this.#generations.push(0);
    }
    this.#values[index] = value;
    this.#size++;
    return this.#generations[index] * (INDEX_MASK + 1) + index;
  }

  /** The value under `key`, or undefined when it was removed. */
  get(key: number): T | undefined {
    const index = key % (INDEX_MASK + 1);
    if (this.#generations[index] !== Math.floor(key / (INDEX_MASK + 1))) return undefined;
    return this.#values[index];
  }

  /** Removes the value under `key`; returns it, or undefined when the key is stale. */
  remove(key: number): T | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    const index = key % (INDEX_MASK + 1);
    this.#values[index] = undefined;
    this.#generations[index] = (this.#generations[index] + 1) % GENERATION_LIMIT;
    this.#free.push(index);
    this.#size--;
    return value;
  }

  /** Every stored value. */
  *values(): IterableIterator<T> {
    for (const value of this.#values) if (value !== undefined) yield value;
  }
}
