/**
 * A server on an in-memory listener and a virtual clock, for conformance tests.
 *
 * @module
 */

import { type HttpServer, serve, type ServeOptions } from "../../stack/http/server.ts";
import type { ServeHandler } from "../../stack/http/connection.ts";
import { MemoryListener } from "./memory_conn.ts";
import { VirtualClock } from "./virtual_clock.ts";

/** A running in-memory server. */
export interface Fixture {
  /** Opens client connections. */
  listener: MemoryListener;
  /** The server's clock. */
  clock: VirtualClock;
  /** The server. */
  server: HttpServer;
}

/** Starts `handler` on an in-memory listener with a virtual clock. */
export function startServer(handler: ServeHandler, options: ServeOptions = {}): Fixture {
  const listener = new MemoryListener();
  const clock = new VirtualClock();
  const server = serve({ listener, clock, onListen: () => {}, ...options }, handler);
  return { listener, clock, server };
}

/** A handler that answers with the method, path and body it received. */
export const describeHandler: ServeHandler = async (req) => {
  const url = new URL(req.url);
  const body = req.body ? await req.text() : "";
  return new Response(`${req.method} ${url.pathname}${url.search} ${body}`);
};
