/**
 * 100 MiB through the stack's TCP against Linux in a throwaway namespace, each direction, checked with
 * SHA-256: socat sends a file into a hashing sink on the stack, and the stack streams to `nc -l` piped
 * into `sha256sum`. Over a TAP, a TAP with offloads, and a veth driven through AF_PACKET.
 */

import assert from "node:assert/strict";
import { createLink, LINKS } from "./setup.ts";
import {
  sendStreamToNc,
  serveHashingSink,
  startTcpStack,
  TestStream,
  withDeadline,
} from "./tcp_fixture.ts";

const SIZE = 100 << 20;

for (const kind of LINKS) {
  Deno.test(`interop ${kind}: socat sends 100 MiB to the stack, SHA-256 intact`, async () => {
    const stream = new TestStream(SIZE, 21);
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    const sink = serveHashingSink(tcp, 9);
    const dir = await Deno.makeTempDir();
    try {
      await stream.writeFile(`${dir}/in`);
      const r = await link.ns.exec("timeout", [
        "60",
        "socat",
        "-u",
        `OPEN:${dir}/in`,
        `TCP:${link.stackIp}:9,shut-down`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const digest = await withDeadline(sink.done, 10_000, "the stack never saw socat's FIN");
      assert.equal(sink.bytes(), SIZE);
      assert.equal(digest, stream.sha256());
    } finally {
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`interop ${kind}: the stack sends 100 MiB to nc, SHA-256 intact`, async () => {
    const stream = new TestStream(SIZE, 22);
    const link = await createLink(kind);
    const running = startTcpStack(link);
    try {
      await sendStreamToNc(link, running, stream, 60);
    } finally {
      await running.stack.stop();
      await link.close();
    }
  });
}
