/**
 * A listening port: the backlog of half-open connections and the queue of established ones waiting to be
 * accepted (RFC 9293 §3.10.1 passive OPEN).
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";
import type { TcpHandler } from "./events.ts";

/** A listening port as the app sees it. */
export class TcpListenerHandle {
  /** The local port. */
  readonly port: number;
  /** The local address it accepts on (0 for any). */
  readonly localAddr: number;
  /** Most connections in SYN-RECEIVED plus waiting to be accepted; past it, SYN cookies answer. */
  backlog: number;
  /** Receives `open` events; the endpoint's handler when unset. */
  handler: TcpHandler | undefined;
  /** Half-open connections (SYN-RECEIVED) that count against the backlog. */
  synReceived = 0;
  #queue: TcpConnection[] = [];
  #head = 0;
  #onClose: (listener: TcpListenerHandle) => void;
  #closed = false;

  /** Created by `TcpEndpoint.listen`. */
  constructor(
    port: number,
    localAddr: number,
    backlog: number,
    handler: TcpHandler | undefined,
    onClose: (listener: TcpListenerHandle) => void,
  ) {
    this.port = port;
    this.localAddr = localAddr;
    this.backlog = backlog;
    this.handler = handler;
    this.#onClose = onClose;
  }

  /** Established connections waiting for `accept`. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** True when a new SYN would exceed the backlog. */
  get full(): boolean {
    return this.synReceived + this.pending >= this.backlog;
  }

  /** Whether `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Takes the oldest established connection, or undefined when none waits. */
  accept(): TcpConnection | undefined {
    while (this.#head < this.#queue.length) {
      const conn = this.#queue[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (conn.listenerPort === this.port) {
        conn.listenerPort = -1;
        conn.accepted = true;
        return conn;
      }
    }
    return undefined;
  }

  /** Stops listening; connections already established are not affected, unaccepted ones are reset. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose(this);
    for (let conn = this.accept(); conn !== undefined; conn = this.accept()) conn.abort();
  }

  /** Queues an established connection (endpoint use). */
  enqueue(conn: TcpConnection): void {
    this.#queue.push(conn);
  }

  /** Drops a queued connection that closed before it was accepted (endpoint use). */
  forget(conn: TcpConnection): void {
    const at = this.#queue.indexOf(conn, this.#head);
    if (at >= 0) this.#queue.splice(at, 1);
  }
}
