/**
 * Buffered reading of one connection's byte stream: request heads, chunk-size lines and body bytes.
 * Bytes are handed out as views into the chunks the connection delivered; only a head or line that
 * spans chunks is copied, into a bounded buffer.
 *
 * @module
 */

import { HttpError } from "./error.ts";
import type { HttpLimits } from "./limits.ts";

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
/** Buffer for `read(p)` connections: small while they carry heads, which most idle ones do. */
const HEAD_READ_BYTES = 16 * 1024;
/** Buffer once body bytes flow: larger reads, fewer calls. */
const BODY_READ_BYTES = 64 * 1024;
/** A read goes into the rest of the buffer while at least this much is free. */
const MIN_READ_BYTES = 4 * 1024;

/** A connection read with `read(p)`, like `Deno.Conn`. */
export interface ByteSource {
  /** Reads into `p`; resolves to the count, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Makes the pending `read` reject with `error` (optional: reads are wrapped otherwise). */
  interruptRead?(error: Error): void;
}

/** A region of bytes: `bytes[start, end)`. Valid until the next read from the same reader. */
export interface ByteRange {
  /** The buffer holding the region. */
  bytes: Uint8Array;
  /** First byte of the region. */
  start: number;
  /** One past the last byte of the region. */
  end: number;
}

/**
 * Finds the end of a request head incrementally (RFC 9112 §2.1, §2.2): the first empty line after
 * a non-empty one. Leading empty lines are skipped, as §2.2 asks servers to tolerate.
 */
class HeadScanner {
  lineStart = 0;
  sawLine = false;

  reset(): void {
    this.lineStart = 0;
    this.sawLine = false;
  }

  /**
   * Scans `bytes[from, to)`, where the head starts at `base`. Returns the head's length once its
   * end is seen, 0 when more bytes are needed, or a negative HTTP status when a limit is broken.
   */
  run(bytes: Uint8Array, base: number, from: number, to: number, limits: HttpLimits): number {
    let i = bytes.indexOf(LF, from);
    while (i !== -1 && i < to) {
      const rel = i - base;
      const lineLength = rel - this.lineStart;
      // The limit counts the line without its CRLF.
      if (!this.sawLine && lineLength > limits.maxRequestLineBytes + 1) return -414;
      if (rel + 1 > limits.maxHeaderBytes) return this.sawLine ? -431 : -414;
      const empty = lineLength === 0 || (lineLength === 1 && bytes[base + this.lineStart] === CR);
      if (empty && this.sawLine) return rel + 1;
      if (!empty) this.sawLine = true;
      this.lineStart = rel + 1;
      i = bytes.indexOf(LF, i + 1);
    }
    const seen = to - base;
    if (!this.sawLine && seen - this.lineStart > limits.maxRequestLineBytes + 1) return -414;
    if (seen > limits.maxHeaderBytes) return this.sawLine ? -431 : -414;
    return 0;
  }
}

/** Reads a connection's bytes for the HTTP parser, interruptible by a timeout. */
export class ConnReader {
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #source: ByteSource | undefined;
  /**
   * The buffer `read(p)` fills. Once views into it were handed out as body bytes, later reads go
   * after them (and into a new buffer when too little is left), so those views stay intact.
   */
  #own: Uint8Array = EMPTY;
  #ownAt = 0;
  /** Bytes of `#own` below this offset may be held as body views: never read into them again. */
  #floor = 0;
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  #eof = false;
  #interrupted: Error | undefined;
  #rejectRead: ((error: Error) => void) | undefined;
  /** A read of a source that interrupts its own reads is pending. */
  #reading = false;
  #scan = new HeadScanner();
  #headBuf: Uint8Array = EMPTY;
  #lineBuf: Uint8Array = EMPTY;
  #range: ByteRange = { bytes: EMPTY, start: 0, end: 0 };

  /** Reads from a readable stream (locking it) or from a `read(p)` source. */
  constructor(source: ReadableStream<Uint8Array> | ByteSource) {
    if (source instanceof ReadableStream) this.#reader = source.getReader();
    else this.#source = source;
  }

  /** True when received bytes are waiting to be parsed. */
  get hasBuffered(): boolean {
    return this.#pos < this.#chunk.length;
  }

  /** True once the peer ended its side of the stream. */
  get eof(): boolean {
    return this.#eof && this.#pos >= this.#chunk.length;
  }

  /** Makes the pending and every later read reject with `error` (a timeout fired). */
  interrupt(error: Error): void {
    if (this.#interrupted) return;
    this.#interrupted = error;
    this.#rejectRead?.(error);
    if (this.#reading) this.#source!.interruptRead!(error);
  }

  /** Releases the stream; pending reads end. */
  cancel(): void {
    this.#reader?.cancel().catch(() => {});
  }

  async #fill(): Promise<boolean> {
    while (true) {
      if (this.#interrupted) throw this.#interrupted;
      if (this.#eof) return false;
      if (this.#source !== undefined) {
        if (this.#own.length - this.#floor < MIN_READ_BYTES) {
          this.#own = new Uint8Array(this.#floor > 0 ? BODY_READ_BYTES : HEAD_READ_BYTES);
          this.#floor = 0;
        }
        this.#ownAt = this.#floor;
        const read = this.#source.read(this.#own.subarray(this.#ownAt));
        let n: number | null;
        if (this.#source.interruptRead !== undefined) {
          this.#reading = true;
          try {
            n = await read;
          } finally {
            this.#reading = false;
          }
        } else {
          n = await this.#interruptible(read);
        }
        if (n === null) {
          this.#eof = true;
          return false;
        }
        if (n > 0) {
          this.#chunk = this.#own.subarray(this.#ownAt, this.#ownAt + n);
          this.#pos = 0;
          return true;
        }
        continue;
      }
      const result = await this.#interruptible(this.#reader!.read());
      if (result.done) {
        this.#eof = true;
        return false;
      }
      if (result.value.length > 0) {
        this.#chunk = result.value;
        this.#pos = 0;
        return true;
      }
    }
  }

  /**
   * Settles like `read`, or rejects with the interrupt's error. Not Promise.race with one
   * long-lived promise: each race would leave a reaction on it for the life of the connection.
   */
  #interruptible<T>(read: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#rejectRead = reject;
      read.then((value) => {
        this.#rejectRead = undefined;
        resolve(value);
      }, reject);
    });
  }

