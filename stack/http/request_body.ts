/**
 * Decoding a request body from the connection (RFC 9112 §6, §7.1): Content-Length or chunked,
 * handed to the handler as a `ReadableStream` of views into the received chunks (no copy).
 *
 * @module
 */

import type { ConnReader } from "./conn_reader.ts";
import { HttpError } from "./error.ts";
import type { HttpLimits } from "./limits.ts";
import { type BodyFraming, TCHAR } from "./request_head.ts";

const SP = 0x20;
const HTAB = 0x09;
const SEMICOLON = 0x3b;
const COLON = 0x3a;

/** Hooks the connection gives a body: timeouts around waits, and "100 Continue". */
export interface BodyHooks {
  /** Called with true before waiting for body bytes and false after. */
  waiting(active: boolean): void;
  /** Sends "100 Continue" before the first read when the client expects it. */
  sendContinue?(): Promise<void>;
}

type Phase = "size" | "data" | "crlf" | "trailers" | "done";

/** Request bodies by the stream each handed to its handler (see `requestBodyOf`). */
const BODIES = new WeakMap<ReadableStream<Uint8Array>, RequestBody>();

/**
 * The request body behind `stream` when `stream` is one that {@linkcode RequestBody.stream} made, so
 * that a response passing it on (`new Response(req.body)`) can read the connection directly.
 */
export function requestBodyOf(stream: ReadableStream<Uint8Array>): RequestBody | undefined {
  return BODIES.get(stream);
}

/** One request's body: a pull-driven decoder and the stream the handler reads. */
export class RequestBody {
  #conn: ConnReader;
  #limits: HttpLimits;
  #hooks: BodyHooks;
  #chunked: boolean;
  #left: number;
  #phase: Phase;
  #received = 0;
  #busy = false;
  #started = false;
  /** The error that ended decoding, if any (the connection cannot continue after it). */
  error: HttpError | undefined;

  /** Prepares to decode a body framed as `framing` with `contentLength` bytes when known. */
  constructor(
    conn: ConnReader,
    framing: BodyFraming,
    contentLength: number,
    limits: HttpLimits,
    hooks: BodyHooks,
  ) {
    this.#conn = conn;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#chunked = framing === "chunked";
    this.#left = framing === "length" ? contentLength : 0;
    this.#phase = framing === "none" ? "done" : this.#chunked ? "size" : "data";
  }

  /** True once the whole body (and any trailers) has been read. */
  get done(): boolean {
    return this.#phase === "done";
  }

  /** True while a read is waiting for the connection. */
  get busy(): boolean {
    return this.#busy;
  }

  /** True once the handler or a drain asked for body bytes. */
  get started(): boolean {
    return this.#started;
  }

