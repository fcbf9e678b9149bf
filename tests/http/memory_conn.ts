/**
 * In-memory connections for HTTP tests: a listener whose `connect()` returns the client end of a
 * byte pipe, and a client that parses the responses it reads.
 *
 * @module
 */

import type { HttpAddr, HttpConn, HttpListener } from "../../stack/http/conn.ts";

/** Options of an in-memory connection. */
export interface ConnectOptions {
  /** Offer `closeWrite()` like a TCP connection. */
  closeWrite?: boolean;
  /** Offer `read(p)`/`write(p)` like `Deno.Conn`, so the server uses them instead of streams. */
  direct?: boolean;
  /** Sees each chunk the server writes to `writable`, as it was handed over (before any copy). */
  onWrite?: (chunk: Uint8Array) => void;
}

/** One direction of a connection: chunks are copied on write, as a socket would. */
class Pipe {
  readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  ended = false;

  constructor() {
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      cancel: () => {
        this.ended = true;
      },
    });
  }

  push(bytes: Uint8Array): void {
    if (this.ended) throw new Error("Pipe is closed");
    this.#controller.enqueue(bytes.slice());
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.#controller.close();
  }
}

/** A parsed response as the client saw it. */
export interface ClientResponse {
  /** The status line's version, such as "HTTP/1.1". */
  version: string;
  /** The status code. */
  status: number;
  /** Header fields, names lower-cased, in order. */
  headers: [string, string][];
  /** The body decoded from its framing, as Latin-1 text. */
  body: string;
  /** The raw bytes of the whole response, as Latin-1 text. */
  raw: string;
  /** Returns the first value of `name`. */
  get(name: string): string | undefined;
}

/** The client end of an in-memory connection. */
export class MemoryClient {
  #toServer: Pipe;
  #text = "";
  #ended = false;
  #changed: (() => void) | undefined;
  /** The server end, as the listener yields it. */
  readonly serverConn: { -readonly [K in keyof HttpConn]: HttpConn[K] };
  /** True once the server closed its end. */
  get closedByServer(): boolean {
    return this.#ended;
  }

  /** True once the server called `close()` (not just `closeWrite()`). */
  serverClosed = false;

  constructor(remoteAddr: HttpAddr, options: ConnectOptions = {}) {
    this.#toServer = new Pipe();
    const toClient = new Pipe();
    this.#pump(toClient.readable);
    const toServer = this.#toServer;
    this.serverConn = {
      readable: toServer.readable,
      writable: new WritableStream<Uint8Array>({
        write(chunk) {
          options.onWrite?.(chunk);
          toClient.push(chunk);
        },
      }),
      remoteAddr,
      close: () => {
        this.serverClosed = true;
        toClient.end();
        toServer.ended = true;
      },
      closeWrite: options.closeWrite ? () => toClient.end() : undefined,
    };
    if (options.direct) {
      // read/write like Deno.Conn, over the same pipes (the server then skips the streams).
      const reader = toServer.readable.getReader();
      let left: Uint8Array | undefined;
      this.serverConn.read = async (p) => {
        if (left === undefined || left.length === 0) {
          const { value, done } = await reader.read();
          if (done) return null;
          left = value;
        }
        const n = Math.min(p.length, left.length);
        p.set(left.subarray(0, n));
        left = left.subarray(n);
        return n;
      };
      // Takes at most 7 bytes per call, so the server must loop over partial writes.
      this.serverConn.write = (p) => {
        const n = Math.min(p.length, 7);
        toClient.push(p.subarray(0, n));
        return Promise.resolve(n);
      };
    }
  }

