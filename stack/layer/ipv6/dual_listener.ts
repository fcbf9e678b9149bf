/**
 * One listener over several: a server listening on the same port over IPv4 and over IPv6 (two TCP
 * endpoints, see tcp6.ts) accepts from both through one `DualStackListener`, which `serve` takes as its
 * `listener`. No connection is lost to the race: an accept still pending on one listener is kept for the
 * next call.
 *
 * @module
 */

import type { TcpConn, TcpListener, TcpNetAddr } from "../../socket/tcp.ts";

/** Accepts connections from every listener given, in arrival order. */
export class DualStackListener implements AsyncIterable<TcpConn> {
  /** The first listener's address (by convention the IPv6 one, "::"). */
  readonly addr: TcpNetAddr;
  #listeners: TcpListener[];
  #pending = new Map<TcpListener, Promise<{ from: TcpListener; conn: TcpConn }>>();
  #closed = false;

  /** Merges `listeners` (at least one). */
  constructor(listeners: TcpListener[]) {
    if (listeners.length === 0) throw new TypeError("Cannot merge listeners: none given");
    this.#listeners = listeners;
    this.addr = listeners[0].addr;
  }

  /** Waits for the next connection on any listener; rejects once closed, like `TcpListener`. */
  async accept(): Promise<TcpConn> {
    for (const listener of this.#listeners) {
      if (!this.#pending.has(listener)) {
        const next = listener.accept().then((conn) => ({ from: listener, conn }));
        // A listener closed under us rejects; that surfaces through the race below.
        next.catch(() => {});
        this.#pending.set(listener, next);
      }
    }
    const { from, conn } = await Promise.race(this.#pending.values());
    this.#pending.delete(from);
    return conn;
  }

  /** Closes every listener; pending accepts reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#listeners) listener.close();
  }

  /** Yields connections until closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<TcpConn> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
    }
  }
}
