/**
 * The socket-style TCP API over a `TcpEndpoint`, shaped like Deno's: `listen` returns a `TcpListener`
 * (an async iterable of connections), `connect` resolves to a `TcpConn` with `read`/`write`/`close`/
 * `closeWrite`, `readable`/`writable` Web Streams and `localAddr`/`remoteAddr`. Code written for
 * `Deno.Conn` ports by changing where its connection comes from.
 *
 * @module
 */

import type { TcpConfig } from "../layer/tcp/config.ts";
import type { TcpCloseReason, TcpConnection } from "../layer/tcp/connection.ts";
import { TcpEndpoint } from "../layer/tcp/endpoint.ts";
import type { TcpEvent, TcpHandler } from "../layer/tcp/events.ts";
import type { TcpListenerHandle } from "../layer/tcp/listener.ts";
import { TcpState } from "../layer/tcp/state.ts";
import { formatIpv4, tryParseIpv4 } from "../wire/address.ts";
import {
  AddrInUse,
  BadResource,
  ConnectionRefused,
  ConnectionReset,
  TimedOut,
} from "./tcp_errors.ts";

export { AddrInUse, BadResource, ConnectionRefused, ConnectionReset, TimedOut };

/** An address in the shape of `Deno.NetAddr`. */
export interface TcpNetAddr {
  transport: "tcp";
  hostname: string;
  port: number;
}

/** Something that polls the stack again soon (the runtime). */
export interface Waker {
  wake(): void;
}

/** Turns a host name into an IPv4 address (a DNS resolver plugs in here). */
export type Resolve = (hostname: string) => Promise<number>;

/** How a `TcpSockets` reads and writes addresses: IPv4 by default, IPv6 handles (ipv6/tcp6.ts). */
export interface TcpAddressCodec {
  /** "IPv4" or "IPv6", for error messages. */
  family: string;
  /** The hostname that means any address. */
  any: string;
  parse(text: string): number | undefined;
  format(address: number): string;
}

const IPV4_CODEC: TcpAddressCodec = {
  family: "IPv4",
  any: "0.0.0.0",
  parse: tryParseIpv4,
  format: formatIpv4,
};

/** Options of `TcpSockets.listen`. */
export interface TcpListenOptions {
  port: number;
  /** Accept only on this address; any when unset or "0.0.0.0". */
  hostname?: string;
  /** Pending plus unaccepted connections before SYN cookies answer (default 128). */
  backlog?: number;
  /** Settings of accepted connections. */
  config?: Partial<TcpConfig>;
}

/** Options of `TcpSockets.connect`. */
export interface TcpConnectOptions {
  /** An IPv4 literal, or a name when a resolver was given. */
  hostname: string;
  port: number;
  /** Our port (ephemeral when unset). */
  localPort?: number;
  /** Settings of this connection. */
  config?: Partial<TcpConfig>;
}

const CHUNK = 64 * 1024;

/** The socket API of one TCP endpoint. */
export class TcpSockets {
  /** The endpoint underneath. */
  readonly endpoint: TcpEndpoint;
  #waker: Waker;
  #resolve: Resolve | undefined;
  #codec: TcpAddressCodec;

  /** Wraps `endpoint`; `waker.wake()` is called whenever the app queued output. */
  constructor(
    endpoint: TcpEndpoint,
    waker: Waker,
    options: { resolve?: Resolve; addresses?: TcpAddressCodec } = {},
  ) {
    this.endpoint = endpoint;
    this.#waker = waker;
    this.#resolve = options.resolve;
    this.#codec = options.addresses ?? IPV4_CODEC;
  }

