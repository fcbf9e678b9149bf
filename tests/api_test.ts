/**
 * The public API from `mod.ts`, used the way the README shows: a link, `serve` on the stack's TCP, and a
 * client on the in-process peer stack at the other end of the in-memory cable.
 */

import assert from "node:assert/strict";
import { formatIpv4, openLink, runtimeClock, serve, tcpFor } from "../mod.ts";

Deno.test("mod.ts: serve on a memory link answers a client on the peer stack", async () => {
  const link = await openLink(["--nic", "memory"], { report: () => {} });
  try {
    const server = serve(
      { listener: link.tcp.listen({ port: 80 }), clock: runtimeClock(link.runtime), onListen() {} },
      (req) => new Response(`hello ${new URL(req.url).pathname}`),
    );
    const peer = link.peer;
    assert.ok(peer, "a memory link has a peer");
    const client = tcpFor({ iface: peer.iface, runtime: link.runtime });
    const conn = await client.connect({
      hostname: formatIpv4(link.config.addresses[0].address),
      port: 80,
    });
    await conn.write(
      new TextEncoder().encode("GET /api HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith("hello /api"), text);
    await server.shutdown();
  } finally {
    await link.close();
  }
});
