import assert from "node:assert/strict";
import { ConnReader } from "./conn_reader.ts";
import { HttpError } from "./error.ts";
import { DEFAULT_LIMITS } from "./limits.ts";

function reader(...chunks: string[]): ConnReader {
  const encoder = new TextEncoder();
  return new ConnReader(
    new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(encoder.encode(c));
        controller.close();
      },
    }),
  );
}

const text = (r: { bytes: Uint8Array; start: number; end: number }) =>
  new TextDecoder().decode(r.bytes.subarray(r.start, r.end));

Deno.test("ConnReader returns a head inside one chunk without copying", async () => {
  const r = reader("GET / HTTP/1.1\r\nHost: h\r\n\r\nrest");
  const head = await r.readHead(DEFAULT_LIMITS, () => {});
  assert.ok(head && !(head instanceof HttpError));
  assert.equal(text(head), "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(new TextDecoder().decode(await r.readSome(100)), "rest");
  assert.equal(await r.readSome(100), undefined);
});

Deno.test("ConnReader gathers a head split across chunks at every boundary", async () => {
  const whole = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\nBODY";
  for (let cut = 1; cut < whole.length; cut++) {
    const r = reader(whole.slice(0, cut), whole.slice(cut));
    let started = 0;
    const head = await r.readHead(DEFAULT_LIMITS, () => started++);
    assert.ok(head && !(head instanceof HttpError), `cut at ${cut}`);
    assert.equal(text(head), whole.slice(0, whole.length - 4), `cut at ${cut}`);
    assert.equal(started, 1);
    let rest = "";
    for (let piece; (piece = await r.readSome(100)) !== undefined;) {
      rest += new TextDecoder().decode(piece);
    }
    assert.equal(rest, "BODY", `cut at ${cut}`);
  }
});

Deno.test("ConnReader reads CRLF lines across chunks and rejects bare LF", async () => {
  const r = reader("5;a", "=b\r", "\nabc\n");
  const line = await r.readLine(64, "chunk size line");
  assert.ok(!(line instanceof HttpError));
  assert.equal(text(line), "5;a=b");
  const bad = await r.readLine(64, "chunk size line");
  assert.ok(bad instanceof HttpError);
  assert.equal(bad.status, 400);
});

Deno.test("ConnReader resolves undefined at a clean end and errors mid-head", async () => {
  assert.equal(await reader().readHead(DEFAULT_LIMITS, () => {}), undefined);
  const cut = await reader("GET / HTTP/1.1\r\n").readHead(DEFAULT_LIMITS, () => {});
  assert.ok(cut instanceof HttpError);
});

Deno.test("ConnReader.interrupt rejects a pending read", async () => {
  const r = new ConnReader(new ReadableStream({ pull: () => new Promise(() => {}) }));
  const pending = r.readSome(10);
  r.interrupt(new HttpError(408, "Timed out"));
  await assert.rejects(pending, (e: unknown) => e instanceof HttpError && e.status === 408);
  await assert.rejects(r.readSome(10), /Timed out/);
});

/** A `read(p)` source whose reads wait until given bytes, and which can interrupt its own read. */
class InterruptibleSource {
  reads = 0;
  interrupts = 0;
  #pending: { resolve: (n: number) => void; reject: (e: Error) => void; p: Uint8Array } | undefined;

  read(p: Uint8Array): Promise<number | null> {
    this.reads++;
    return new Promise((resolve, reject) => (this.#pending = { resolve, reject, p }));
  }

  interruptRead(error: Error): void {
    this.interrupts++;
    this.#pending?.reject(error);
    this.#pending = undefined;
  }

  give(text: string): void {
    const bytes = new TextEncoder().encode(text);
    const pending = this.#pending!;
    this.#pending = undefined;
    pending.p.set(bytes);
    pending.resolve(bytes.length);
  }
}

Deno.test("ConnReader lets a source that can interrupt its reads end a pending one", async () => {
  const source = new InterruptibleSource();
  const r = new ConnReader(source);
  const first = r.readSome(100);
  source.give("abc");
  assert.equal(new TextDecoder().decode(await first), "abc");
  assert.equal(source.interrupts, 0);
  const pending = r.readSome(10);
  r.interrupt(new HttpError(408, "Timed out"));
  await assert.rejects(pending, (e: unknown) => e instanceof HttpError && e.status === 408);
  assert.equal(source.interrupts, 1);
  await assert.rejects(r.readSome(10), /Timed out/);
  assert.equal(source.reads, 2, "no read after the interrupt");
});

Deno.test("ConnReader does not interrupt a source with no read pending", async () => {
  const source = new InterruptibleSource();
  const r = new ConnReader(source);
  const first = r.readSome(100);
  source.give("x");
  await first;
  r.interrupt(new Error("Connection closed"));
  assert.equal(source.interrupts, 0);
  await assert.rejects(r.readSome(10), /Connection closed/);
});
