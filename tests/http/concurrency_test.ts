/** Many connections at once: each gets its own answers, in its own order. */
import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { startServer } from "./fixture.ts";
import { settle } from "./virtual_clock.ts";

Deno.test("50 connections x 20 pipelined requests, interleaved, answered in order", async () => {
  const rng = new Rng(7);
  // Handlers finish in a shuffled order: each waits for a number of event-loop turns.
  const { listener, server } = startServer(async (req) => {
    const url = new URL(req.url);
    const turns = Number(url.searchParams.get("turns"));
    for (let i = 0; i < turns; i++) await settle();
    const body = req.body ? await req.text() : "";
    return new Response(`${url.pathname}:${body}`);
  });
  const clients = Array.from({ length: 50 }, (_, c) => {
    const client = listener.connect({ direct: c % 2 === 0 });
    let wire = "";
    const expected: string[] = [];
    for (let r = 0; r < 20; r++) {
      const path = `/c${c}/r${r}`;
      const turns = rng.below(3);
      if (rng.below(2) === 0) {
        wire += `GET ${path}?turns=${turns} HTTP/1.1\r\nHost: h\r\n\r\n`;
        expected.push(`${path}:`);
      } else {
        const body = `body-${c}-${r}`;
        wire +=
          `POST ${path}?turns=${turns} HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
        expected.push(`${path}:${body}`);
      }
    }
    return { client, wire, expected };
  });
  // Feed every connection in random slices, round-robin, so their bytes interleave.
  let pending = clients.length;
  while (pending > 0) {
    pending = 0;
    for (const c of clients) {
      if (c.wire.length === 0) continue;
      const n = 1 + rng.below(Math.min(c.wire.length, 200));
      c.client.send(c.wire.slice(0, n));
      c.wire = c.wire.slice(n);
      if (c.wire.length > 0) pending++;
    }
    await settle();
  }
  for (const { client, expected } of clients) {
    for (const body of expected) assert.equal((await client.response()).body, body);
  }
  await server.shutdown();
});
