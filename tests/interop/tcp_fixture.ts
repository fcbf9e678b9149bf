/**
 * TCP helpers shared by the interop tests: the stack's TCP endpoint on a link, echo / hashing sink /
 * streaming sender apps on its event interface, a deterministic 100 MiB-class byte stream with its
 * SHA-256, deadlines, and waiting for `nc -l` to listen.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import type { TcpConfig } from "../../stack/layer/tcp/config.ts";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpEvent, TcpHandler } from "../../stack/layer/tcp/events.ts";
import type { Nic } from "../../stack/nic/nic.ts";
import { Rng } from "../../stack/util/rng.ts";
import assert from "node:assert/strict";
import { type Link, linuxAddress, type RunningStack, startStack } from "./setup.ts";

const scratch = new Uint8Array(1 << 16);

/** A stack on a link with a TCP endpoint attached, checksums set up for the NIC's offloads. */
export function startTcpStack(
  link: Link,
  options: { config?: Partial<TcpConfig>; nic?: Nic } = {},
): { stack: RunningStack; tcp: TcpEndpoint } {
  const stack = startStack(link, options.nic);
  // With offloads the NIC finishes checksums from pseudo-header sums and vouches for received ones.
  const tcp = new TcpEndpoint({
    rng: new Rng(11),
    config: options.config,
    checksum: stack.nic.caps.txChecksumOffload ? "pseudo" : "full",
    verifyChecksum: !stack.nic.caps.rxChecksumVerified,
  });
  stack.iface.attach(6, tcp);
  return { stack, tcp };
}

/** Calls `each` for every connection a listener accepts, and routes that connection's events to it. */
export function acceptAll(
  tcp: TcpEndpoint,
  port: number,
  onConn: (c: TcpConnection) => void,
  options: { backlog?: number; config?: Partial<TcpConfig> } = {},
): void {
  const handler: TcpHandler = {
    receive(event: TcpEvent) {
      if (event.kind === "open") {
        for (let c = event.listener.accept(); c; c = event.listener.accept()) {
          c.handler = handler;
          onConn(c);
        }
      } else if (event.kind === "in") onConn(event.conn);
    },
  };
  tcp.listen(port, { handler, ...options });
}

/** Moves what fits from the receive side to the send side; closes once the peer has and all is out. */
export function pumpEcho(c: TcpConnection): void {
  for (;;) {
    const n = Math.min(c.readable, c.writable, scratch.length);
    if (n === 0) break;
    const read = c.read(scratch, 0, n);
    c.write(scratch, 0, read);
  }
  if (c.finReceived && c.readable === 0 && !c.writeClosed) c.closeWrite();
}

/** An echo server on `port`: every connection gets its bytes back, then a FIN after the peer's. */
export function serveEcho(
  tcp: TcpEndpoint,
  port: number,
  options: { backlog?: number; config?: Partial<TcpConfig> } = {},
): void {
  acceptAll(tcp, port, pumpEcho, options);
}

/** A sink on `port` that hashes everything one peer sends; `done` resolves after the peer's FIN. */
export function serveHashingSink(
  tcp: TcpEndpoint,
  port: number,
): { bytes: () => number; done: Promise<string> } {
  const hash = createHash("sha256");
  let bytes = 0;
  let finish: (digest: string) => void = () => {};
  const done = new Promise<string>((resolve) => finish = resolve);
  acceptAll(tcp, port, (c) => {
    for (let n = c.read(scratch); n > 0; n = c.read(scratch)) {
      hash.update(scratch.subarray(0, n));
      bytes += n;
    }
    if (c.finReceived && !c.writeClosed) {
      c.closeWrite();
      finish(hash.digest("hex"));
    }
  });
  return { bytes: () => bytes, done };
}

/**
 * A deterministic pseudo-random byte stream of `size` bytes: a 1 MiB seeded pool, each 1 MiB block
 * XORed with its index so that no two blocks are equal (a misplaced block changes the hash). Much
 * faster than drawing 100 MiB from the `Rng`.
 */
export class TestStream {
  readonly size: number;
  #pool: Uint32Array;
  #block = new Uint32Array(BLOCK / 4);
  #blockBytes = new Uint8Array(this.#block.buffer);
  #blockIndex = -1;

