/**
 * The structural connection and listener types the HTTP server runs on. `Deno.Conn` /
 * `Deno.Listener` satisfy them, and so do the stack's `TcpConn` / `TcpListener`, so the same server
 * serves kernel sockets, our own TCP, and in-memory stream pairs in tests.
 *
 * @module
 */

/** The address of one end of a TCP connection, shaped like `Deno.NetAddr`. */
export interface HttpAddr {
  /** The IP address as text. */
  hostname: string;
  /** The TCP port. */
  port: number;
  /** Always "tcp". */
  transport: "tcp";
}

/** A byte-stream connection the server reads requests from and writes responses to. */
export interface HttpConn {
  /** Incoming bytes; the server owns each chunk it receives (it may keep views into it). */
  readonly readable: ReadableStream<Uint8Array>;
  /** Outgoing bytes; a write's promise resolves once the sink no longer needs the chunk. */
  readonly writable: WritableStream<Uint8Array>;
  /** The peer's address, handed to the handler as `info.remoteAddr`. */
  readonly remoteAddr: HttpAddr;
  /**
   * Reads into `p` like `Deno.Conn.read` (null at the end). When present with `write`, the server
   * uses these instead of the streams: each stream read and write costs a few microseconds more.
   */
  read?(p: Uint8Array): Promise<number | null>;
  /**
   * Makes a pending `read` reject with `error`, where supported (the stack's `TcpConn`). Without it
   * the server wraps every read in a promise of its own so that a timeout can end it.
   */
  interruptRead?(error: Error): void;
  /** Writes some of `p` like `Deno.Conn.write`, resolving to the count written. */
  write?(p: Uint8Array): Promise<number>;
  /**
   * Writes what fits of `p` at once and returns the count (0 when nothing fits), throwing where
   * `write` would reject; where present (the stack's `TcpConn`), a write that fits needs no promise
   * and arms no write deadline.
   */
  tryWrite?(p: Uint8Array): number;
  /** Closes both directions; pending reads and writes must then settle (reject or end). */
  close(): void;
  /** Ends the sending direction (FIN) while reading stays open, where supported. */
  closeWrite?(): Promise<void> | void;
  /** Disables Nagle's algorithm where the transport has one (`Deno.TcpConn`). */
  setNoDelay?(noDelay?: boolean): void;
}

/** A source of accepted connections, shaped like `Deno.Listener`. */
export interface HttpListener extends AsyncIterable<HttpConn> {
  /** The local address the listener is bound to. */
  readonly addr: HttpAddr;
  /** Stops accepting; the async iteration then ends. */
  close(): void;
}
