/**
 * The echo app on our own stack: `--nic memory` puts a peer stack at 10.0.0.1 in this process, and
 * the test speaks HTTP to the app's server at 10.0.0.2 over the stack's TCP on both ends.
 */
import assert from "node:assert/strict";
import { startEcho } from "../../apps/http_echo.ts";
import { openLink } from "../../apps/lib/link.ts";
import { connect } from "../../stack/socket/tcp.ts";
import { parseResponse } from "./memory_conn.ts";

Deno.test("http_echo --nic memory: GET and a 300 KB echo over the stack's TCP", async () => {
  // The server opens its own link; the test's client runs on that link's peer stack.
  const log = console.log;
  console.log = () => {};
  const opened: Awaited<ReturnType<typeof openLink>>[] = [];
  const server = await startEcho(["--nic", "memory", "--port", "80"], {
    onLink: (link) => opened.push(link),
  });
  console.log = log;
  assert.ok(server);
  try {
    const link = opened[0];
    const peer = { iface: link.peer!.iface, runtime: link.runtime };
    const conn = await connect(peer, { hostname: "10.0.0.2", port: 80 });
    const body = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
    const head = `POST /echo HTTP/1.1\r\nHost: 10.0.0.2\r\nContent-Type: application/x-test\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`;
    const writer = conn.writable.getWriter();
    await writer.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n" + head));
    await writer.write(body);
    let text = "";
    const responses = [];
    const reader = conn.readable.getReader();
    while (responses.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      for (let i = 0; i < value.length; i += 8192) {
        text += String.fromCharCode(...value.subarray(i, i + 8192));
      }
      let res;
      while (responses.length < 2 && (res = parseResponse(text, false, false)) !== undefined) {
        responses.push(res);
        text = text.slice(res.raw.length);
      }
    }
    assert.equal(responses.length, 2);
    assert.match(responses[0].body, /^Hello from the Deno TCP\/IP stack!/);
    assert.equal(responses[1].get("content-type"), "application/x-test");
    assert.equal(responses[1].body.length, body.length);
    assert.ok([...responses[1].body].every((c, i) => c.charCodeAt(0) === body[i]));
    conn.close();
  } finally {
    await server.shutdown();
  }
});
