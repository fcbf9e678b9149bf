/**
 * Seeded fuzzing: valid requests mutated at random (byte flips, stray CR/LF/NUL/SP, cuts, split
 * points). Whatever arrives, the server answers with a well-formed response or closes, never
 * throws, never calls the error handler, and keeps serving new connections.
 */
import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { describeHandler, startServer } from "./fixture.ts";
import { parseResponse } from "./memory_conn.ts";

const SEEDS = 400;
const ALLOWED = new Set([200, 400, 404, 405, 408, 413, 414, 417, 431, 500, 501, 505]);
const STRAY = ["\r", "\n", "\r\n", "\x00", " ", "\t", ":", ";", ",", "0", "f", "\xff", "\x7f"];

const TEMPLATES = [
  "GET /path?q=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
  "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
  "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
  "PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
  "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
];

function mutate(rng: Rng, text: string): string {
  let s = text;
  const edits = 1 + rng.below(4);
  for (let e = 0; e < edits; e++) {
    const at = rng.below(s.length + 1);
    switch (rng.below(5)) {
      case 0: // flip one byte
        s = s.slice(0, at) + String.fromCharCode(rng.below(256)) + s.slice(at + 1);
        break;
      case 1: // insert a stray separator
        s = s.slice(0, at) + STRAY[rng.below(STRAY.length)] + s.slice(at);
        break;
      case 2: // delete a few bytes
        s = s.slice(0, at) + s.slice(at + 1 + rng.below(4));
        break;
      case 3: // duplicate a line
        {
          const lines = s.split("\r\n");
          const i = rng.below(lines.length);
          lines.splice(i, 0, lines[i]);
          s = lines.join("\r\n");
        }
        break;
      case 4: // cut the request short
        s = s.slice(0, at);
        break;
    }
  }
  return s;
}

Deno.test(`fuzz: ${SEEDS} mutated requests never break the server`, async () => {
  const errors: unknown[] = [];
  const { listener, clock, server } = startServer(describeHandler, {
    onError: (error) => {
      errors.push(error);
      return new Response("handler error", { status: 500 });
    },
  });
  const statuses = new Map<number, number>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rng = new Rng(seed);
    const wire = mutate(rng, TEMPLATES[rng.below(TEMPLATES.length)]);
    const client = listener.connect({ closeWrite: rng.below(2) === 0, direct: rng.below(2) === 0 });
    const send = (text: string) => client.send(text);
    // Deliver in up to three pieces at random split points, then end the client's side.
    let rest = wire;
    for (let piece = 0; piece < 2 && rest.length > 1; piece++) {
      const cut = 1 + rng.below(rest.length - 1);
      send(rest.slice(0, cut));
      rest = rest.slice(cut);
      await clock.advance(0);
    }
    if (rest.length > 0) send(rest);
    client.end();
    await clock.advance(0);
    // Only a request the server still waits on needs its timeouts to run out.
    if (!client.closedByServer) await clock.advance(60_000);
    let text = (await client.closed()).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
    while (text.length > 0) {
      let res = parseResponse(text, /^HEAD /.test(wire), true);
      // An error sent before the request line was whole cannot know the request was HEAD.
      if (res && res.status >= 400 && !/^(HTTP\/1\.1 |$)/.test(text.slice(res.raw.length))) {
        res = parseResponse(text, false, true);
      }
      assert.ok(res, `seed ${seed}: unparsable output ${JSON.stringify(text)}`);
      assert.ok(ALLOWED.has(res.status), `seed ${seed}: status ${res.status}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      text = text.slice(res.raw.length);
    }
  }
  // Handler errors would mean a bad request reached the handler in a broken state.
  assert.deepEqual(errors.filter((e) => !(e instanceof TypeError)), []);
  assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 0, "both outcomes seen");
  const client = listener.connect();
  client.send("GET /still-alive HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal((await client.response()).body, "GET /still-alive ");
  await server.shutdown();
});