  /** Sends text (Latin-1) or bytes to the server; dropped once the server closed its end. */
  send(data: string | Uint8Array): void {
    if (this.#toServer.ended) return;
    this.#toServer.push(typeof data === "string" ? latin1(data) : data);
  }

  /** Ends the client's sending side. */
  end(): void {
    this.#toServer.end();
  }

  /** Reads one whole response; `head` means it answers a HEAD request (no body). */
  async response(options: { head?: boolean } = {}): Promise<ClientResponse> {
    while (true) {
      const parsed = parseResponse(this.#text, options.head ?? false, this.#ended);
      if (parsed !== undefined) {
        this.#text = this.#text.slice(parsed.raw.length);
        return parsed;
      }
      if (this.#ended) throw new Error(`Connection closed before a whole response: ${this.#text}`);
      await this.#more();
    }
  }

  /** Reads until the server closes; resolves to what arrived after the last parsed response. */
  async closed(): Promise<string> {
    while (!this.#ended) await this.#more();
    const rest = this.#text;
    this.#text = "";
    return rest;
  }

  /** Reads until at least `text` has arrived (interim responses). */
  async expectText(text: string): Promise<void> {
    while (!this.#text.startsWith(text)) {
      if (this.#ended || this.#text.length >= text.length) {
        throw new Error(`Expected ${JSON.stringify(text)}, got ${JSON.stringify(this.#text)}`);
      }
      await this.#more();
    }
    this.#text = this.#text.slice(text.length);
  }

  /** Text received and not yet consumed. */
  get pending(): string {
    return this.#text;
  }

  /** Receives in the background, so that `pending` shows whatever the server has sent. */
  async #pump(readable: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of readable) {
      for (let i = 0; i < chunk.length; i += 8192) {
        this.#text += String.fromCharCode(...chunk.subarray(i, i + 8192));
      }
      this.#changed?.();
    }
    this.#ended = true;
    this.#changed?.();
  }

  #more(): Promise<void> {
    return new Promise((resolve) => (this.#changed = resolve));
  }
}

/** A listener fed by {@linkcode MemoryListener.connect}. */
export class MemoryListener implements HttpListener {
  readonly addr: HttpAddr = { hostname: "10.0.0.1", port: 80, transport: "tcp" };
  #queue: HttpConn[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  #next = 40000;

  /** Opens a connection to the server and returns its client end. */
  connect(options: ConnectOptions = {}): MemoryClient {
    const addr: HttpAddr = { hostname: "10.0.0.2", port: this.#next++, transport: "tcp" };
    const client = new MemoryClient(addr, options);
    this.#queue.push(client.serverConn);
    this.#wake?.();
    return client;
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<HttpConn> {
    while (true) {
      const conn = this.#queue.shift();
      if (conn) {
        yield conn;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Parses one response from the front of `text`, or `undefined` when incomplete. */
export function parseResponse(
  text: string,
  head: boolean,
  ended: boolean,
): ClientResponse | undefined {
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) return undefined;
  const lines = text.slice(0, headEnd).split("\r\n");
  const m = /^(HTTP\/\d\.\d) (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!m) throw new Error(`Malformed status line: ${lines[0]}`);
  const headers: [string, string][] = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  const get = (name: string) => headers.find(([n]) => n === name)?.[1];
  const status = Number(m[2]);
  let at = headEnd + 4;
  let body = "";
  const bodyless = head || status < 200 || status === 204 || status === 304;
  if (!bodyless) {
    const te = get("transfer-encoding");
    const cl = get("content-length");
    if (te !== undefined) {
      while (true) {
        const lineEnd = text.indexOf("\r\n", at);
        if (lineEnd === -1) return undefined;
        const size = parseInt(text.slice(at, lineEnd), 16);
        if (text.length < lineEnd + 2 + size + 2) return undefined;
        body += text.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else if (cl !== undefined) {
      if (text.length < at + Number(cl)) return undefined;
      body = text.slice(at, at + Number(cl));
      at += Number(cl);
    } else {
      if (!ended) return undefined;
      body = text.slice(at);
      at = text.length;
    }
  }
  return { version: m[1], status, headers, body, raw: text.slice(0, at), get };
}
