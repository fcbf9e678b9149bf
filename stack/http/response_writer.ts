/**
 * Writing responses to a connection (RFC 9112 §4, §6, §7): the status line and fields, then the
 * body framed by Content-Length when its size is known, chunked when it streams, or by closing the
 * connection for HTTP/1.0 clients. Body chunks go to the connection's writer as they are. On
 * kernel sockets, where each write is a system call, bodies up to `coalesceBytes` are copied once
 * into the head's buffer so that a response is one write; on the stack's TCP, whose write is
 * itself the copy into the send buffer, nothing is coalesced.
 *
 * @module
 */

import type { HttpConn } from "./conn.ts";
import { reasonPhrase } from "./error.ts";
import { type RequestBody, requestBodyOf } from "./request_body.ts";
import { takeStaticBody } from "./static_body.ts";

/** Default of `coalesceBytes` for kernel sockets, where each write is a system call. */
export const DEFAULT_COALESCE_BYTES = 8 * 1024;
const PENDING: unique symbol = Symbol("pending");
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
/** Room a Content-Length field takes at most: "content-length: " (16), 15 digits, CRLF. */
const CONTENT_LENGTH_ROOM = 16 + 15 + 2;
/** String bodies up to this size (with their head) are encoded in place; larger ones on their own. */
const MAX_INLINE_TEXT = 64 * 1024;

/** What the connection knows about the exchange a response answers. */
export interface ResponseContext {
  /** The request was HEAD: fields are sent, the body is not (RFC 9110 §9.3.2). */
  head: boolean;
  /** The request's minor version (0 for HTTP/1.0). */
  minor: number;
  /** Whether the connection may stay open after this response. */
  keepAlive: boolean;
  /** The `Date` field value, or `undefined` to send none. */
  date: string | undefined;
}