  /** Listens on a port; throws `AddrInUse` if it already listens. */
  listen(options: TcpListenOptions): TcpListener {
    const codec = this.#codec;
    const hostname = options.hostname ?? codec.any;
    const localAddr = codec.parse(hostname);
    if (localAddr === undefined) throw new TypeError(`Invalid ${codec.family} address ${hostname}`);
    let handle: TcpListenerHandle;
    const listener = new TcpListener(this.#waker, {
      transport: "tcp",
      hostname,
      port: options.port,
    }, codec.format);
    try {
      handle = this.endpoint.listen(options.port, {
        localAddr,
        backlog: options.backlog,
        config: options.config,
        handler: { receive: () => listener.onOpen() },
      });
    } catch (error) {
      throw new AddrInUse(`Cannot listen on port ${options.port}`, { cause: error });
    }
    listener.attach(handle);
    return listener;
  }

  /** Opens a connection; rejects with `ConnectionRefused`, `TimedOut` or `BadResource`. */
  async connect(options: TcpConnectOptions): Promise<TcpConn> {
    let remote = this.#codec.parse(options.hostname);
    if (remote === undefined) {
      if (this.#resolve === undefined) {
        throw new TypeError(`Cannot resolve ${options.hostname}: no resolver, use an IPv4 address`);
      }
      remote = await this.#resolve(options.hostname);
    }
    const socket = new TcpConn(this.#waker, this.#codec.format);
    const conn = this.endpoint.connect(remote, options.port, {
      localPort: options.localPort,
      config: options.config,
      handler: socket.handler,
    });
    socket.bind(conn);
    this.#waker.wake();
    await socket.established();
    return socket;
  }
}

/** A `read` waiting for data, and how many bytes were copied into its buffer meanwhile. */
interface WaitingRead {
  bytes: Uint8Array;
  filled: number;
}

/** A listening socket; iterate it (or call `accept`) for connections. */
export class TcpListener implements AsyncIterable<TcpConn> {
  /** The address it listens on. */
  readonly addr: TcpNetAddr;
  #waker: Waker;
  #handle: TcpListenerHandle | undefined;
  #waiters: { resolve: (conn: TcpConn) => void; reject: (error: Error) => void }[] = [];
  #closed = false;

  #format: (address: number) => string;

  /** Created by `TcpSockets.listen`. */
  constructor(waker: Waker, addr: TcpNetAddr, format: (address: number) => string = formatIpv4) {
    this.#waker = waker;
    this.addr = addr;
    this.#format = format;
  }

  /** Connects to the endpoint's listener (internal). */
  attach(handle: TcpListenerHandle): void {
    this.#handle = handle;
  }

  /** Called when a connection is ready to accept (internal). */
  onOpen(): void {
    while (this.#waiters.length > 0) {
      const conn = this.#take();
      if (conn === undefined) return;
      this.#waiters.shift()!.resolve(conn);
    }
  }

  /** Waits for the next connection; rejects with `BadResource` once closed. */
  accept(): Promise<TcpConn> {
    if (this.#closed) return Promise.reject(new BadResource("Listener is closed"));
    const conn = this.#take();
    if (conn !== undefined) return Promise.resolve(conn);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stops listening; pending `accept` calls reject and unaccepted connections are reset. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle?.close();
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new BadResource("Listener is closed"));
    }
    this.#waker.wake();
  }

  /** Yields connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<TcpConn> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof BadResource) return;
        throw error;
      }
    }
  }

  /** Closes the listener. */
  [Symbol.dispose](): void {
    this.close();
  }

  #take(): TcpConn | undefined {
    const conn = this.#handle?.accept();
    if (conn === undefined) return undefined;
    const socket = new TcpConn(this.#waker, this.#format);
    conn.handler = socket.handler;
    socket.bind(conn);
    return socket;
  }
}

/** A TCP connection in the shape of `Deno.Conn`. */
export class TcpConn {
  /** Receives the endpoint's events for this connection (internal). */
  readonly handler: TcpHandler;
  #waker: Waker;
  #conn: TcpConnection | undefined;
  // Callers waiting for any change on the connection (data, space, state); all re-check on wake.
  #waiters: (() => void)[] = [];
  #closed = false;
  /** An error the pending (or next) `read` rejects with, set by `interruptRead`. */
  #readInterrupt: Error | undefined;
  /**
   * The read waiting for data, if any. Bytes that arrive in order are copied straight into its buffer
   * by the event handler, while the endpoint still lends the segment (see `RecvBuffer`): one copy from
   * the NIC's buffer instead of two through the receive ring, as Linux's direct copy to a waiting
   * reader did (`tcp_data_queue`'s `ucopy`). The window then stays open, as the bytes are read.
   */
  #waitingRead: WaitingRead | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  #format: (address: number) => string;