  /**
   * Reads one request head. Resolves to its bytes (including the final empty line), to an
   * `HttpError` when a limit is broken, or to `undefined` when the stream ends before any byte.
   * `onFirstByte` runs once the head's first byte is available.
   */
  async readHead(
    limits: HttpLimits,
    onFirstByte: () => void,
  ): Promise<ByteRange | HttpError | undefined> {
    if (this.#pos >= this.#chunk.length && !(await this.#fill())) return undefined;
    onFirstByte();
    const scan = this.#scan;
    scan.reset();
    const chunk = this.#chunk;
    const start = this.#pos;
    const found = scan.run(chunk, start, start, chunk.length, limits);
    if (found > 0) {
      this.#pos = start + found;
      return this.#set(chunk, start, start + found);
    }
    if (found < 0) return headError(-found);
    // The head spans chunks: gather it in a buffer no larger than the limit allows.
    if (this.#headBuf.length < limits.maxHeaderBytes) {
      this.#headBuf = new Uint8Array(limits.maxHeaderBytes);
    }
    const buf = this.#headBuf;
    let used = chunk.length - start;
    buf.set(chunk.subarray(start), 0);
    this.#pos = chunk.length;
    while (true) {
      if (!(await this.#fill())) {
        return new HttpError(400, "Connection ended inside the request head");
      }
      const next = this.#chunk;
      const take = Math.min(next.length, buf.length - used);
      buf.set(take === next.length ? next : next.subarray(0, take), used);
      const end = scan.run(buf, 0, used, used + take, limits);
      if (end > 0) {
        this.#pos = end - used;
        return this.#set(buf, 0, end);
      }
      if (end < 0) return headError(-end);
      used += take;
      this.#pos = take;
    }
  }

  /**
   * Reads one CRLF-terminated line of at most `max` bytes (without the CRLF). A bare LF, a line
   * that is too long, or the end of the stream is an `HttpError` (400).
   */
  async readLine(max: number, what: string): Promise<ByteRange | HttpError> {
    if (this.#pos >= this.#chunk.length && !(await this.#fill())) {
      return new HttpError(400, `Connection ended inside the ${what}`);
    }
    let chunk = this.#chunk;
    let start = this.#pos;
    let lf = chunk.indexOf(LF, start);
    if (lf !== -1 && lf - start <= max + 1) {
      this.#pos = lf + 1;
      return this.#line(chunk, start, lf, what);
    }
    if (lf !== -1 || chunk.length - start > max + 1) {
      return new HttpError(400, `Cannot parse ${what}: longer than ${max} bytes`);
    }
    if (this.#lineBuf.length < max + 2) this.#lineBuf = new Uint8Array(max + 2);
    const buf = this.#lineBuf;
    let used = chunk.length - start;
    buf.set(chunk.subarray(start), 0);
    while (true) {
      if (!(await this.#fill())) return new HttpError(400, `Connection ended inside the ${what}`);
      chunk = this.#chunk;
      start = 0;
      lf = chunk.indexOf(LF);
      const take = lf === -1 ? chunk.length : lf + 1;
      if (used + take > max + 2) {
        return new HttpError(400, `Cannot parse ${what}: longer than ${max} bytes`);
      }
      buf.set(chunk.subarray(0, take), used);
      used += take;
      this.#pos = take;
      if (lf !== -1) return this.#line(buf, 0, used - 1, what);
    }
  }

  /** Reads up to `max` bytes as a view into a received chunk, or `undefined` at the end. */
  async readSome(max: number): Promise<Uint8Array | undefined> {
    if (this.#pos >= this.#chunk.length && !(await this.#fill())) return undefined;
    const end = Math.min(this.#chunk.length, this.#pos + max);
    const out = this.#chunk.subarray(this.#pos, end);
    this.#pos = end;
    // The caller may keep the view (a request body chunk): later reads go after it.
    if (this.#chunk.buffer === this.#own.buffer) this.#floor = this.#ownAt + end;
    return out;
  }

  #line(bytes: Uint8Array, start: number, lf: number, what: string): ByteRange | HttpError {
    // RFC 9112 §7.1: chunk lines end in CRLF; accepting a bare LF here is a smuggling vector.
    if (lf === start || bytes[lf - 1] !== CR) {
      return new HttpError(400, `Cannot parse ${what}: line ends in a bare LF`);
    }
    return this.#set(bytes, start, lf - 1);
  }

  #set(bytes: Uint8Array, start: number, end: number): ByteRange {
    const range = this.#range;
    range.bytes = bytes;
    range.start = start;
    range.end = end;
    return range;
  }
}

function headError(status: number): HttpError {
  return status === 414
    ? new HttpError(414, "Request line is longer than the limit")
    : new HttpError(431, "Request head is larger than the limit");
}