/** Serialises responses onto one connection's writable stream. */
export class ResponseWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #conn: HttpConn | undefined;
  #waiting: (active: boolean) => void;
  #buf = new Uint8Array(4096);
  #coalesce: number;
  /** Bytes of response body written so far (for tests and stats). */
  bodyBytes = 0;

  /**
   * Writes with `conn.write` when it has one, else locks `conn.writable`; `waiting(true/false)`
   * brackets every write for the write timeout.
   */
  constructor(
    conn: HttpConn,
    waiting: (active: boolean) => void,
    coalesceBytes = DEFAULT_COALESCE_BYTES,
  ) {
    this.#coalesce = coalesceBytes;
    if (typeof conn.write === "function" && typeof conn.read === "function") this.#conn = conn;
    else this.#writer = conn.writable.getWriter();
    this.#waiting = waiting;
  }

  /** Sends the interim "100 Continue" response (RFC 9110 §15.2.1). */
  writeContinue(): Promise<void> {
    return this.#write(CONTINUE);
  }

  /** Sends a plain-text error response that closes the connection (no body when `head`). */
  async writeError(
    status: number,
    message: string,
    date: string | undefined,
    head = false,
  ): Promise<void> {
    const body = message + "\n";
    const length = encoder.encode(body).length;
    let text = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n` +
      `content-type: text/plain;charset=utf-8\r\ncontent-length: ${length}\r\nconnection: close\r\n`;
    if (date !== undefined) text += `date: ${date}\r\n`;
    text += "\r\n";
    // RFC 9110 §9.3.2: the answer to HEAD has the fields a GET would get, and no content.
    if (!head) text += body;
    const n = this.#encodeHead(text, 0);
    await this.#write(this.#buf.subarray(0, n));
  }

  /**
   * Sends `response`. Resolves to whether the connection can carry another exchange: false when
   * the handler asked to close, or the body's framing could not be completed.
   */
  async writeResponse(response: Response, ctx: ResponseContext): Promise<boolean> {
    const status = response.status;
    let keepAlive = ctx.keepAlive;
    let declared = -1;
    let head = `HTTP/1.1 ${status} ${response.statusText || reasonPhrase(status)}\r\n`;
    // forEach walks the sorted field list directly; for-of builds an iterator and a pair per field.
    response.headers.forEach((value, name) => {
      switch (name) {
        case "connection":
          if (/(^|,)\s*close\s*(,|$)/i.test(value)) keepAlive = false;
          return;
        case "keep-alive":
        case "transfer-encoding":
          // Hop-by-hop framing is ours to decide (RFC 9110 §7.6.1).
          return;
        case "content-length":
          declared = /^\d{1,15}$/.test(value) ? Number(value) : -1;
          return;
      }
      head += `${name}: ${value}\r\n`;
    });
    if (ctx.date !== undefined) head += `date: ${ctx.date}\r\n`;
    // RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content; HEAD answers carry none.
    const bodyless = (status >= 100 && status < 200) || status === 204 || status === 304;

    // Reading the fields above built a string or bytes body, which is then taken as it is.
    const fixed = bodyless ? undefined : takeStaticBody(response);
    if (fixed !== undefined) {
      if (ctx.head) {
        // RFC 9110 §9.3.2: the length a GET would get.
        const length = declared >= 0 ? declared : byteLength(fixed);
        await this.#writeHead(head + `content-length: ${length}\r\n`, keepAlive, ctx, undefined);
      } else if (typeof fixed === "string") {
        await this.#writeText(head, keepAlive, ctx, fixed);
      } else {
        await this.#writeHead(head + `content-length: ${fixed.length}\r\n`, keepAlive, ctx, fixed);
        this.bodyBytes += fixed.length;
      }
      return keepAlive;
    }

    const body = response.body;
    if (ctx.head || bodyless || body === null) {
      if (ctx.head && !bodyless && declared < 0 && body !== null) {
        // RFC 9110 §9.3.2: a HEAD answer should carry the length a GET would; it is known
        // when the body is already complete.
        declared = await completeLength(body);
      } else if (body !== null) {
        body.cancel().catch(() => {});
      }
      if (!bodyless) {
        if (ctx.head && declared >= 0) head += `content-length: ${declared}\r\n`;
        else if (!ctx.head) head += "content-length: 0\r\n";
      }
      if (status === 304 && declared >= 0) head += `content-length: ${declared}\r\n`;
      await this.#writeHead(head, keepAlive, ctx, undefined);
      return keepAlive;
    }

    // A request body passed on untouched with its length (`new Response(req.body)`, the echo) is
    // read straight from the connection: the stream's pull, read requests and async iteration
    // cost more per chunk than the copies, as Deno.serve knows too: it pipes such a body natively.
    const source = declared >= 0 ? requestBodyOf(body) : undefined;
    if (source !== undefined && !source.started && !body.locked) {
      // Locked, as reading it would lock it: the handler can no longer take chunks from it.
      const locked = body.getReader();
      // The first read sends "100 Continue" when the client expects it: that must precede the head.
      const first = await source.next();
      await this.#writeHead(head + `content-length: ${declared}\r\n`, keepAlive, ctx, undefined);
      return await this.#streamLength(locked, piecesOf(source, first), declared) && keepAlive;
    }

    // The reader is never released: releaseLock() rejects its closed promise with a fresh
    // TypeError, which costs more than the rest of a small response.
    const reader = body.getReader();
    // Both reads at once, then two microtask turns (a fresh string or bytes body answers one turn
    // late): a body complete in one chunk (a string, bytes, a buffered stream) is then known by
    // its two settled reads and gets Content-Length; anything still pending streams.
    const firstRead = reader.read();
    const secondRead = reader.read();
    const first = settle(firstRead);
    const second = settle(secondRead);
    await null;
    await null;
    if (first.state === REJECTED) await firstRead;
    if (first.state === FULFILLED && first.result!.done) {
      await this.#writeHead(head + "content-length: 0\r\n", keepAlive, ctx, undefined);
      return keepAlive;
    }
    if (first.state === FULFILLED && second.state === FULFILLED && second.result!.done) {
      const chunk = first.result!.value!;
      await this.#writeHead(head + `content-length: ${chunk.length}\r\n`, keepAlive, ctx, chunk);
      this.bodyBytes += chunk.length;
      return keepAlive;
    }
    const pending = [firstRead, secondRead];
    // Streaming: the head goes out now, so a client of a slow stream (server-sent events) sees
    // the status before the first chunk exists.
    const chunks = bodyChunks(reader, pending);
    if (declared >= 0) {
      await this.#writeHead(head + `content-length: ${declared}\r\n`, keepAlive, ctx, undefined);
      return await this.#streamLength(reader, chunks, declared) && keepAlive;
    }
    if (ctx.minor === 0) {
      // HTTP/1.0 has no chunked coding: the body ends when the connection does (RFC 9112 §6.3).
      await this.#writeHead(head, false, ctx, undefined);
      for await (const chunk of chunks) {
        await this.#write(chunk);
        this.bodyBytes += chunk.length;
      }
      return false;
    }
    await this.#writeHead(head + "transfer-encoding: chunked\r\n", keepAlive, ctx, undefined);
    return await this.#streamChunked(chunks) && keepAlive;
  }

  /** Releases the writer (the connection closes it). */
  release(): void {
    try {
      this.#writer?.releaseLock();
    } catch {
      // A pending write keeps the lock; the connection is closing anyway.
    }
  }

  async #streamLength(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    chunks: AsyncIterable<Uint8Array>,
    declared: number,
  ): Promise<boolean> {
    let left = declared;
    for await (const chunk of chunks) {
      if (chunk.length > left) {
        // The handler sent more than it declared: stop at the boundary and close.
        if (left > 0) await this.#write(chunk.subarray(0, left));
        reader.cancel().catch(() => {});
        return false;
      }
      await this.#write(chunk);
      left -= chunk.length;
      this.bodyBytes += chunk.length;
    }
    return left === 0;
  }

  async #streamChunked(chunks: AsyncIterable<Uint8Array>): Promise<boolean> {
    let crlfOwed = false;
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      const prefix = `${crlfOwed ? "\r\n" : ""}${chunk.length.toString(16)}\r\n`;
      if (chunk.length <= this.#coalesce) {
        const n = this.#encodeHead(prefix, chunk.length + 2);
        this.#buf.set(chunk, n);
        this.#buf[n + chunk.length] = 0x0d;
        this.#buf[n + chunk.length + 1] = 0x0a;
        await this.#write(this.#buf.subarray(0, n + chunk.length + 2));
        crlfOwed = false;
      } else {
        await this.#write(this.#buf.subarray(0, this.#encodeHead(prefix, 0)));
        await this.#write(chunk);
        // On kernel sockets the chunk's CRLF rides with the next chunk's size line (one system
        // call less); where writes are cheap it goes now, so the chunk is complete on the wire.
        crlfOwed = this.#coalesce > 0;
        if (!crlfOwed) await this.#write(CRLF);
      }
      this.bodyBytes += chunk.length;
    }
    // RFC 9112 §7.1: the last chunk and an empty trailer section.
    const tail = `${crlfOwed ? "\r\n" : ""}0\r\n\r\n`;
    await this.#write(this.#buf.subarray(0, this.#encodeHead(tail, 0)));
    return true;
  }

  /** Ends the head: the connection field where it differs from the version's default, then CRLF. */
  #endHead(head: string, keepAlive: boolean, ctx: ResponseContext): string {
    if (!keepAlive) {
      if (ctx.minor === 1 || ctx.keepAlive) head += "connection: close\r\n";
    } else if (ctx.minor === 0) {
      head += "connection: keep-alive\r\n";
    }
    return head + "\r\n";
  }

  /**
   * A string body, encoded straight into the buffer behind room for the head; the head, once its
   * Content-Length is known, is written so that it ends where the body starts. One write, and the
   * body's bytes are made once, in place (the TCP write is their one copy).
   */
  async #writeText(
    head: string,
    keepAlive: boolean,
    ctx: ResponseContext,
    text: string,
  ): Promise<void> {
    const at = this.#endHead(head, keepAlive, ctx).length + CONTENT_LENGTH_ROOM;
    // UTF-8 takes at most three bytes per UTF-16 unit.
    const most = at + text.length * 3;
    if (most > MAX_INLINE_TEXT) {
      const bytes = encoder.encode(text);
      await this.#writeHead(head + `content-length: ${bytes.length}\r\n`, keepAlive, ctx, bytes);
      this.bodyBytes += bytes.length;
      return;
    }
    if (this.#buf.length < most) this.#buf = new Uint8Array(Math.max(most, this.#buf.length * 2));
    const length = encoder.encodeInto(text, this.#buf.subarray(at)).written;
    const full = this.#endHead(head + `content-length: ${length}\r\n`, keepAlive, ctx);
    const start = at - full.length;
    this.#encodeLatin1(full, start);
    this.bodyBytes += length;
    await this.#write(this.#buf.subarray(start, at + length));
  }

  async #writeHead(
    head: string,
    keepAlive: boolean,
    ctx: ResponseContext,
    body: Uint8Array | undefined,
  ): Promise<void> {
    head = this.#endHead(head, keepAlive, ctx);
    if (body !== undefined && body.length <= this.#coalesce) {
      const n = this.#encodeHead(head, body.length);
      this.#buf.set(body, n);
      await this.#write(this.#buf.subarray(0, n + body.length));
      return;
    }
    const headBytes = this.#buf.subarray(0, this.#encodeHead(head, 0));
    await (body === undefined ? this.#write(headBytes) : this.#write(headBytes, body));
  }

  /** Encodes `text` (Latin-1 by construction) at the start of the buffer, leaving `room` after. */
  #encodeHead(text: string, room: number): number {
    const need = text.length + room;
    if (this.#buf.length < need) {
      this.#buf = new Uint8Array(Math.max(need, this.#buf.length * 2));
    }
    this.#encodeLatin1(text, 0);
    return text.length;
  }

  /** Writes `text` (Latin-1 by construction) into the buffer at `at`, one byte per character. */
  #encodeLatin1(text: string, at: number): void {
    const buf = this.#buf;
    // Bounded to the text's length: UTF-8 of obs-text would run into the body behind it.
    const { read, written } = encoder.encodeInto(text, buf.subarray(at, at + text.length));
    if (read === text.length && written === text.length) return;
    // Field values may hold obs-text (0x80–0xFF): write those as single bytes, not UTF-8.
    for (let k = 0; k < text.length; k++) buf[at + k] = text.charCodeAt(k);
  }

  /**
   * Writes `bytes`, then `more` when given, under one write deadline; what the connection takes at
   * once (`tryWrite`) needs neither a wait nor a deadline.
   */
  async #write(bytes: Uint8Array, more?: Uint8Array): Promise<void> {
    const conn = this.#conn;
    if (conn?.tryWrite !== undefined) {
      const taken = conn.tryWrite(bytes);
      if (taken < bytes.length) {
        bytes = bytes.subarray(taken);
      } else if (more === undefined) {
        return;
      } else {
        const rest = more.length - conn.tryWrite(more);
        if (rest === 0) return;
        bytes = more.subarray(more.length - rest);
        more = undefined;
      }
    }
    this.#waiting(true);
    try {
      await this.#writeAll(bytes);
      if (more !== undefined) await this.#writeAll(more);
    } finally {
      this.#waiting(false);
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    if (this.#writer !== undefined) {
      await this.#writer.write(bytes);
      return;
    }
    // write(p) may take only part of the bytes, as Deno.Conn.write does.
    let done = await this.#conn!.write!(bytes);
    while (done < bytes.length) done += await this.#conn!.write!(bytes.subarray(done));
  }
}

/** UTF-8 bytes of a string body, or the length of a bytes body. */
function byteLength(body: string | Uint8Array): number {
  return typeof body === "string" ? encoder.encode(body).length : body.length;
}

/** The body's length when it is complete within one chunk, else -1; the body is cancelled. */
async function completeLength(body: ReadableStream<Uint8Array>): Promise<number> {
  const reader = body.getReader();
  try {
    const first = await peek(reader.read());
    if (first === PENDING) return -1;
    if (first.done) return 0;
    const second = await peek(reader.read());
    return second !== PENDING && second.done ? first.value.length : -1;
  } catch {
    return -1;
  } finally {
    reader.cancel().catch(() => {});
  }
}

const WAITING = 0;
const FULFILLED = 1;
const REJECTED = 2;

/** A read's outcome as far as it is known (cheaper than racing it against a timer promise). */
interface Settled {
  state: typeof WAITING | typeof FULFILLED | typeof REJECTED;
  result: ReadableStreamReadResult<Uint8Array> | undefined;
}

/** Tracks `read`; a rejection is recorded here and rethrown by whoever awaits `read` itself. */
function settle(read: Promise<ReadableStreamReadResult<Uint8Array>>): Settled {
  const s: Settled = { state: WAITING, result: undefined };
  read.then((result) => {
    s.state = FULFILLED;
    s.result = result;
  }, () => {
    s.state = REJECTED;
  });
  return s;
}

/**
 * The read's result if it settles within a microtask turn, else `PENDING`. A fresh body stream
 * (a string or bytes body) answers its first read one turn late, hence the extra `then`.
 */
function peek(
  read: Promise<ReadableStreamReadResult<Uint8Array>>,
): Promise<ReadableStreamReadResult<Uint8Array> | typeof PENDING> {
  return Promise.race<ReadableStreamReadResult<Uint8Array> | typeof PENDING>([
    read,
    Promise.resolve().then(() => PENDING),
  ]);
}

/** A request body's pieces from `first` on, read from the connection without a stream between. */
function piecesOf(source: RequestBody, first: Uint8Array | undefined): AsyncIterable<Uint8Array> {
  let pending: Uint8Array | undefined | null = first; // null once `first` was handed out
  const iterator: AsyncIterator<Uint8Array> = {
    async next() {
      const piece = pending === null ? await source.next() : pending;
      pending = null;
      return piece === undefined ? { done: true, value: undefined } : { done: false, value: piece };
    },
  };
  return { [Symbol.asyncIterator]: () => iterator };
}

/** The body's chunks: the reads already issued, then the rest, one read ahead of the writes. */
async function* bodyChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pending: Promise<ReadableStreamReadResult<Uint8Array>>[],
): AsyncIterable<Uint8Array> {
  while (true) {
    const result = await (pending.shift() ?? reader.read());
    if (result.done) return;
    if (pending.length === 0) pending.push(reader.read());
    yield result.value;
  }
}
