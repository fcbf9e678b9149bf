/**
 * The low-level app interface of the TCP endpoint (ethox style): incoming segments reach the app as typed
 * events, and the app writes into free send-buffer space when the endpoint asks during `poll`.
 *
 * @module
 */

import type { TcpRepr } from "../../wire/tcp.ts";
import type { TcpConnection } from "./connection.ts";
import type { TcpListenerHandle } from "./listener.ts";

/** A listener completed a handshake: take the connection with `listener.accept()`. */
export interface TcpOpenEvent {
  readonly kind: "open";
  /** The listener whose accept queue holds the new connection. */
  listener: TcpListenerHandle;
}

/** Data, send-buffer space or a state change on a connection. */
export interface TcpInEvent {
  readonly kind: "in";
  /** The connection concerned. */
  conn: TcpConnection;
}

/** A segment for no connection and no listener; it was answered per RFC 9293 §3.10.7.1. */
export interface TcpStrayEvent {
  readonly kind: "stray";
  /** The sender's address. */
  src: number;
  /** Our address it was sent to. */
  dst: number;
  /** The decoded segment (payload at `payloadOffset` in `bytes`). */
  segment: TcpRepr;
  /** The buffer holding the segment. */
  bytes: Uint8Array;
}

/** One of the events; the object is reused and valid only during the call. */
export type TcpEvent = TcpOpenEvent | TcpInEvent | TcpStrayEvent;

/** An app plugged into the TCP layer. */
export interface TcpHandler {
  /** Receives events (the Recv handler). */
  receive(event: TcpEvent, now: number): void;
  /**
   * Fills free send-buffer space of `conn` with `conn.write` (the Send handler); called during `poll` for
   * connections registered with `endpoint.requestSend(conn)` until the handler returns false.
   */
  send?(conn: TcpConnection, now: number): boolean;
}
