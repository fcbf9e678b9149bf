/**
 * What a handler receives beside its request, like `Deno.ServeHandlerInfo`: the client's address
 * and a `completed` promise that settles once the response has been sent or has failed.
 *
 * @module
 */

import type { HttpAddr } from "./conn.ts";

/** What the handler receives besides the request, like `Deno.ServeHandlerInfo`. */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: HttpAddr;
  /** Resolves once the response was written; rejects if the connection failed first. */
  readonly completed: Promise<void>;
}

/** One request's info; `completed` is only built when a handler asks for it. */
export class HandlerInfo implements ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: HttpAddr;
  #completed: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #reject: ((error: Error) => void) | undefined;
  #outcome: Error | null | undefined;

  /** Creates the info of a request from `remoteAddr`. */
  constructor(remoteAddr: HttpAddr) {
    this.remoteAddr = remoteAddr;
  }

  /** Settles when the response is done (or failed). */
  get completed(): Promise<void> {
    if (this.#completed === undefined) {
      if (this.#outcome === null) {
        this.#completed = Promise.resolve();
      } else if (this.#outcome !== undefined) {
        this.#completed = Promise.reject(this.#outcome);
      } else {
        this.#completed = new Promise<void>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
      this.#completed.catch(() => {});
    }
    return this.#completed;
  }

  /** Records the outcome: `undefined` for a response sent, an error for one that failed. */
  settle(error?: Error): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = error ?? null;
    if (error === undefined) this.#resolve?.();
    else this.#reject?.(error);
  }
}
