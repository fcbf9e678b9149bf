/**
 * `serve`: a `Deno.serve`-compatible HTTP/1.1 server over any {@linkcode HttpListener}: kernel
 * sockets by default, the stack's TCP listener when an app passes one.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import type { HttpAddr, HttpConn, HttpListener } from "./conn.ts";
import { HttpConnection, type ServeHandler } from "./connection.ts";
import { HrefCache } from "./href_cache.ts";
import { type HttpLimits, resolveLimits } from "./limits.ts";
import { DEFAULT_COALESCE_BYTES } from "./response_writer.ts";

/** Options of {@linkcode serve}, mirroring `Deno.ServeTcpOptions` where they overlap. */
export interface ServeOptions {
  /** Port to listen on when no listener is given (default 8000, 0 picks a free one). */
  port?: number;
  /** Address to listen on when no listener is given (default "0.0.0.0"). */
  hostname?: string;
  /** An already bound listener to serve, such as the stack's `TcpListener`. */
  listener?: HttpListener;
  /** Opens the listener from `port`/`hostname` (default: `Deno.listen`, kernel sockets). */
  listen?: (options: { port: number; hostname: string }) => HttpListener;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Called once listening (default: log the address like `Deno.serve`). */
  onListen?: (addr: HttpAddr) => void;
  /** Turns a handler error into a response (default: log it and answer 500). */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Time source for the timeouts (default: the system clock). */
  clock?: Clock;
  /** Size and time limits; missing fields take the defaults. */
  limits?: Partial<HttpLimits>;
  /** The handler, for the `serve({ handler })` form. */
  handler?: ServeHandler;
  /**
   * Response bodies up to this many bytes are copied into the head's write, so a response is one
   * write (one system call on kernel sockets). Default: 8 KiB when `serve` opens kernel sockets,
   * 0 when given a `listener` (the stack's TCP copies every write into its send buffer anyway).
   */
  coalesceBytes?: number;
}

/** A running server, shaped like `Deno.HttpServer`. */
export interface HttpServer extends AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: HttpAddr;
  /** Resolves once the server has stopped and every connection has closed. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets in-flight requests finish, closes idle connections. */
  shutdown(): Promise<void>;
}

/** Serves `handler` with the default options. */
export function serve(handler: ServeHandler): HttpServer;
/** Serves `options.handler`. */
export function serve(options: ServeOptions & { handler: ServeHandler }): HttpServer;
/** Serves `handler` with `options`. */
export function serve(options: ServeOptions, handler: ServeHandler): HttpServer;
/** Starts an HTTP/1.1 server; see the overloads. */
export function serve(
  a: ServeHandler | ServeOptions,
  b?: ServeHandler,
): HttpServer {
  const options: ServeOptions = typeof a === "function" ? {} : a;
  const handler = typeof a === "function" ? a : b ?? a.handler;
  if (typeof handler !== "function") throw new TypeError("Cannot serve: no handler function given");
  return new Server(options, handler);
}

class Server implements HttpServer {
  #listener: HttpListener;
  #clock: Clock;
  #conns = new Set<HttpConnection>();
  #stopping = false;
  #accepting: Promise<void>;
  #sweeping = false;
  #sweepAbort = new AbortController();
  #tickMs: number;
  #dateSecond = -1;
  #dateText = "";
  #drained: (() => void) | undefined;
  readonly addr: HttpAddr;
  readonly finished: Promise<void>;

  constructor(options: ServeOptions, handler: ServeHandler) {
    const limits = resolveLimits(options.limits);
    this.#clock = options.clock ?? systemClock;
    // Deadlines are checked on a tick of a quarter of the shortest timeout (at most 1 s): one timer
    // per server rather than one per connection, at the cost of firing up to a tick late.
    const shortest = Math.min(
      limits.idleTimeoutMs,
      limits.headersTimeoutMs,
      limits.bodyTimeoutMs,
      limits.writeTimeoutMs,
    );
    this.#tickMs = Math.min(1000, Math.max(1, shortest / 4));
    const port = options.port ?? 8000;
    const hostname = options.hostname ?? "0.0.0.0";
    this.#listener = options.listener ??
      (options.listen ?? ((o) => Deno.listen({ ...o, transport: "tcp" }) as HttpListener))({
        port,
        hostname,
      });
    this.addr = this.#listener.addr;
    const onError = options.onError ?? ((error: unknown) => {
      console.error("Request handler failed:", error);
      return new Response("Internal Server Error", { status: 500 });
    });
    const clock = this.#clock;
    const ctx = {
      handler,
      onError,
      limits,
      now: () => clock.now(),
      date: () => this.#date(),
      defaultHost: hostForUrl(this.addr),
      coalesceBytes: options.coalesceBytes ?? (options.listener ? 0 : DEFAULT_COALESCE_BYTES),
      hrefs: new HrefCache(),
    };
    this.#accepting = this.#accept(ctx);
    this.finished = this.#accepting.then(() =>
      this.#conns.size === 0 ? undefined : new Promise<void>((r) => (this.#drained = r))
    ).then(() => this.#sweepAbort.abort());
    options.signal?.addEventListener("abort", () => this.shutdown(), { once: true });
    if (options.signal?.aborted) this.shutdown();
    (options.onListen ?? ((addr: HttpAddr) => {
      console.log(`Listening on http://${hostForUrl(addr)}/`);
    }))(this.addr);
  }

  shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        this.#listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of this.#conns) conn.shutdown();
    }
    return this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #accept(ctx: ConstructorParameters<typeof HttpConnection>[1]): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#stopping) {
          closeQuietly(conn);
          continue;
        }
        const connection = new HttpConnection(conn, ctx);
        this.#conns.add(connection);
        this.#sweep();
        connection.run().finally(() => {
          this.#conns.delete(connection);
          if (this.#conns.size === 0) this.#drained?.();
        });
      }
    } catch (error) {
      if (!this.#stopping) console.error("HTTP listener failed:", error);
    }
    this.#stopping = true;
    for (const conn of this.#conns) conn.shutdown();
  }

  /** Runs the deadline sweeper while connections exist. */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    const clock = this.#clock;
    const signal = this.#sweepAbort.signal;
    try {
      while (this.#conns.size > 0 && !signal.aborted) {
        await clock.after(this.#tickMs, signal);
        const now = clock.now();
        for (const conn of this.#conns) {
          if (conn.deadline <= now) conn.expire();
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }

  #date(): string | undefined {
    const wall = this.#clock.wallTime?.();
    if (wall === undefined) return undefined;
    const second = Math.floor(wall / 1000);
    if (second !== this.#dateSecond) {
      this.#dateSecond = second;
      this.#dateText = new Date(second * 1000).toUTCString();
    }
    return this.#dateText;
  }
}

function closeQuietly(conn: HttpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** The authority for URLs: IPv6 in brackets, 0.0.0.0 shown as localhost like `Deno.serve`. */
function hostForUrl(addr: HttpAddr): string {
  const host = addr.hostname === "0.0.0.0" || addr.hostname === "::"
    ? "localhost"
    : addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${host}:${addr.port}`;
}
