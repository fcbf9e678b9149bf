/**
 * The socket API (stack/socket/tcp.ts) as a client of Linux in a throwaway namespace: a connect to a
 * closed port rejects with `ConnectionRefused` (Linux answered RST), and a connection to a socat echo
 * server writes 4 MiB and reads it back byte-exact while Linux half-closes after our FIN.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, ConnectionRefused } from "../../stack/socket/tcp.ts";
import { APP_LINKS, createLink, startStack } from "./setup.ts";
import { killChild, TestStream, watchStderr, withDeadline } from "./tcp_fixture.ts";

for (const kind of APP_LINKS) {
  Deno.test(`interop ${kind}: the socket API's connect to a closed Linux port is refused`, async () => {
    const link = await createLink(kind);
    const stack = startStack(link);
    try {
      const attempt = connect(stack, { hostname: link.linuxIp, port: 9 });
      await assert.rejects(
        withDeadline(attempt, 10_000, "connect did not settle"),
        ConnectionRefused,
      );
    } finally {
      await stack.stop();
      await link.close();
    }
  });

  Deno.test(`interop ${kind}: the socket API echoes 4 MiB through socat on Linux`, async () => {
    const stream = new TestStream(4 << 20, 71);
    const link = await createLink(kind);
    const stack = startStack(link);
    const socat = link.ns.spawn("timeout", ["30", "socat", "-d", "-d", "TCP-LISTEN:7", "EXEC:cat"]);
    try {
      await withDeadline(watchStderr(socat, /listening on/).seen, 10_000, "socat did not listen");
      const conn = await withDeadline(
        connect(stack, { hostname: link.linuxIp, port: 7 }),
        10_000,
        "connect did not settle",
      );
      const writing = (async () => {
        for (let at = 0; at < stream.size;) {
          const { bytes, start, end } = stream.at(at);
          // write copies into the send buffer (or waits for room), so the block may change later.
          let written = start;
          while (written < end) written += await conn.write(bytes.subarray(written, end));
          at += end - start;
        }
        await conn.closeWrite();
      })();
      const hash = createHash("sha256");
      let total = 0;
      const buffer = new Uint8Array(1 << 16);
      for (;;) {
        const n = await withDeadline(conn.read(buffer), 20_000, `read stalled at ${total}`);
        if (n === null) break;
        hash.update(buffer.subarray(0, n));
        total += n;
      }
      await writing;
      conn.close();
      assert.equal(total, stream.size);
      assert.equal(hash.digest("hex"), stream.sha256());
    } finally {
      await killChild(socat);
      await stack.stop();
      await link.close();
    }
  });
}
