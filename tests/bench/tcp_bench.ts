/**
 * TCP benchmarks: bulk throughput between two stacks over the in-memory link beside Deno's kernel TCP on
 * 127.0.0.1 measured in the same run, in alternating rounds; throughput under loss in simulated time beside the Mathis formula;
 * and memory per idle established connection at 10,000 connections. Each measurement is bounded to a few
 * seconds of wall time.
 *
 * @module
 */

import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpEvent } from "../../stack/layer/tcp/events.ts";
import { ADDR_B, Sim, type SimOptions } from "../tcp/sim.ts";

const WALL_LIMIT_MS = 3000;
/** Rounds of the bulk comparison; each measures every variant once, so noise hits them alike. */
const BULK_ROUNDS = 3;
const BULK_SLICE_MS = 700;
const WARM_UP_MS = 300;
/** Both the stack's app and the kernel client write in pieces of this size, and read into as much. */
const WRITE_SIZE = 1 << 16;

/** Runs the TCP benchmarks. */
export async function benchTcp(): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  Object.assign(out, await bulkComparison());
  for (const loss of [0, 0.01, 0.05, 0.1]) {
    const { mbps, mathis } = lossyThroughput(loss);
    const label = `${loss * 100} % loss, RTT 20 ms`;
    out[`simulated ${label} (Mbit/s)`] = mbps;
    if (loss > 0) {
      out[`Mathis bound ${label} (Mbit/s)`] = mathis;
      out[`ratio to Mathis, ${loss * 100} % loss`] = mbps / mathis;
    }
  }
  Object.assign(out, idleMemory(10_000));
  return out;
}

/**
 * Bulk throughput of two stacks over the in-memory link beside Deno.connect over kernel loopback. The
 * machine may be shared, so the variants take turns in `BULK_ROUNDS` rounds, each ratio is taken within
 * one round, and medians are reported. Loopback skips checksums (the kernel marks its segments
 * CHECKSUM_PARTIAL), so the like-for-like stack figure is the one with checksum offload; the one that
 * computes and verifies every checksum is beside it.
 */
async function bulkComparison(): Promise<Record<string, number | string>> {
  const variants: [string, () => number | Promise<number | undefined>][] = [
    ["stack bulk, MTU 1500, checksum offload (Gbit/s)", () => stackBulk(1500, true)],
    ["stack bulk, MTU 1500, checksums computed (Gbit/s)", () => stackBulk(1500, false)],
    ["stack bulk, MTU 9000, checksum offload (Gbit/s)", () => stackBulk(9000, true)],
    ["Deno.connect bulk on 127.0.0.1 (Gbit/s)", kernelBulk],
    ["Deno.connect bulk on lo, MTU 1500, no TSO/GSO/GRO (Gbit/s)", kernelPlainBulk],
    ["stack bulk, MTU 1500, checksum offload and TSO (Gbit/s)", () => stackBulk(1500, true, true)],
  ];
  const runs: number[][] = variants.map(() => []);
  for (let round = 0; round < BULK_ROUNDS; round++) {
    for (let v = 0; v < variants.length; v++) runs[v].push((await variants[v][1]()) ?? NaN);
  }
  const out: Record<string, number | string> = {};
  variants.forEach(([label], v) => out[label] = median(runs[v]));
  const ratio = (v: number, k: number) => median(runs[v].map((x, round) => x / runs[k][round]));
  out["ratio stack/kernel, MTU 1500, checksum offload (median of rounds)"] = ratio(0, 3);
  out["ratio stack/kernel, MTU 1500, checksums computed"] = ratio(1, 3);
  out["ratio stack/kernel, MTU 9000, checksum offload"] = ratio(2, 3);
  // Like for like with kernel loopback, which moves 64 KiB GSO segments at any MTU.
  out["ratio stack/kernel, MTU 1500, checksum offload and TSO"] = ratio(5, 3);
  if (runs[4].every(Number.isFinite)) {
    out["ratio stack/plain kernel, MTU 1500, both without segmentation offload"] = ratio(0, 4);
  } else {
    out[variants[4][0]] = "skipped (needs root, unshare, ip and ethtool)";
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A listener on B that reads and drops everything each accepted connection receives. */
function listenDiscard(sim: Sim, port: number, readSize: number): { readonly received: number } {
  const sink = new Uint8Array(readSize);
  const counter = { received: 0 };
  sim.tcpB.listen(port, {
    handler: {
      receive: (event: TcpEvent) => {
        if (event.kind !== "open") return;
        const conn: TcpConnection = event.listener.accept()!;
        conn.handler = {
          receive: () => {
            for (let n = conn.read(sink); n > 0; n = conn.read(sink)) counter.received += n;
          },
        };
      },
    },
  });
  return counter;
}

/**
 * One-way bulk transfer between two stacks in wall time, after a warm-up; Gbit/s of payload. Buffers
 * are the defaults, as the kernel's are: the link has no delay to fill, and 4 MiB rings only push the
 * bytes out of the CPU's cache between the app's write and the copy into a frame (about 20 % slower).
 * With `tso` the link does segmentation offload and carries 64 KiB frames whole (`MemoryPairOptions`).
 */
function stackBulk(mtu: number, checksumOffload: boolean, tso = false): number {
  const sim = new Sim({ seed: 1, mtu, checksumOffload, tso });
  const chunk = new Uint8Array(WRITE_SIZE);
  const discard = listenDiscard(sim, 5001, WRITE_SIZE);
  const client = sim.tcpA.connect(ADDR_B, 5001, {
    handler: {
      receive: () => {
        while (client.writable > 0) client.write(chunk, 0, Math.min(chunk.length, client.writable));
      },
    },
  });
  sim.run(() => client.state === 4, 10_000);
  const warmEnd = performance.now() + WARM_UP_MS;
  sim.run(() => performance.now() > warmEnd, 1e12, 100_000_000);
  const start = performance.now();
  const from = discard.received;
  sim.run(() => performance.now() - start > BULK_SLICE_MS, 1e12, 100_000_000);
  const seconds = (performance.now() - start) / 1000;
  return ((discard.received - from) * 8) / seconds / 1e9;
}

/**
 * Deno's kernel TCP over the loopback of a private network namespace with MTU 1500 and TSO, GSO and GRO
 * off, in a child process; Gbit/s, or undefined when that cannot be set up. Plain 127.0.0.1 has a
 * 65536-byte MTU and moves 64 KiB segments even at MTU 1500 (GSO), so it pays its per-segment costs
 * once per 64 KiB, where a stack without segmentation offload pays them every 1448 bytes. The namespace
 * goes away with the child.
 */
async function kernelPlainBulk(): Promise<number | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const script =
    "ip link set lo up mtu 1500 && ethtool -K lo tso off gso off gro off >/dev/null && " +
    'exec "$0" run -A "$1" kernel';
  try {
    const out = await new Deno.Command("unshare", {
      args: ["-n", "sh", "-c", script, Deno.execPath(), new URL(import.meta.url).pathname],
      stdout: "piped",
      stderr: "null",
    }).output();
    const gbps = out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
    return Number.isFinite(gbps) ? gbps : undefined;
  } catch {
    return undefined;
  }
}

/** Deno's kernel TCP over loopback, written and read in `WRITE_SIZE` pieces after a warm-up; Gbit/s. */
async function kernelBulk(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let received = 0;
  const server = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(WRITE_SIZE);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      received += n;
    }
    conn.close();
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunk = new Uint8Array(WRITE_SIZE);
  const warmEnd = performance.now() + WARM_UP_MS;
  while (performance.now() < warmEnd) await client.write(chunk);
  const from = received;
  const start = performance.now();
  while (performance.now() - start < BULK_SLICE_MS) {
    for (let i = 0; i < 16; i++) await client.write(chunk);
  }
  const seconds = (performance.now() - start) / 1000;
  const bytes = received - from;
  client.close();
  await server;
  listener.close();
  return (bytes * 8) / seconds / 1e9;
}

