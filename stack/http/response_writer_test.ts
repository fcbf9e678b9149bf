import assert from "node:assert/strict";
import type { HttpConn } from "./conn.ts";
import { ResponseWriter } from "./response_writer.ts";

const CONTEXT = { head: false, minor: 1, keepAlive: true, date: undefined };

/** A connection whose `tryWrite` takes at most `room` bytes in all; `write` takes the rest. */
function conn(room: number) {
  const out: number[] = [];
  const calls = { tryWrite: 0, write: 0 };
  const c: HttpConn = {
    readable: new ReadableStream(),
    writable: new WritableStream(),
    remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" },
    read: () => new Promise(() => {}),
    tryWrite(p) {
      calls.tryWrite++;
      const n = Math.min(room, p.length);
      room -= n;
      out.push(...p.subarray(0, n));
      return n;
    },
    write(p) {
      calls.write++;
      out.push(...p);
      return Promise.resolve(p.length);
    },
    close() {},
  };
  return { c, out, calls, text: () => String.fromCharCode(...out) };
}

Deno.test("ResponseWriter sends what tryWrite takes without a wait or a write deadline", async () => {
  const { c, calls, text } = conn(1 << 20);
  const waits: boolean[] = [];
  const writer = new ResponseWriter(c, (active) => waits.push(active), 0);
  assert.equal(await writer.writeResponse(new Response("hello"), CONTEXT), true);
  assert.match(text(), /^HTTP\/1\.1 200 OK\r\n.*content-length: 5\r\n\r\nhello$/s);
  assert.deepEqual(calls, { tryWrite: 1, write: 0 });
  assert.deepEqual(waits, [], "no write deadline armed");
});

Deno.test("ResponseWriter writes the rest of what tryWrite left, under a write deadline", async () => {
  for (const room of [0, 7, 40]) {
    const { c, calls, text } = conn(room);
    const waits: boolean[] = [];
    const writer = new ResponseWriter(c, (active) => waits.push(active), 0);
    const body = new Uint8Array(3000).fill(0x61);
    await writer.writeResponse(new Response(body), CONTEXT);
    const raw = text();
    assert.match(raw, /content-length: 3000\r\n\r\na{3000}$/, `room ${room}`);
    assert.ok(calls.write >= 1, `room ${room}: the rest went through write`);
    assert.deepEqual(waits, [true, false], `room ${room}: one deadline around the waits`);
  }
});
