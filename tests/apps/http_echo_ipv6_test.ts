/**
 * http_echo on our stack serves IPv6 as well as IPv4: over `--nic memory` the in-process peer connects
 * to the app's link-local address once DAD has passed, the echo comes back byte-exact, and the counters
 * include TCP over IPv6.
 */

import assert from "node:assert/strict";
import { type Link } from "../../apps/lib/link.ts";
import { linkStats, startEcho } from "../../apps/http_echo.ts";
import { attachTcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import { type TcpConn, TcpSockets } from "../../stack/socket/tcp.ts";
import { Rng } from "../../stack/util/rng.ts";

/** Sends `request` and reads until the server closes. */
async function exchange(conn: TcpConn, request: Uint8Array): Promise<Uint8Array> {
  await conn.write(request);
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("http_echo on our stack: reached over IPv6 at its link-local address, echo byte-exact", async () => {
  let link: Link | undefined;
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  // The app prints its lines with console.log; they are kept for the checks below.
  const server = await startEcho(["--nic", "memory", "--ip", "10.0.0.2/24"], {
    onLink: (l) => (link = l),
  }).catch((error) => {
    console.log = log;
    throw error;
  });
  try {
    assert.ok(server !== undefined && link !== undefined && link.peer !== undefined);
    const app = link.iface.ipv6!;
    const peer = link.peer.iface.ipv6!;
    // Both ends need a link-local address past DAD: a random delay of up to 1 s, then one RetransTimer
    // (1 s, RFC 4862 §5.4.2, RFC 4861 §10) of real time; the loop is bounded.
    for (
      let i = 0;
      i < 100 && (app.config.linkLocal === undefined || peer.config.linkLocal === undefined);
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      peer.config.linkLocal !== undefined,
      "the peer's link-local address never passed DAD",
    );
    const target = app.config.linkLocal;
    assert.ok(target !== undefined, "the app's link-local address never passed DAD");
    const tcp6 = attachTcp6(link.peer.iface, { rng: new Rng(7) });
    const client = new TcpSockets(tcp6.endpoint, link.runtime, {
      resolve: tcp6.handles.resolver(),
      addresses: tcp6.handles.codec(),
    });
    const body = new Uint8Array(3000);
    new Rng(42).fill(body);
    const head = new TextEncoder().encode(
      `POST /echo HTTP/1.1\r\nHost: x\r\ncontent-type: application/x-test\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n`,
    );
    const conn = await client.connect({ hostname: `[${target}]`, port: 80 });
    assert.match(conn.remoteAddr.hostname, /^fe80:/);
    const reply = await exchange(conn, concat(head, body));
    const text = new TextDecoder("latin1").decode(reply);
    const split = text.indexOf("\r\n\r\n");
    assert.match(text.slice(0, split), /^HTTP\/1\.1 200 /);
    assert.match(text.slice(0, split), /content-type: application\/x-test/i);
    assert.deepEqual(reply.subarray(split + 4), body);
    // The address was announced once it was preferred (the watcher looks every 250 ms).
    for (let i = 0; i < 20 && !lines.some((l) => l.includes(`${target}`)); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      lines.includes(`ipv6: address ${target}/64 (link-local)`),
      `no announcement in ${JSON.stringify(lines)}`,
    );
    // The counters printed at exit include TCP over IPv6, which carried this exchange.
    const stats = linkStats(link);
    assert.ok(stats.tcp6.rxSegments >= 3 && stats.tcp6.txDataSegments >= 1, JSON.stringify(stats));
    assert.ok(stats.tcp6Adapter.rxSegments >= 3, JSON.stringify(stats.tcp6Adapter));
    tcp6.detach();
  } finally {
    await server?.shutdown();
    console.log = log;
  }
});