/**
 * 8 MiB one way over a 10 ms one-way delay with random loss, in simulated time, beside the Mathis et al.
 * bound MSS/RTT × sqrt(3/2)/sqrt(p).
 */
function lossyThroughput(loss: number): { mbps: number; mathis: number } {
  const bytes = 8 << 20;
  const options: SimOptions = {
    seed: 42,
    impair: { aToB: { loss, delayMs: 10 }, bToA: { delayMs: 10 } },
    tcp: { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 },
  };
  const sim = new Sim(options);
  const chunk = new Uint8Array(1 << 16);
  const discard = listenDiscard(sim, 5002, 1 << 16);
  let sent = 0;
  const client = sim.tcpA.connect(ADDR_B, 5002, {
    handler: {
      receive: () => {
        while (sent < bytes && client.writable > 0) {
          sent += client.write(chunk, 0, Math.min(chunk.length, bytes - sent));
        }
      },
    },
  });
  sim.run(() => client.state === 4, 60_000);
  const start = sim.now;
  const wallStart = performance.now();
  sim.run(
    () => discard.received >= bytes || performance.now() - wallStart > WALL_LIMIT_MS,
    3_600_000,
    50_000_000,
  );
  const seconds = (sim.now - start) / 1000;
  const mss = client.info.mss;
  const rtt = 0.02;
  const mathis = loss > 0 ? ((mss * 8) / rtt) * Math.sqrt(1.5) / Math.sqrt(loss) / 1e6 : Infinity;
  return { mbps: (discard.received * 8) / seconds / 1e6, mathis };
}

/**
 * Memory per idle established connection (each end counted), default settings (256 KiB buffers, which
 * are allocated on first use).
 */
function idleMemory(count: number): Record<string, number> {
  const sim = new Sim({ seed: 3 });
  const accepted: TcpConnection[] = [];
  sim.tcpB.listen(5003, {
    backlog: count,
    handler: {
      receive: (event: TcpEvent) => {
        if (event.kind !== "open") return;
        for (let c = event.listener.accept(); c; c = event.listener.accept()) accepted.push(c);
      },
    },
  });
  gc();
  const before = Deno.memoryUsage();
  const clients: TcpConnection[] = [];
  for (let i = 0; i < count; i++) clients.push(sim.tcpA.connect(ADDR_B, 5003));
  sim.run(() => accepted.length === count && clients.every((c) => c.state === 4), 600_000);
  sim.run(() => sim.tcpA.pollAt(sim.now) === undefined && sim.tcpB.pollAt(sim.now) === undefined);
  gc();
  const after = Deno.memoryUsage();
  const ends = 2 * count;
  return {
    "idle connections (each end)": ends,
    "JS heap bytes per idle connection": (after.heapUsed - before.heapUsed) / ends,
    "heap + external bytes per idle connection":
      (after.heapUsed + after.external - before.heapUsed - before.external) / ends,
  };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

if (import.meta.main && Deno.args[0] === "kernel") {
  console.log(await kernelBulk()); // the child of kernelPlainBulk
} else if (import.meta.main) {
  const all = Deno.args[0] !== "bulk";
  const results = all ? await benchTcp() : await bulkComparison();
  for (const [key, value] of Object.entries(results)) console.log(key.padEnd(66), value);
}
