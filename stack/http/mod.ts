/**
 * A `Deno.serve`-compatible HTTP/1.1 server (RFC 9112) that runs over kernel sockets or the stack's
 * own TCP.
 *
 * @module
 */

export { type HttpServer, serve, type ServeOptions } from "./server.ts";
export type { ServeHandler } from "./connection.ts";
export type { ServeHandlerInfo } from "./handler_info.ts";
export type { HttpAddr, HttpConn, HttpListener } from "./conn.ts";
export { type Clock, runtimeClock, systemClock } from "./clock.ts";
export { DEFAULT_LIMITS, type HttpLimits } from "./limits.ts";
export { HttpError } from "./error.ts";