  /** The next piece of the body, or `undefined` at its end. Throws the `HttpError` that ended it. */
  async next(): Promise<Uint8Array | undefined> {
    if (this.error) throw this.error;
    if (this.#phase === "done") return undefined;
    if (this.#busy) throw new TypeError("Request body is already being read");
    this.#busy = true;
    try {
      if (!this.#started) {
        this.#started = true;
        if (this.#hooks.sendContinue && !this.#conn.hasBuffered) await this.#hooks.sendContinue();
      }
      this.#hooks.waiting(true);
      return this.#chunked ? await this.#nextChunked() : await this.#nextLength();
    } catch (error) {
      this.error = error instanceof HttpError
        ? error
        : new HttpError(400, `Cannot read request body: ${(error as Error)?.message ?? error}`);
      this.#phase = "done";
      throw this.error;
    } finally {
      this.#hooks.waiting(false);
      this.#busy = false;
    }
  }

  /** A stream over {@linkcode next} that reads only when the handler pulls. */
  stream(): ReadableStream<Uint8Array> {
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const piece = await this.next();
          if (piece === undefined) controller.close();
          else controller.enqueue(piece);
        } catch (error) {
          controller.error(error);
        }
      },
    }, { highWaterMark: 0 });
    BODIES.set(stream, this);
    return stream;
  }

  /** Reads and discards the rest of the body up to `max` bytes; false when it is longer. */
  async drain(max: number): Promise<boolean> {
    let dropped = 0;
    while (!this.done) {
      if (!this.#chunked && this.#left > max - dropped) return false;
      const piece = await this.next();
      if (piece === undefined) break;
      dropped += piece.length;
      if (dropped > max) return false;
    }
    return true;
  }

  async #nextLength(): Promise<Uint8Array | undefined> {
    const piece = await this.#conn.readSome(this.#left);
    if (piece === undefined) throw new HttpError(400, "Connection ended inside the request body");
    this.#left -= piece.length;
    if (this.#left === 0) this.#phase = "done";
    return piece;
  }

  async #nextChunked(): Promise<Uint8Array | undefined> {
    while (true) {
      switch (this.#phase) {
        case "size": {
          const line = await this.#conn.readLine(this.#limits.maxChunkLineBytes, "chunk size line");
          if (line instanceof HttpError) throw line;
          const size = parseChunkSize(line.bytes, line.start, line.end);
          if (size < 0) throw new HttpError(400, "Cannot parse chunk size line");
          if (this.#received + size > this.#limits.maxBodyBytes) {
            throw new HttpError(
              413,
              `Request body is larger than ${this.#limits.maxBodyBytes} bytes`,
            );
          }
          this.#left = size;
          this.#phase = size === 0 ? "trailers" : "data";
          break;
        }
        case "data": {
          const piece = await this.#conn.readSome(this.#left);
          if (piece === undefined) throw new HttpError(400, "Connection ended inside a chunk");
          this.#left -= piece.length;
          this.#received += piece.length;
          if (this.#left === 0) this.#phase = "crlf";
          return piece;
        }
        case "crlf": {
          // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
          const line = await this.#conn.readLine(0, "chunk data terminator");
          if (line instanceof HttpError) throw line;
          this.#phase = "size";
          break;
        }
        case "trailers":
          await this.#skipTrailers();
          this.#phase = "done";
          return undefined;
        case "done":
          return undefined;
      }
    }
  }

  /** RFC 9112 §7.1.2: trailer fields are validated like header fields, then discarded. */
  async #skipTrailers(): Promise<void> {
    let budget = this.#limits.maxHeaderBytes;
    let count = 0;
    while (true) {
      const line = await this.#conn.readLine(budget, "trailer section");
      if (line instanceof HttpError) throw line;
      const { bytes, start, end } = line;
      if (start === end) return;
      budget -= end - start + 2;
      if (budget < 0 || ++count > this.#limits.maxHeaderCount) {
        throw new HttpError(431, "Trailer section is larger than the limit");
      }
      if (!validFieldLine(bytes, start, end)) {
        throw new HttpError(400, "Cannot parse trailer field");
      }
    }
  }
}

/** Parses `chunk-size [ chunk-ext ]` (RFC 9112 §7.1.1); returns -1 when malformed. */
export function parseChunkSize(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let size = 0;
  while (i < end) {
    const d = hexValue(bytes[i]);
    if (d < 0) break;
    size = size * 16 + d;
    i++;
  }
  // 16 hex digits already exceed any sane limit; more only invites overflow games.
  if (i === start || i - start > 16) return -1;
  if (i === end) return size;
  while (i < end && (bytes[i] === SP || bytes[i] === HTAB)) i++;
  if (bytes[i] !== SEMICOLON) return -1;
  for (; i < end; i++) {
    const b = bytes[i];
    if ((b < SP && b !== HTAB) || b === 0x7f) return -1;
  }
  return size;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

function validFieldLine(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && TCHAR[bytes[i]]) i++;
  if (i === start || bytes[i] !== COLON) return false;
  for (i++; i < end; i++) {
    const b = bytes[i];
    if ((b < SP && b !== HTAB) || b === 0x7f) return false;
  }
  return true;
}
