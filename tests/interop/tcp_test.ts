/**
 * The stack's TCP (the endpoint's event interface, in this process) against Linux in a throwaway
 * namespace, over a TAP and over AF_PACKET: nc echoes 1 MiB through the stack, socat pushes 8 MiB into
 * a discard port, and the stack sends 1 MiB to nc listening on Linux.
 */

import assert from "node:assert/strict";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpHandler } from "../../stack/layer/tcp/events.ts";
import { Rng } from "../../stack/util/rng.ts";
import { createLink, LINKS, linuxAddress } from "./setup.ts";
import {
  acceptAll,
  killChild,
  serveEcho,
  startTcpStack,
  watchStderr,
  withDeadline,
} from "./tcp_fixture.ts";

const scratch = new Uint8Array(1 << 16);

/** Echo (port 7) and discard (port 9) servers; `finished` resolves when a discard peer has closed. */
function serve(tcp: TcpEndpoint): { discarded: () => number; finished: Promise<void> } {
  let discarded = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => finish = resolve);
  serveEcho(tcp, 7);
  acceptAll(tcp, 9, (c: TcpConnection) => {
    for (let n = c.read(scratch); n > 0; n = c.read(scratch)) discarded += n;
    if (c.finReceived && !c.writeClosed) {
      c.closeWrite();
      finish();
    }
  });
  return { discarded: () => discarded, finished };
}

function randomFile(path: string, size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  new Rng(seed).fill(data);
  Deno.writeFileSync(path, data);
  return data;
}

for (const kind of LINKS) {
  Deno.test(`interop ${kind}: nc echoes 1 MiB through the stack's TCP`, async () => {
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    serve(tcp);
    const dir = await Deno.makeTempDir();
    try {
      const data = randomFile(`${dir}/in`, 1 << 20, 1);
      const r = await link.ns.exec("sh", [
        "-c",
        `timeout 30 nc -N ${link.stackIp} 7 < ${dir}/in > ${dir}/out`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const echoed = await Deno.readFile(`${dir}/out`);
      assert.equal(echoed.length, data.length);
      assert.ok(echoed.every((b, i) => b === data[i]), "the echoed bytes differ");
    } finally {
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`interop ${kind}: socat pushes 8 MiB into the stack's discard port`, async () => {
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    const server = serve(tcp);
    const dir = await Deno.makeTempDir();
    try {
      randomFile(`${dir}/in`, 8 << 20, 2);
      const r = await link.ns.exec("timeout", [
        "60",
        "socat",
        "-u",
        `OPEN:${dir}/in`,
        `TCP:${link.stackIp}:9,shut-down`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      // socat ends once the kernel took the last byte; the stack sees the FIN after all of them.
      await withDeadline(server.finished, 10_000, "the stack never saw socat's FIN");
      assert.equal(server.discarded(), 8 << 20);
      if (kind === "tap-offload") {
        // Linux used the offloads: segments merged beyond the MTU, checksums left to it.
        assert.ok(stack.nic.stats.rxSegmentsMerged > 0, JSON.stringify(stack.nic.stats));
        assert.ok(stack.nic.stats.txChecksumOffloaded > 0, JSON.stringify(stack.nic.stats));
      }
    } finally {
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`interop ${kind}: the stack sends 1 MiB to nc listening on Linux`, async () => {
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    const dir = await Deno.makeTempDir();
    const listener = link.ns.spawn("sh", ["-c", `timeout 30 nc -n -v -l -N -p 5001 > ${dir}/out`]);
    try {
      const listening = watchStderr(listener, /Listening/).seen;
      await withDeadline(listening, 10_000, "nc did not start listening");
      const data = new Uint8Array(1 << 20);
      new Rng(3).fill(data);
      let sent = 0;
      const sender: TcpHandler = {
        receive(event) {
          if (event.kind !== "in") return;
          const c = event.conn;
          while (sent < data.length && c.writable > 0) {
            sent += c.write(data, sent, Math.min(c.writable, data.length - sent));
          }
          if (sent === data.length && !c.writeClosed) c.closeWrite();
        },
      };
      tcp.connect(linuxAddress(link), 5001, { handler: sender });
      stack.runtime.wake();
      const status = await listener.status;
      assert.equal(status.code, 0);
      const got = await Deno.readFile(`${dir}/out`);
      assert.equal(got.length, data.length);
      assert.ok(got.every((b, i) => b === data[i]), "the received bytes differ");
    } finally {
      await killChild(listener);
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
