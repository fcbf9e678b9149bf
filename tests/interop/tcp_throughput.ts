/**
 * TCP bulk throughput between Linux and the stack over a real link (a TAP with or without offloads,
 * AF_PACKET), and between two Linux namespaces over a veth as the reference, each bounded to a
 * couple of seconds. Used by tests/bench/tap_tcp_bench.ts and tests/bench/nic_bench.ts.
 *
 * Linux's side is socat with 256 KiB reads and writes (iperf3 uses 128 KiB): with socat's default 8
 * KiB the sending process itself was the limit (Linux→Linux over a veth 2.5 Gbit/s with 8 KiB, 5.0
 * with 64 KiB, on 2 loaded vCPUs), and the figure measured socat, not the link.
 *
 * @module
 */

import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpHandler } from "../../stack/layer/tcp/events.ts";
import type { Nic } from "../../stack/nic/nic.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Netns, run } from "../nic/netns.ts";
import { TapNic, type TapOptions } from "../../stack/nic/tap.ts";
import {
  createLink,
  inNamespace,
  type Link,
  type LinkKind,
  linuxAddress,
  startStack,
} from "./setup.ts";

const SECONDS = 2;
/** socat's read and write size on the Linux side. */
const SOCAT_BUFFER = `${256 << 10}`;
const scratch = new Uint8Array(1 << 16);

/** Where a throughput run goes: a link kind, and for a TAP the options to open it with. */
export interface ThroughputLink {
  kind: LinkKind;
  /** TAP options (default: the link kind's, see tests/interop/setup.ts `openLinkNic`). */
  tap?: TapOptions;
}

/** Mbit/s of a socat stream from Linux into the stack's discard port for about two seconds. */
export async function linuxToStack(on: LinkKind | ThroughputLink): Promise<number> {
  const { kind, tap } = typeof on === "string" ? { kind: on, tap: undefined } : on;
  const link = await createLink(kind);
  const stack = startStack(link, openNic(link, tap));
  try {
    const tcp = new TcpEndpoint({
      rng: new Rng(5),
      checksum: stack.nic.caps.txChecksumOffload ? "pseudo" : "full",
      verifyChecksum: !stack.nic.caps.rxChecksumVerified,
      tsoMaxBytes: stack.nic.caps.tsoMaxBytes,
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
    await pushZeros(link.ns, `${link.stackIp}:9`);
    return last > first ? (bytes * 8) / ((last - first) / 1000) / 1e6 : 0;
  } finally {
    await stack.stop();
    await link.close();
  }
}

/** Mbit/s of the stack writing to a socat sink on Linux for about two seconds. */
export async function stackToLinux(on: LinkKind | ThroughputLink): Promise<number> {
  const { kind, tap } = typeof on === "string" ? { kind: on, tap: undefined } : on;
  const link = await createLink(kind);
  const stack = startStack(link, openNic(link, tap));
  const sink = linuxSink(link.ns);
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

/**
 * Mbit/s of socat between two namespaces over a veth, with Linux's default offloads (TSO, GSO, GRO:
 * 64 KiB units end to end) or, with `plain`, none of them at MTU 1500: every frame crosses on its
 * own, as on a TAP without offloads.
 */
export async function linuxToLinux(plain = false): Promise<number> {
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
    if (plain) {
      for (const [ns, name] of [[a, ifA], [b, ifB]] as const) {
        await ns.exec("ethtool", ["-K", name, "tso", "off", "gso", "off", "gro", "off"]);
        await ns.exec("ethtool", ["-K", name, "tx", "off", "rx", "off"]);
      }
    }
    await a.ip("link", "set", ifA, "up");
    await b.ip("link", "set", ifB, "up");
    return await socatPush(a, b, ifB, "10.79.9.2");
  } finally {
    await a.close();
    await b.close();
  }
}

/** Our NIC on `link`: the link kind's default, or a TAP opened with `tap` inside the namespace. */
function openNic(link: Link, tap: TapOptions | undefined): Nic | undefined {
  if (tap === undefined) return undefined;
  return inNamespace(link.ns.name, () => new TapNic(link.stackIf, tap));
}

/** A socat that takes one connection on port 5001 and discards it, bounded in time. */
/**
 * Linux → Linux: socat in `from` pushes zeros for SECONDS to a socat sink in `to` listening at
 * `address`; Mbit/s from the bytes `toIf` received.
 */
export async function socatPush(
  from: Netns,
  to: Netns,
  toIf: string,
  address: string,
): Promise<number> {
  const sink = linuxSink(to);
  try {
    await listening(sink);
    const before = await to.counter(toIf, "rx_bytes");
    const start = performance.now();
    await pushZeros(from, `${address}:5001`);
    const seconds = (performance.now() - start) / 1000;
    return ((await to.counter(toIf, "rx_bytes")) - before) * 8 / seconds / 1e6;
  } finally {
    try {
      sink.kill();
    } catch {
      // It has exited.
    }
    await sink.status;
  }
}

/** socat in `ns` sends zeros to TCP `target` (ADDRESS:PORT) for SECONDS. */
function pushZeros(ns: Netns, target: string): ReturnType<Netns["exec"]> {
  return ns.exec("timeout", [
    `${SECONDS}`,
    "socat",
    "-b",
    SOCAT_BUFFER,
    "-u",
    "OPEN:/dev/zero",
    `TCP:${target}`,
  ]);
}

function linuxSink(ns: Netns): Deno.ChildProcess {
  return ns.spawn("timeout", [
    `${SECONDS + 3}`,
    "socat",
    "-d",
    "-d",
    "-b",
    SOCAT_BUFFER,
    "-u",
    "TCP-LISTEN:5001,reuseaddr",
    "OPEN:/dev/null",
  ]);
}

/** Resolves once the sink says it listens; its stderr is read to the end meanwhile. */
async function listening(child: Deno.ChildProcess): Promise<void> {
  let text = "";
  let ready: () => void = () => {};
  const seen = new Promise<void>((resolve) => ready = resolve);
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (/listening/i.test(text)) ready();
    }
    ready();
  })();
  await seen;
}
