/**
 * The stack's TCP (the endpoint's event interface, in this process) against Linux in a throwaway
 * namespace, over a TAP and over AF_PACKET: nc echoes 1 MiB through the stack, socat pushes 8 MiB into
 * a discard port, and the stack sends 1 MiB to nc listening on Linux.
 */

import assert from "node:assert/strict";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpEvent, TcpHandler } from "../../stack/layer/tcp/events.ts";
import { Rng } from "../../stack/util/rng.ts";
import { createLink, LINKS, linuxAddress, type RunningStack, startStack } from "./setup.ts";

const scratch = new Uint8Array(1 << 16);

/** Echo (port 7) and discard (port 9) servers; `finished` resolves when a discard peer has closed. */
function serve(tcp: TcpEndpoint): { discarded: () => number; finished: Promise<void> } {
  let discarded = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => finish = resolve);
  const echo: TcpHandler = {
    receive(event: TcpEvent) {
      if (event.kind === "open") {
        for (let c = event.listener.accept(); c; c = event.listener.accept()) {
          c.handler = echo;
          pumpEcho(c);
        }
      } else if (event.kind === "in") pumpEcho(event.conn);
    },
  };
  const discard: TcpHandler = {
    receive(event: TcpEvent) {
      if (event.kind === "open") {
        for (let c = event.listener.accept(); c; c = event.listener.accept()) {
          c.handler = discard;
          drain(c);
        }
      } else if (event.kind === "in") drain(event.conn);
    },
  };
  const drain = (c: TcpConnection) => {
    for (let n = c.read(scratch); n > 0; n = c.read(scratch)) discarded += n;
    if (c.finReceived && !c.writeClosed) {
      c.closeWrite();
      finish();
    }
  };
  tcp.listen(7, { handler: echo });
  tcp.listen(9, { handler: discard });
  return { discarded: () => discarded, finished };
}

/** Moves what fits from the receive side to the send side; closes once the peer has and all is out. */
function pumpEcho(c: TcpConnection): void {
  for (;;) {
    const n = Math.min(c.readable, c.writable, scratch.length);
    if (n === 0) break;
    const read = c.read(scratch, 0, n);
    c.write(scratch, 0, read);
  }
  if (c.finReceived && c.readable === 0 && !c.writeClosed) c.closeWrite();
}

/** Rejects with `message` unless `promise` settles within `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `nc -n -v -l` reports that it listens (on stderr), reading its stderr to the end. */
async function listening(child: Deno.ChildProcess): Promise<void> {
  let text = "";
  let ready: () => void = () => {};
  const seen = new Promise<void>((resolve) => ready = resolve);
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (/Listening/i.test(text)) ready();
    }
  })();
  await seen;
}

function randomFile(path: string, size: number, seed: number): Uint8Array {
  const data = new Uint8Array(size);
  new Rng(seed).fill(data);
  Deno.writeFileSync(path, data);
  return data;
}

function startTcpStack(link: Parameters<typeof startStack>[0]): {
  stack: RunningStack;
  tcp: TcpEndpoint;
} {
  const stack = startStack(link);
  // With offloads the NIC finishes checksums from pseudo-header sums and vouches for received ones.
  const tcp = new TcpEndpoint({
    rng: new Rng(11),
    checksum: stack.nic.caps.txChecksumOffload ? "pseudo" : "full",
    verifyChecksum: !stack.nic.caps.rxChecksumVerified,
  });
  stack.iface.attach(6, tcp);
  return { stack, tcp };
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
      await withDeadline(listening(listener), 10_000, "nc did not start listening");
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
      try {
        listener.kill();
      } catch {
        // It has exited.
      }
      await listener.status;
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
