/**
 * One HTTP/1.1 connection: reads requests in order, runs the handler for each, writes the
 * responses in the same order (pipelined requests wait in the read buffer), and enforces the
 * timeouts through a deadline the server's sweeper checks.
 *
 * @module
 */

import type { HttpAddr, HttpConn } from "./conn.ts";
import { ConnReader } from "./conn_reader.ts";
import { HttpError } from "./error.ts";
import { HandlerInfo, type ServeHandlerInfo } from "./handler_info.ts";
import type { HttpLimits } from "./limits.ts";
import { RequestBody } from "./request_body.ts";
import { parseRequestHead, type RequestHead } from "./request_head.ts";
import { ResponseWriter } from "./response_writer.ts";
import type { HrefCache } from "./href_cache.ts";
import { BODILESS_SUPPORTED, type HeaderEntry, ServerRequest } from "./server_request.ts";

export type { ServeHandlerInfo };

/** A request handler, like `Deno.ServeHandler`. */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/** What a connection needs from its server. */
export interface ConnectionContext {
  /** The application's handler. */
  handler: ServeHandler;
  /** Turns a handler failure into a response. */
  onError: (error: unknown) => Response | Promise<Response>;
  /** The resolved limits. */
  limits: HttpLimits;
  /** The current time in milliseconds. */
  now(): number;
  /** The `Date` field value for now, or `undefined`. */
  date(): string | undefined;
  /** Host used in request URLs when the client sent none (HTTP/1.0). */
  defaultHost: string;
  /** Bodies up to this size share the head's write (see `ResponseWriter`). */
  coalesceBytes: number;
  /** The server's recently seen request URLs, serialised. */
  hrefs: HrefCache;
}

/**
 * Methods the bodiless path takes: names the `Request` constructor keeps as they are. Others go through
 * it, which upper-cases the lower-case forms of DELETE, GET, HEAD, OPTIONS, POST and PUT and refuses
 * CONNECT, TRACE and TRACK in any case.
 */
const PLAIN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);

/** The hooks of a body that is empty: it never waits and never asks for "100 Continue". */
const NO_HOOKS = { waiting(): void {} };

/** Why a connection's deadline is armed. */
export type DeadlineKind = "idle" | "header" | "body" | "write";

/** Serves the requests of one connection until it closes. */
export class HttpConnection {
  #conn: HttpConn;
  #ctx: ConnectionContext;
  #reader: ConnReader;
  #writer: ResponseWriter;
  #info: HandlerInfo | undefined;
  #remoteAddr: HttpAddr;
  #inflight: ServerRequest | undefined;
  #requestStart = 0;
  #idle = true;
  #closing = false;
  #closed = false;
  #writes = 0;
  #bodyWaits = 0;
  #noBody: RequestBody | undefined;
  /** The time the current deadline expires (Infinity when none is armed). */
  deadline = Infinity;
  /** What the current deadline guards. */
  deadlineKind: DeadlineKind = "idle";
  /** Requests answered on this connection. */
  requests = 0;

