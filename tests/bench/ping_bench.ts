/**
 * Ping benchmark: ICMP echo and UDP echo round trips per second between two stacks over the in-memory
 * pair, polled back to back on the real clock (about 2 s in all), beside a reference measured in the
 * same run: UDP echo through the kernel's loopback with node:dgram.
 *
 * @module
 */

import dgram from "node:dgram";
import { Interface } from "../../stack/layer/interface.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr, parseIpv4 } from "../../stack/wire/address.ts";

const IP_B = parseIpv4("10.0.0.2");
const MS = 700;

function twoStacks() {
  const pair = new MemoryPair({ seed: 1 });
  const a = new Interface(pair.a, { addresses: [Ipv4Cidr.parse("10.0.0.1/24")], rng: new Rng(1) });
  const b = new Interface(pair.b, { addresses: [Ipv4Cidr.parse("10.0.0.2/24")], rng: new Rng(2) });
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

/** Runs the ping benchmark (~2 s). */
export async function benchPing(): Promise<Record<string, number | string>> {
  const icmp = benchIcmp();
  const udp = benchUdp();
  const kernel = await benchKernelUdp();
  return {
    "stack ICMP echo round trips/s (memory pair)": Math.round(icmp),
    "stack ICMP echo round trip µs": +(1e6 / icmp).toFixed(2),
    "stack UDP echo round trips/s (64 B, memory pair)": Math.round(udp),
    "kernel UDP echo round trips/s (64 B, node:dgram, loopback)": Math.round(kernel),
    "stack UDP / kernel UDP": +(udp / kernel).toFixed(2),
  };
}

if (import.meta.main) {
  for (const [key, value] of Object.entries(await benchPing())) {
    console.log(`${key.padEnd(60)} ${value}`);
  }
}
