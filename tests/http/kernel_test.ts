/** The server over real kernel sockets on loopback (`Deno.listen` on 127.0.0.1, port 0). */
import assert from "node:assert/strict";
import { serve } from "../../stack/http/server.ts";
import { parseResponse } from "./memory_conn.ts";

const encoder = new TextEncoder();

function start(handler: (req: Request) => Response | Promise<Response>) {
  return serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, handler);
}

/** Sends `raw` on a fresh connection and reads until the server closes. */
async function exchange(
  port: number,
  raw: string | Uint8Array,
  closeAfter = true,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(typeof raw === "string" ? encoder.encode(raw) : raw);
    if (!closeAfter) await conn.closeWrite();
    let text = "";
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += String.fromCharCode(...buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("kernel: pipelined requests in one segment are answered in order", async () => {
  const server = start((req) => new Response(new URL(req.url).pathname));
  try {
    const raw = ["/a", "/b", "/c"].map((p) => `GET ${p} HTTP/1.1\r\nHost: h\r\n\r\n`).join("") +
      "GET /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let text = await exchange(server.addr.port, raw);
    const bodies = [];
    while (text.length > 0) {
      const res = parseResponse(text, false, true)!;
      bodies.push(res.body);
      text = text.slice(res.raw.length);
    }
    assert.deepEqual(bodies, ["/a", "/b", "/c", "/d"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("kernel: answers 413 before reading a large body over a real socket", async () => {
  const server = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: () => {},
    limits: { maxBodyBytes: 1000 },
  }, () => new Response("never"));
  try {
    // The body follows the head in the same write, so it sits unread in the server's socket.
    const raw = encoder.encode(
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50000\r\n\r\n${"x".repeat(50000)}`,
    );
    const text = await exchange(server.addr.port, raw, false);
    const res = parseResponse(text, false, true)!;
    assert.equal(res.status, 413);
    assert.equal(res.get("connection"), "close");
  } finally {
    await server.shutdown();
  }
});

Deno.test("kernel: fetch reads a streamed chunked response and posts a streamed body", async () => {
  const server = start(async (req) => {
    if (req.method === "POST") return new Response(`got ${(await req.bytes()).length}`);
    let n = 0;
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await null;
          if (n++ === 3) controller.close();
          else controller.enqueue(encoder.encode(`part${n};`));
        },
      }),
    );
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const res = await fetch(url);
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    assert.equal(await res.text(), "part1;part2;part3;");
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(70_000));
        controller.enqueue(new Uint8Array(30_000));
        controller.close();
      },
    });
    const posted = await fetch(url, { method: "POST", body });
    assert.equal(await posted.text(), "got 100000");
  } finally {
    await server.shutdown();
  }
});

Deno.test("kernel: shutdown waits for an in-flight request over a real socket", async () => {
  let release: (() => void) | undefined;
  let entered: (() => void) | undefined;
  const inside = new Promise<void>((r) => (entered = r));
  const server = start(async () => {
    entered!();
    await new Promise<void>((r) => (release = r));
    return new Response("done");
  });
  const pending = fetch(`http://127.0.0.1:${server.addr.port}/`);
  await inside;
  const finished = server.shutdown();
  release!();
  const res = await pending;
  assert.equal(await res.text(), "done");
  assert.equal(res.headers.get("connection"), "close");
  await finished;
});
