/**
 * TCP behaviours seen from Linux sockets (a python3 client in a throwaway namespace) against the stack:
 * a connect to a closed port fails with ECONNREFUSED, the stack still sends after Linux's
 * `shutdown(SHUT_WR)`, and 1,000 connections open at once are each echoed.
 */

import assert from "node:assert/strict";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { APP_LINKS, createLink, type Link } from "./setup.ts";
import { acceptAll, serveEcho, startTcpStack, TestStream } from "./tcp_fixture.ts";

const CLIENT = new URL("./tcp_client.py", import.meta.url).pathname;

/** Runs the python3 client in the link's namespace, bounded by `timeout`. */
function client(link: Link, args: string[]) {
  return link.ns.exec("timeout", ["60", "/usr/bin/python3", CLIENT, ...args]);
}

for (const kind of APP_LINKS) {
  Deno.test(`interop ${kind}: Linux connecting to a closed port gets ECONNREFUSED`, async () => {
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    serveEcho(tcp, 7);
    try {
      const r = await client(link, ["refused", link.stackIp, "8"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stdout.trim(), "refused");
      assert.ok(tcp.stats.rstSent >= 1, JSON.stringify(tcp.stats));
      // The listening port next to it still works.
      const echo = await link.ns.exec("sh", [
        "-c",
        `printf ping | timeout 10 nc -N ${link.stackIp} 7`,
      ]);
      assert.equal(echo.stdout, "ping", echo.stderr);
    } finally {
      await stack.stop();
      await link.close();
    }
  });

  Deno.test(`interop ${kind}: after Linux shuts its write side the stack still sends`, async () => {
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    const reply = new TestStream(256 << 10, 31);
    const received = new Map<TcpConnection, { count: number; sent: number }>();
    const scratch = new Uint8Array(1 << 16);
    // Counts what Linux sends; only once its FIN is in does it answer: a count line, then 256 KiB.
    acceptAll(tcp, 13, (c) => {
      let s = received.get(c);
      if (s === undefined) received.set(c, s = { count: 0, sent: -1 });
      for (let n = c.read(scratch); n > 0; n = c.read(scratch)) s.count += n;
      if (!c.finReceived) return;
      if (s.sent < 0) {
        const line = new TextEncoder().encode(`got ${s.count}\n`);
        assert.equal(c.write(line), line.length);
        s.sent = 0;
      }
      while (s.sent < reply.size && c.writable > 0) {
        const { bytes, start, end } = reply.at(s.sent);
        const n = c.write(bytes, start, Math.min(end - start, c.writable));
        if (n === 0) break;
        s.sent += n;
      }
      if (s.sent === reply.size && !c.writeClosed) c.closeWrite();
    });
    try {
      const r = await client(link, ["halfclose", link.stackIp, "13", "100000"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const [line, rest] = r.stdout.trim().split("\n");
      assert.equal(line, "got 100000");
      assert.equal(rest, `${reply.size} ${reply.sha256()}`);
    } finally {
      await stack.stop();
      await link.close();
    }
  });
}

Deno.test("interop tap: 1,000 connections from Linux open at once, each echoed", async () => {
  const link = await createLink("tap");
  // Small buffers: a thousand connections at the default 256 KiB each would hold half a gigabyte.
  const { stack, tcp } = startTcpStack(link, {
    config: { recvBufferSize: 16 << 10, sendBufferSize: 16 << 10 },
  });
  serveEcho(tcp, 7);
  try {
    const r = await link.ns.exec("sh", [
      "-c",
      `ulimit -n 4096 && timeout 60 /usr/bin/python3 ${CLIENT} many ${link.stackIp} 7 1000`,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), "ok 1000");
    assert.ok(tcp.stats.passiveOpens >= 1000, JSON.stringify(tcp.stats));
  } finally {
    await stack.stop();
    await link.close();
  }
});