  /** Created by `TcpSockets.connect` and `TcpListener.accept`. */
  constructor(waker: Waker, format: (address: number) => string = formatIpv4) {
    this.#waker = waker;
    this.#format = format;
    this.handler = { receive: (event: TcpEvent) => this.#onEvent(event) };
  }

  /** Ties the socket to its connection (internal). */
  bind(conn: TcpConnection): void {
    this.#conn = conn;
    conn.user = this;
  }

  /** Resolves once the handshake completed; rejects with the reason it failed (internal). */
  async established(): Promise<void> {
    const conn = this.#conn!;
    while (conn.state === TcpState.SynSent || conn.state === TcpState.SynReceived) {
      await this.#change();
    }
    if (conn.state === TcpState.Closed) throw this.#error(conn.error) ?? new ConnectionRefused();
  }

  /** The underlying connection, for the low-level API. */
  get connection(): TcpConnection {
    return this.#conn!;
  }

  /** Our address. */
  get localAddr(): TcpNetAddr {
    const conn = this.#conn!;
    return { transport: "tcp", hostname: this.#format(conn.localAddr), port: conn.localPort };
  }

  /** The peer's address. */
  get remoteAddr(): TcpNetAddr {
    const conn = this.#conn!;
    return { transport: "tcp", hostname: this.#format(conn.remoteAddr), port: conn.remotePort };
  }

  /**
   * Reads into `p`: resolves with the byte count, or null at the end of the stream (the peer's FIN).
   * Rejects with `ConnectionReset`/`TimedOut` when the connection failed.
   */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    for (;;) {
      if (this.#closed) throw new BadResource();
      const interrupt = this.#readInterrupt;
      if (interrupt !== undefined) {
        this.#readInterrupt = undefined;
        throw interrupt;
      }
      const conn = this.#conn!;
      if (conn.readable > 0) {
        const n = conn.read(p);
        this.#waker.wake();
        return n;
      }
      const error = this.#error(conn.error);
      if (error !== undefined) throw error;
      if (conn.readClosed) return null;
      const waiting: WaitingRead = { bytes: p, filled: 0 };
      this.#waitingRead = waiting;
      try {
        await this.#change();
      } finally {
        if (this.#waitingRead === waiting) this.#waitingRead = undefined;
      }
      // Bytes already in `p` are returned before anything else is looked at: a reset or an interrupt
      // that came after them ends the next read, not this one.
      if (waiting.filled > 0) {
        this.#waker.wake();
        return waiting.filled;
      }
    }
  }

  /**
   * Makes the pending `read` (or the next one, when none is pending) reject with `error`, leaving
   * the connection open: an HTTP server's header timeout so ends a read without wrapping every read
   * in a promise of its own.
   */
  interruptRead(error: Error): void {
    this.#readInterrupt = error;
    this.#wakeAll();
  }

  /** Writes some of `p` into the send buffer, waiting for room; resolves with the count written. */
  async write(p: Uint8Array): Promise<number> {
    if (p.length === 0) return 0;
    for (;;) {
      const n = this.tryWrite(p);
      if (n > 0) return n;
      await this.#change();
    }
  }

  /**
   * Writes as much of `p` as the send buffer takes now, without waiting: the count, 0 when it is
   * full. Throws what `write` rejects with when the connection cannot send. A server answering a
   * small request so skips a promise and a wait it would not need.
   */
  tryWrite(p: Uint8Array): number {
    if (p.length === 0) return 0;
    if (this.#closed) throw new BadResource();
    const conn = this.#conn!;
    const error = this.#error(conn.error);
    if (error !== undefined) throw error;
    if (conn.writeClosed || conn.state === TcpState.Closed) {
      throw new BadResource("Cannot write after the sending side was closed");
    }
    const n = conn.write(p);
    if (n > 0) this.#waker.wake();
    return n;
  }

  /** Shuts our sending side: a FIN follows what was written. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new BadResource());
    this.#conn!.closeWrite();
    this.#waker.wake();
    return Promise.resolve();
  }

  /** Closes the connection (an orderly FIN, or RST when unread data is left, as in Linux). */
  close(): void {
    if (this.#closed) throw new BadResource();
    this.#closed = true;
    this.#conn!.close();
    this.#wakeAll();
    this.#waker.wake();
  }

  /** Turns Nagle's algorithm off (true) or on. */
  setNoDelay(noDelay = true): void {
    this.#conn!.setNoDelay(noDelay);
  }

  /** Turns keepalive probes on (true) or off. */
  setKeepAlive(keepAlive = true): void {
    this.#conn!.setKeepAlive(keepAlive);
    this.#waker.wake();
  }

  /** The receive side as a byte stream. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: CHUNK,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        const view = request.view!;
        const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        try {
          const n = await this.read(bytes);
          if (n === null) {
            controller.close();
            request.respond(0);
          } else {
            request.respond(n);
          }
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: () => {
        if (!this.#closed) this.close();
      },
    });
    return this.#readable;
  }

  /** The send side as a stream; closing it sends FIN. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream({
      write: async (chunk) => {
        for (let at = 0; at < chunk.length;) at += await this.write(chunk.subarray(at));
      },
      close: () => this.closeWrite(),
      abort: () => {
        if (!this.#closed) {
          this.#closed = true;
          this.#conn!.abort();
          this.#wakeAll();
          this.#waker.wake();
        }
      },
    });
    return this.#writable;
  }

  /** Closes the connection if still open. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  #onEvent(event: TcpEvent): void {
    if (event.kind !== "in") return;
    const waiting = this.#waitingRead;
    if (waiting !== undefined && waiting.filled < waiting.bytes.length) {
      const conn = this.#conn!;
      if (conn.readable > 0) waiting.filled += conn.read(waiting.bytes, waiting.filled);
    }
    this.#wakeAll();
  }

  #change(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wakeAll(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #error(reason: TcpCloseReason | undefined): Error | undefined {
    switch (reason) {
      case undefined:
        return undefined;
      case "refused":
        return new ConnectionRefused();
      case "reset":
        return new ConnectionReset();
      case "timedOut":
        return new TimedOut();
      case "addressInUse":
        return new AddrInUse();
      case "unreachable":
        return new ConnectionRefused("Network is unreachable");
      case "aborted":
        return new BadResource("Connection was aborted");
    }
  }
}

/** What `tcpFor` needs of a link: an interface to attach TCP to and a runtime to wake. */
export interface TcpLink {
  iface: {
    attach(protocol: number, transport: TcpEndpoint): unknown;
    readonly nic?: {
      readonly caps: {
        rxChecksumVerified: boolean;
        txChecksumOffload: boolean;
        tsoMaxBytes?: number;
      };
    };
  };
  runtime: Waker;
}

const perLink = new WeakMap<object, TcpSockets>();

/** The TCP sockets of a link, attaching one endpoint to its interface on first use. */
export function tcpFor(link: TcpLink, options: { resolve?: Resolve } = {}): TcpSockets {
  let sockets = perLink.get(link.iface);
  if (sockets === undefined) {
    // Checksum offload as the NIC offers it, like the UDP layer (stack/DESIGN.md, Checksums).
    const caps = link.iface.nic?.caps;
    const endpoint = new TcpEndpoint({
      checksum: caps?.txChecksumOffload ? "pseudo" : "full",
      verifyChecksum: !(caps?.rxChecksumVerified ?? false),
      tsoMaxBytes: caps?.tsoMaxBytes ?? 0,
    });
    link.iface.attach(6, endpoint);
    sockets = new TcpSockets(endpoint, link.runtime, options);
    perLink.set(link.iface, sockets);
  }
  return sockets;
}

/** Listens on a link's TCP (see `TcpSockets.listen`). */
export function listen(link: TcpLink, options: TcpListenOptions): TcpListener {
  return tcpFor(link).listen(options);
}

/** Connects from a link's TCP (see `TcpSockets.connect`). */
export function connect(link: TcpLink, options: TcpConnectOptions): Promise<TcpConn> {
  return tcpFor(link).connect(options);
}