  /** A stream of `size` bytes (a multiple of 4) from `seed`. */
  constructor(size: number, seed: number) {
    this.size = size;
    const pool = new Uint8Array(BLOCK);
    new Rng(seed).fill(pool);
    this.#pool = new Uint32Array(pool.buffer);
  }

  /** The bytes of the 1 MiB block holding `offset`, and where `offset` falls in it. */
  at(offset: number): { bytes: Uint8Array; start: number; end: number } {
    const index = Math.floor(offset / BLOCK);
    if (index !== this.#blockIndex) {
      for (let i = 0; i < this.#block.length; i++) this.#block[i] = this.#pool[i] ^ index;
      this.#blockIndex = index;
    }
    const end = Math.min(BLOCK, this.size - index * BLOCK);
    return { bytes: this.#blockBytes, start: offset - index * BLOCK, end };
  }

  /** The SHA-256 (hex) of the whole stream. */
  sha256(): string {
    const hash: Hash = createHash("sha256");
    for (let at = 0; at < this.size;) {
      const { bytes, start, end } = this.at(at);
      hash.update(bytes.subarray(start, end));
      at += end - start;
    }
    return hash.digest("hex");
  }

  /** Writes the stream to a file. */
  async writeFile(path: string): Promise<void> {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    for (let at = 0; at < this.size;) {
      const { bytes, start, end } = this.at(at);
      let written = start;
      while (written < end) written += await file.write(bytes.subarray(written, end));
      at += end - start;
    }
  }
}

const BLOCK = 1 << 20;

/** A handler that writes `stream` on its connection as buffer space frees, then sends a FIN. */
export function streamSender(stream: TestStream): { handler: TcpHandler; sent: () => number } {
  let sent = 0;
  const handler: TcpHandler = {
    receive(event) {
      if (event.kind !== "in") return;
      const c = event.conn;
      while (sent < stream.size && c.writable > 0) {
        const { bytes, start, end } = stream.at(sent);
        const n = c.write(bytes, start, Math.min(end - start, c.writable));
        if (n === 0) break;
        sent += n;
      }
      if (sent === stream.size && !c.writeClosed) c.closeWrite();
    },
  };
  return { handler, sent: () => sent };
}

/**
 * Sends `stream` from the stack to `nc -l -N` on port 5001 in the link's namespace (cut off after
 * `timeoutS`), and checks that nc exits 0 having hashed exactly the stream.
 */
export async function sendStreamToNc(
  link: Link,
  { stack, tcp }: { stack: RunningStack; tcp: TcpEndpoint },
  stream: TestStream,
  timeoutS: number,
): Promise<void> {
  const nc = link.ns.spawn("sh", ["-c", `timeout ${timeoutS} nc -n -v -l -N -p 5001 | sha256sum`]);
  try {
    await withDeadline(watchStderr(nc, /Listening/).seen, 10_000, "nc did not listen");
    const sender = streamSender(stream);
    tcp.connect(linuxAddress(link), 5001, { handler: sender.handler });
    stack.runtime.wake();
    const [stdout, status] = await Promise.all([new Response(nc.stdout).text(), nc.status]);
    assert.equal(status.code, 0);
    assert.equal(sender.sent(), stream.size);
    assert.equal(stdout.split(" ")[0], stream.sha256());
  } finally {
    await killChild(nc);
  }
}

/** Rejects with `message` unless `promise` settles within `ms`. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once a child prints `pattern` on stderr (`nc -v -l` says "Listening", tshark says
 * "Capturing"), reading stderr to the end meanwhile; `text()` is what it printed so far.
 */
export function watchStderr(
  child: Deno.ChildProcess,
  pattern: RegExp,
): { seen: Promise<void>; text: () => string } {
  let text = "";
  let ready: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const seen = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (pattern.test(text)) ready();
    }
    failed(new Error(`The child ended its stderr without printing ${pattern}: ${text}`));
  })();
  return { seen, text: () => text };
}

/** Kills a child started by a test (by its PID, if it still runs) and waits for it. */
export async function killChild(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM") {
  try {
    child.kill(signal);
  } catch {
    // It has exited.
  }
  await child.status;
}
