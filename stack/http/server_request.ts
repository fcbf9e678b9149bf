/**
 * The `Request` a handler receives. Its `signal` is made on first use: a signal passed to the
 * `Request` constructor makes Deno build a dependent signal that follows it, which costs as much
 * as the rest of the request, and most handlers never look at it.
 *
 * @module
 */

/** A `Request` whose `signal` aborts when its connection ends before the response is sent. */
export class ServerRequest extends Request {
  #controller: AbortController | undefined;
  #aborted = false;

  /** Aborts when the connection ends early (`Deno.serve` does the same). */
  override get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** Marks the request abandoned: its signal aborts now, or as soon as someone asks for it. */
  abandon(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }
}
