/**
 * TCP bulk throughput between Linux and the stack over a real link (TAP, TAP with offloads, AF_PACKET),
 * and between two Linux namespaces over a veth as the reference, each bounded to a couple of seconds.
 * Used by tests/bench/nic_bench.ts.
 *
 * @module
 */

import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpHandler } from "../../stack/layer/tcp/events.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Netns, run } from "../nic/netns.ts";
import { TapNic } from "../../stack/nic/tap.ts";
import { createLink, inNamespace, type LinkKind, linuxAddress, startStack } from "./setup.ts";

const SECONDS = 2;
const scratch = new Uint8Array(1 << 16);

/** Mbit/s of a socat stream from Linux into the stack's discard port for about two seconds. */
export async function linuxToStack(kind: LinkKind): Promise<number> {
  const link = await createLink(kind);
  const stack = startStack(link);
  try {
    const tcp = new TcpEndpoint({
      rng: new Rng(5),
      checksum: stack.nic.caps.txChecksumOffload ? "pseudo" : "full",
      verifyChecksum: !stack.nic.caps.rxChecksumVerified,
    });
    stack.iface.attach(6, tcp);
    let bytes = 0;
    let first = 0;
    let last = 0;
    const discard: TcpHandler = {
      receive(event) {
        if (event.kind === "open") {
          for (let c = event.listener.accept(); c; c = event.listener.accept()) c.handler = discard;
          return;
        }
        if (event.kind !== "in") return;
        const c = event.conn;
        for (let n = c.read(scratch); n > 0; n = c.read(scratch)) {
          if (bytes === 0) first = performance.now();
          bytes += n;
          last = performance.now();
        }
        if (c.finReceived && !c.writeClosed) c.closeWrite();
      },
    };
    tcp.listen(9, { handler: discard });
    await link.ns.exec("timeout", [
      `${SECONDS}`,
      "socat",
      "-u",
      "OPEN:/dev/zero",
      `TCP:${link.stackIp}:9`,
    ]);
    return last > first ? (bytes * 8) / ((last - first) / 1000) / 1e6 : 0;
  } finally {
    await stack.stop();
    await link.close();
  }
}

/**
 * Mbit/s of the stack writing to `nc -l` on Linux for about two seconds; `tso` (a `tap-offload` link
 * only) opens the TAP with segmentation offload and lets TCP use it.
 */
export async function stackToLinux(kind: LinkKind, tso = false): Promise<number> {
  const link = await createLink(kind);
  const stack = tso
    ? startStack(
      link,
      inNamespace(link.ns.name, () => new TapNic(link.stackIf, { offload: true, tso })),
    )
    : startStack(link);
  const sink = link.ns.spawn("sh", [
    "-c",
    `timeout ${SECONDS + 3} nc -n -v -l -p 5001 > /dev/null`,
  ]);
  try {
    const tcp = new TcpEndpoint({
      rng: new Rng(6),
      checksum: stack.nic.caps.txChecksumOffload ? "pseudo" : "full",
      verifyChecksum: !stack.nic.caps.rxChecksumVerified,
      tsoMaxBytes: stack.nic.caps.tsoMaxBytes,
    });
    stack.iface.attach(6, tcp);
    await listening(sink);
    const data = new Uint8Array(1 << 16);
    let written = 0;
    let start = 0;
    let stopAt = Infinity;
    const sender: TcpHandler = {
      receive(event) {
        if (event.kind !== "in") return;
        const c = event.conn;
        if (start === 0) {
          start = performance.now();
          stopAt = start + SECONDS * 1000;
        }
        if (performance.now() >= stopAt) {
          if (!c.writeClosed) c.closeWrite();
          return;
        }
        while (c.writable > 0) written += c.write(data, 0, Math.min(c.writable, data.length));
      },
    };
    const conn: TcpConnection = tcp.connect(linuxAddress(link), 5001, { handler: sender });
    stack.runtime.wake();
    await sink.status;
    const acked = written - conn.unacknowledged;
    return start > 0 ? (acked * 8) / ((performance.now() - start) / 1000) / 1e6 : 0;
  } finally {
    try {
      sink.kill();
    } catch {
      // It has exited.
    }
    await sink.status;
    await stack.stop();
    await link.close();
  }
}

/** Mbit/s of socat between two namespaces over a veth, with Linux's default offloads. */
export async function linuxToLinux(): Promise<number> {
  const a = await Netns.create("nl");
  const b = await Netns.create("nl");
  const ifA = `${a.name}x`.slice(-15);
  const ifB = `${b.name}y`.slice(-15);
  try {
    await run("ip", [
      "link",
      "add",
      ifA,
      "netns",
      a.name,
      "type",
      "veth",
      "peer",
      "name",
      ifB,
      "netns",
      b.name,
    ]);
    await a.ip("addr", "add", "10.79.9.1/24", "dev", ifA);
    await b.ip("addr", "add", "10.79.9.2/24", "dev", ifB);
    await a.ip("link", "set", ifA, "up");
    await b.ip("link", "set", ifB, "up");
    const sink = b.spawn("sh", ["-c", `timeout ${SECONDS + 3} nc -n -v -l -p 5001 > /dev/null`]);
    try {
      await listening(sink);
      const before = await b.counter(ifB, "rx_bytes");
      const start = performance.now();
      await a.exec("timeout", [
        `${SECONDS}`,
        "socat",
        "-u",
        "OPEN:/dev/zero",
        "TCP:10.79.9.2:5001",
      ]);
      const seconds = (performance.now() - start) / 1000;
      return ((await b.counter(ifB, "rx_bytes")) - before) * 8 / seconds / 1e6;
    } finally {
      try {
        sink.kill();
      } catch {
        // It has exited.
      }
      await sink.status;
    }
  } finally {
    await a.close();
    await b.close();
  }
}

/** Resolves once `nc -n -v -l` says it listens; its stderr is read to the end meanwhile. */
async function listening(child: Deno.ChildProcess): Promise<void> {
  let text = "";
  let ready: () => void = () => {};
  const seen = new Promise<void>((resolve) => ready = resolve);
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (/Listening/i.test(text)) ready();
    }
    ready();
  })();
  await seen;
}
