/**
 * Ping benchmark: ICMP echo and UDP echo round trips per second between two stacks over the in-memory
 * pair, polled back to back on the real clock (about 2 s in all), beside a reference measured in the
 * same run: UDP echo through the kernel's loopback with node:dgram.
 *
 * @module
 */

import dgram from "node:dgram";
import { Interface } from "../../stack/layer/interface.ts";
import { Runtime } from "../../stack/runtime.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr, parseIpv4 } from "../../stack/wire/address.ts";

const IP_B = parseIpv4("10.0.0.2");
const MS = 700;

function twoStacks() {
  const pair = new MemoryPair({ seed: 1 });
  // IPv4 only, so that the figures are the IPv4 path's alone.
  const v4 = { ipv6: false } as Record<string, unknown>;
  const a = new Interface(pair.a, {
    ...v4,
    addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
    rng: new Rng(1),
  });
  const b = new Interface(pair.b, {
    ...v4,
    addresses: [Ipv4Cidr.parse("10.0.0.2/24")],
    rng: new Rng(2),
  });
  return { pair, a, b };
}

/** Round trips per second of `send` until `done()` flips, polling both stacks back to back. */
function roundTrips(a: Interface, b: Interface, send: (seq: number) => void, got: () => number) {
  // Warm up: resolve ARP and let the JIT settle.
  for (let i = 0; i < 2000; i++) {
    const before = got();
    send(i);
    for (let j = 0; j < 10 && got() === before; j++) {
      const now = performance.now();
      a.poll(now);
      b.poll(now);
      a.poll(now);
    }
  }
  const start = performance.now();
  const first = got();
  let count = 0;
  while (performance.now() - start < MS) {
    for (let k = 0; k < 100; k++) {
      const before = got();
      send(count);
      for (let j = 0; j < 10 && got() === before; j++) {
        const now = performance.now();
        b.poll(now);
        a.poll(now);
      }
      count++;
    }
  }
  return { perSecond: (got() - first) / ((performance.now() - start) / 1000), sent: count };
}

function benchIcmp(): number {
  const { pair, a, b } = twoStacks();
  let replies = 0;
  a.icmp.onEchoReply = () => replies++;
  const result = roundTrips(
    a,
    b,
    (seq) => a.icmp.ping(IP_B, { ident: 1, seq, now: performance.now() }),
    () => replies,
  );
  pair.a.close();
  pair.b.close();
  return result.perSecond;
}

function benchUdp(): number {
  const { pair, a, b } = twoStacks();
  b.udp.bind(
    7,
    (d) => b.udp.send(7, d.src, d.srcPort, d.bytes.subarray(d.offset, d.offset + d.length)),
  );
  let echoes = 0;
  a.udp.bind(5000, () => echoes++);
  const payload = new Uint8Array(64);
  const result = roundTrips(a, b, () => a.udp.send(5000, IP_B, 7, payload), () => echoes);
  pair.a.close();
  pair.b.close();
  return result.perSecond;
}

async function benchKernelUdp(): Promise<number> {
  const server = dgram.createSocket("udp4");
  const client = dgram.createSocket("udp4");
  server.on("message", (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => server.bind(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const payload = new Uint8Array(64);
  let count = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    client.on("message", () => {
      count++;
      if (performance.now() - start < MS) client.send(payload, port, "127.0.0.1");
      else resolve();
    });
    client.send(payload, port, "127.0.0.1");
  });
  const perSecond = count / ((performance.now() - start) / 1000);
  client.close();
  server.close();
  return perSecond;
}

/** Ping round trips through the real-time runtime: app code pings, wakes the loop, awaits the reply. */
async function benchRuntimePing(): Promise<number> {
  const pair = new MemoryPair({ seed: 1 });
  const clock = () => performance.now();
  const options = { rng: new Rng(1), clock, ipv6: false } as Record<string, unknown>;
  const a = new Interface(pair.a, { ...options, addresses: [Ipv4Cidr.parse("10.0.0.1/24")] });
  const b = new Interface(pair.b, { ...options, addresses: [Ipv4Cidr.parse("10.0.0.2/24")] });
  const runtime = new Runtime([{ iface: a, nic: pair.a }, { iface: b, nic: pair.b }], clock);
  let resolve: () => void = () => {};
  a.icmp.onEchoReply = () => resolve();
  runtime.start();
  let count = 0;
  let start = 0;
  for (let seq = 0;; seq++) {
    if (seq === 200) start = performance.now(); // after ARP and warm-up
    const reply = new Promise<void>((r) => (resolve = r));
    a.icmp.ping(IP_B, { ident: 1, seq: seq & 0xffff, now: clock() });
    runtime.wake();
    await reply;
    if (seq >= 200) count++;
    if (seq >= 200 && performance.now() - start > MS / 2) break;
  }
  const perSecond = count / ((performance.now() - start) / 1000);
  await runtime.stop();
  pair.a.close();
  pair.b.close();
  return perSecond;
}

/** Runs the ping benchmark (~2 s). */
export async function benchPing(): Promise<Record<string, number | string>> {
  const icmp = benchIcmp();
  const udp = benchUdp();
  const kernel = await benchKernelUdp();
  const runtime = await benchRuntimePing();
  return {
    "stack ICMP echo round trips/s (memory pair)": Math.round(icmp),
    "stack ICMP echo round trip µs": +(1e6 / icmp).toFixed(2),
    "stack UDP echo round trips/s (64 B, memory pair)": Math.round(udp),
    "kernel UDP echo round trips/s (64 B, node:dgram, loopback)": Math.round(kernel),
    "stack UDP / kernel UDP": +(udp / kernel).toFixed(2),
    "runtime ping round trips/s (app awaits each reply)": Math.round(runtime),
    "runtime ping round trip µs": +(1e6 / runtime).toFixed(1),
  };
}

if (import.meta.main) {
  for (const [key, value] of Object.entries(await benchPing())) {
    console.log(`${key.padEnd(60)} ${value}`);
  }
}