  /** Wraps `conn`; call {@linkcode run} to serve it. */
  constructor(conn: HttpConn, ctx: ConnectionContext) {
    this.#conn = conn;
    this.#ctx = ctx;
    this.#remoteAddr = conn.remoteAddr;
    // read/write when the connection has both (Deno.Conn, TcpConn): cheaper than the streams.
    const direct = typeof conn.read === "function" && typeof conn.write === "function";
    this.#reader = new ConnReader(
      direct ? conn as Required<Pick<HttpConn, "read">> : conn.readable,
    );
    this.#writer = new ResponseWriter(conn, (active) => {
      this.#writes += active ? 1 : -1;
      this.#rearm();
    }, ctx.coalesceBytes);
    try {
      conn.setNoDelay?.(true);
    } catch {
      // Not a TCP connection: nothing to tune.
    }
  }

  /** Serves requests until the client leaves, an error closes the connection, or shutdown. */
  async run(): Promise<void> {
    try {
      while (!this.#closing) {
        if (!(await this.#exchange())) break;
      }
    } catch {
      // Resets, timeouts and write failures end the connection; there is nobody left to tell.
    } finally {
      this.close();
    }
  }

  /** Stops after the in-flight exchange; an idle connection closes at once. */
  shutdown(): void {
    this.#closing = true;
    if (this.#idle) this.close();
  }

  /** Called by the server's sweeper when `deadline` has passed. */
  expire(): void {
    const kind = this.deadlineKind;
    this.deadline = Infinity;
    if (kind === "header" || kind === "body") {
      this.#reader.interrupt(new HttpError(408, `Timed out waiting for the request ${kind}`));
    } else {
      this.close();
    }
  }

  /** Closes the connection now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.deadline = Infinity;
    // Like Deno.serve: the request's signal aborts when its connection ends before the response.
    this.#inflight?.abandon();
    this.#info?.settle(new Error("Connection closed before the response was sent"));
    this.#reader.interrupt(new Error("Connection closed"));
    this.#writer.release();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or the transport.
    }
  }

  #arm(kind: DeadlineKind, ms: number, now = this.#ctx.now()): void {
    this.deadlineKind = kind;
    this.deadline = now + ms;
  }

  /** Writes and body reads take precedence over the idle/header deadline while they wait. */
  #rearm(): void {
    const limits = this.#ctx.limits;
    if (this.#writes > 0) this.#arm("write", limits.writeTimeoutMs);
    else if (this.#bodyWaits > 0) {
      this.#arm("body", limits.bodyTimeoutMs);
      this.deadline = Math.min(this.deadline, this.#requestStart + limits.requestTimeoutMs);
    } else this.deadline = Infinity;
  }

  /** One request and its response; resolves to whether the connection stays open. */
  async #exchange(): Promise<boolean> {
    const limits = this.#ctx.limits;
    this.#idle = true;
    this.#arm("idle", limits.idleTimeoutMs);
    let bytes;
    try {
      bytes = await this.#reader.readHead(limits, () => {
        this.#idle = false;
        const now = this.#ctx.now();
        this.#arm("header", limits.headersTimeoutMs, now);
        this.#requestStart = now;
      });
    } catch (error) {
      if (error instanceof HttpError && !this.#idle) bytes = error;
      else throw error;
    }
    if (bytes === undefined) return false;
    if (bytes instanceof HttpError) return await this.#reject(bytes);
    const head = parseRequestHead(bytes.bytes, bytes.start, bytes.end, limits);
    if (head instanceof HttpError) {
      return await this.#reject(head, isHeadRequest(bytes.bytes, bytes.start, bytes.end));
    }
    this.deadline = Infinity;
    return await this.#respond(head);
  }

  async #respond(head: RequestHead): Promise<boolean> {
    const ctx = this.#ctx;
    const method = head.method;
    const isHead = method === "HEAD";
    if (method === "CONNECT" || method === "TRACE" || method === "TRACK") {
      // Tunnels and TRACE are not offered (and Fetch forbids them in a Request).
      return await this.#reject(new HttpError(501, `Method ${method} is not implemented`));
    }
    // A request without a body (most of them) gets the connection's one empty body: it is done
    // from the start, and nothing changes a body that is done.
    const body = head.framing === "none"
      ? (this.#noBody ??= new RequestBody(this.#reader, "none", 0, ctx.limits, NO_HOOKS))
      : new RequestBody(this.#reader, head.framing, head.contentLength, ctx.limits, {
        waiting: (active) => {
          this.#bodyWaits += active ? 1 : -1;
          this.#rearm();
        },
        sendContinue: head.expectContinue ? () => this.#writer.writeContinue() : undefined,
      });
    const url = this.#url(head);
    if (url === undefined) {
      return await this.#reject(new HttpError(400, "Request target is invalid"), isHead);
    }
    const hasBody = head.framing !== "none" && method !== "GET" && method !== "HEAD";
    let request: ServerRequest;
    try {
      if (!hasBody && BODILESS_SUPPORTED && PLAIN_METHODS.has(method)) {
        const href = ctx.hrefs.href(url);
        if (href === undefined) throw new TypeError(`Invalid URL: '${url}'`);
        request = ServerRequest.bodiless(href, method, head.fields);
      } else {
        request = this.#construct(url, method, hasBody ? body : undefined, head.fields);
      }
      this.#inflight = request;
    } catch (error) {
      return await this.#reject(
        new HttpError(400, `Cannot build request: ${(error as Error).message}`),
        isHead,
      );
    }

    let response: Response;
    try {
      this.#info = new HandlerInfo(this.#remoteAddr);
      const result = ctx.handler(request, this.#info);
      response = result instanceof Promise ? await result : result;
      if (!(response instanceof Response)) throw new TypeError("Handler did not return a Response");
      if (response.bodyUsed) throw new TypeError("Handler returned a Response whose body was used");
    } catch (error) {
      if (body.error) return await this.#reject(body.error, isHead);
      response = await this.#onError(error);
    }
    this.requests++;

    const minor = head.minor;
    const keepAlive = !this.#closing && (minor === 1 ? !head.close : head.keepAlive && !head.close);
    let open: boolean;
    try {
      open = await this.#writer.writeResponse(response, {
        head: isHead,
        minor,
        keepAlive,
        date: ctx.date(),
      });
    } catch (error) {
      if (body.error && this.#writer.bodyBytes === 0) return await this.#reject(body.error, isHead);
      throw error;
    }
    this.#inflight = undefined;
    this.#info?.settle();
    this.#info = undefined;
    if (!open || this.#closing) return false;
    if (!body.done) {
      // RFC 9110 §10.1.1: if 100 Continue was never sent the client may never send the body, so
      // waiting to discard it could stall; close instead. Otherwise discard a small remainder.
      if (body.busy || body.error || (head.expectContinue && !body.started)) return false;
      try {
        if (!(await body.drain(ctx.limits.maxDrainBytes))) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /** A request through the `Request` constructor: with a body, or a method it must normalise. */
  #construct(
    url: string,
    method: string,
    body: RequestBody | undefined,
    fields: HeaderEntry[],
  ): ServerRequest {
    // GET is the default, and naming it anyway costs a method normalisation per request. Fields
    // are appended afterwards: an init converts its whole dictionary and the field list through
    // WebIDL sequences, which costs more than the rest of the request.
    const request = body !== undefined
      ? new ServerRequest(url, { method, body: body.stream() })
      : method === "GET"
      ? new ServerRequest(url)
      : new ServerRequest(url, { method });
    const headers = request.headers;
    for (let k = 0; k < fields.length; k++) headers.append(fields[k][0], fields[k][1]);
    return request;
  }

  async #onError(error: unknown): Promise<Response> {
    try {
      const response = await this.#ctx.onError(error);
      if (response instanceof Response) return response;
    } catch {
      // The error handler failed too; fall through to a bare 500.
    }
    return new Response("Internal Server Error", { status: 500 });
  }

  #url(head: RequestHead): string | undefined {
    const target = head.target;
    const first = target.charCodeAt(0);
    if (first === 0x2f) return `http://${head.host || this.#ctx.defaultHost}${target}`;
    if (target === "*") {
      return head.method === "OPTIONS"
        ? `http://${head.host || this.#ctx.defaultHost}/*`
        : undefined;
    }
    // RFC 9112 §3.2.2: absolute-form; the target's authority overrides Host.
    if (/^https?:\/\/[^/?#]+/i.test(target)) {
      try {
        return new URL(target).href;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** Answers a malformed or refused request and ends the connection. */
  async #reject(error: HttpError, isHead = false): Promise<false> {
    this.#idle = false;
    try {
      await this.#writer.writeError(error.status, error.message, this.#ctx.date(), isHead);
      await this.#linger();
    } catch {
      // The client may already be gone.
    }
    return false;
  }

  /**
   * Lingering close (RFC 9112 §9.6): closing with unread request bytes makes the kernel send a
   * reset that can destroy the error response before the client reads it. So end our side
   * first, then discard what the client still sends, bounded in bytes and by the idle timeout.
   */
  async #linger(): Promise<void> {
    const conn = this.#conn;
    if (conn.closeWrite === undefined || this.#reader.eof) return;
    await conn.closeWrite();
    const limits = this.#ctx.limits;
    this.#arm("idle", limits.idleTimeoutMs);
    let dropped = 0;
    while (dropped <= limits.maxDrainBytes) {
      const piece = await this.#reader.readSome(limits.maxDrainBytes + 1);
      if (piece === undefined) break;
      dropped += piece.length;
    }
  }
}

/** Whether a head that failed to parse still reads as a HEAD request (its answer has no body). */
function isHeadRequest(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i + 1 < end && bytes[i] === 0x0d && bytes[i + 1] === 0x0a) i += 2;
  return end - i > 5 && bytes[i] === 0x48 && bytes[i + 1] === 0x45 && bytes[i + 2] === 0x41 &&
    bytes[i + 3] === 0x44 && bytes[i + 4] === 0x20;
}
