/**
 * Request URLs as `new URL(…).href` serialises them, remembered for the most recent targets: a
 * server sees the same few URLs over and over, and the WHATWG parser is among the costliest steps
 * of a small request under TCG. The cache is bounded (oldest entry out first), so varied targets
 * cost one lookup more than parsing each, never memory.
 *
 * @module
 */

/** The default number of URLs a server remembers. */
export const DEFAULT_HREF_CACHE_SIZE = 64;

/** A bounded map from a URL as received to its serialisation (`null`: it does not parse). */
export class HrefCache {
  readonly capacity: number;
  #entries = new Map<string, string | null>();

  constructor(capacity = DEFAULT_HREF_CACHE_SIZE) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`HrefCache capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** `new URL(raw).href`, or `undefined` when `raw` is not a valid URL. */
  href(raw: string): string | undefined {
    let href = this.#entries.get(raw);
    if (href === undefined) {
      try {
        href = new URL(raw).href;
      } catch {
        href = null;
      }
      if (this.#entries.size >= this.capacity) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      this.#entries.set(raw, href);
    }
    return href ?? undefined;
  }

  /** How many URLs are remembered. */
  get size(): number {
    return this.#entries.size;
  }
}
