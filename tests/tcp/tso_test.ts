/**
 * TCP segmentation offload over the in-memory link: with `tso` both stacks send new data in frames of
 * up to 64 KiB that the link carries whole; every byte must still arrive intact through loss,
 * reordering and duplication, retransmissions stay MSS-sized, and without TSO nothing exceeds the MTU.
 */
import assert from "node:assert/strict";
import type { Impairments } from "../../stack/nic/memory.ts";
import { MEMORY_TSO_MAX_BYTES } from "../../stack/nic/memory.ts";
import { EthernetFrame } from "../../stack/wire/ethernet.ts";
import { Ipv4Packet } from "../../stack/wire/ipv4.ts";
import { TcpPacket } from "../../stack/wire/tcp.ts";
import { Sim } from "./sim.ts";
import { sha256, transfer } from "./transfer.ts";

const MIB = 1 << 20;
const ETH = 14;

/** Sizes of the TCP payloads `sim.pair.a` sends: new data, data again, and IPv4 total lengths. */
function watchA(sim: Sim): { sizes: number[]; repeats: number[]; ipLengths: number[] } {
  const sizes: number[] = [];
  const repeats: number[] = [];
  const ipLengths: number[] = [];
  let high: number | undefined; // the highest sequence number sent so far
  const nic = sim.pair.a;
  const send = nic.send.bind(nic);
  const eth = new EthernetFrame();
  const ip = new Ipv4Packet();
  const tcp = new TcpPacket();
  nic.send = (now, length, fill) =>
    send(now, length, (bytes, offset, len) => {
      fill(bytes, offset, len);
      eth.wrap(bytes, offset, len);
      if (eth.etherType !== 0x0800) return;
      ip.wrap(bytes, offset + ETH, len - ETH);
      if (ip.protocol !== 6) return;
      ipLengths.push(ip.totalLength);
      tcp.wrap(bytes, ip.payloadOffset, ip.payloadLength);
      const payload = ip.payloadLength - tcp.headerLength;
      if (payload === 0) return;
      const end = (tcp.seq + payload) >>> 0;
      if (high !== undefined && ((tcp.seq - high) | 0) < 0) {
        repeats.push(payload);
      } else sizes.push(payload);
      if (high === undefined || ((end - high) | 0) > 0) high = end;
    });
  return { sizes, repeats, ipLengths };
}

async function prove(sim: Sim, seed: number, bytes: number): Promise<void> {
  const r = transfer(sim, bytes, bytes, seed);
  const where = `seed ${seed}`;
  assert.ok(r.done, `${where}: stalled at A ${r.receivedByA}, B ${r.receivedByB}`);
  assert.equal(r.receivedByA, bytes, where);
  assert.equal(r.receivedByB, bytes, where);
  assert.equal(await sha256(r.gotByB), await sha256(r.sentByA), `${where}: A to B corrupted`);
  assert.equal(await sha256(r.gotByA), await sha256(r.sentByB), `${where}: B to A corrupted`);
}

Deno.test("tso: a clean link carries new data in frames of whole MSS multiples up to 64 KiB", async () => {
  const sim = new Sim({ seed: 3, tso: true, impair: { delayMs: 1 } });
  assert.equal(sim.pair.a.caps.tsoMaxBytes, MEMORY_TSO_MAX_BYTES);
  const seen = watchA(sim);
  await prove(sim, 3, MIB);
  const mss = 1448; // 1500 − IPv4 − TCP − timestamps
  const big = seen.sizes.filter((n) => n > mss);
  assert.ok(big.length > 0, "no frame exceeded the MSS");
  assert.ok(Math.max(...seen.sizes) > 16 * mss, `largest frame ${Math.max(...seen.sizes)}`);
  for (const n of seen.sizes) assert.ok(n <= MEMORY_TSO_MAX_BYTES, `frame of ${n} bytes`);
  for (const n of seen.ipLengths) assert.ok(n <= 0xffff, `datagram of ${n} bytes`);
  // All but the data's last frame are whole MSS multiples (Nagle holds back a partial tail).
  const partial = seen.sizes.filter((n) => n > mss && n % mss !== 0);
  assert.ok(partial.length <= 1, `frames not a multiple of the MSS: ${partial.join(", ")}`);
  assert.equal(sim.a.ipv4.stats.txFragments, 0);
  assert.equal(sim.b.ipv4.stats.txFragments, 0);
});

Deno.test("tso: the same link without TSO never sends more than the MSS", async () => {
  const sim = new Sim({ seed: 3, impair: { delayMs: 1 } });
  assert.equal(sim.pair.a.caps.tsoMaxBytes, undefined);
  const seen = watchA(sim);
  await prove(sim, 3, 256 * 1024);
  for (const n of seen.sizes) assert.ok(n <= 1448, `segment of ${n} bytes`);
  for (const n of seen.ipLengths) assert.ok(n <= 1500, `datagram of ${n} bytes`);
});

const CONDITIONS: [string, Impairments][] = [
  ["loss 3 %", { loss: 0.03, delayMs: 1 }],
  ["loss 5 %", { loss: 0.05, delayMs: 1 }],
  ["loss 2 %, reordering and duplication", {
    loss: 0.02,
    reorder: 0.05,
    duplicate: 0.02,
    delayMs: 1,
    jitterMs: 1,
  }],
];

for (const [name, impair] of CONDITIONS) {
  Deno.test(`tso: 1 MiB each way, ${name}, 8 seeds, retransmissions MSS-sized`, async () => {
    let repeats = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const sim = new Sim({ seed, impair, tso: true });
      const seen = watchA(sim);
      await prove(sim, seed, MIB);
      assert.ok(seen.sizes.some((n) => n > 1448), `seed ${seed}: no TSO frame`);
      for (const n of seen.repeats) assert.ok(n <= 1448, `seed ${seed}: retransmitted ${n} bytes`);
      repeats += seen.repeats.length;
    }
    assert.ok(repeats > 0, "no retransmission happened");
  });
}

Deno.test("tso: the IPv4 layer still fragments a UDP datagram over the MTU", () => {
  const sim = new Sim({ seed: 4, tso: true });
  const got: number[] = [];
  sim.b.udp.bind(9, (d) => got.push(d.length));
  assert.equal(sim.a.udp.send(1000, 0x0a000002, 9, new Uint8Array(4000)), "sent");
  for (let i = 0; i < 10; i++) sim.pollNow();
  assert.ok(sim.a.ipv4.stats.txFragments >= 3, `fragments ${sim.a.ipv4.stats.txFragments}`);
  assert.deepEqual(got, [4000]);
});

Deno.test("tso: a peer MSS below the MTU's keeps every segment within it", async () => {
  const sim = new Sim({ seed: 6, tso: true, impair: { delayMs: 1 }, tcp: { maxMss: 1000 } });
  const seen = watchA(sim);
  await prove(sim, 6, 512 * 1024);
  const mss = 1000 - 12;
  assert.ok(seen.sizes.length > 100);
  for (const n of [...seen.sizes, ...seen.repeats]) assert.ok(n <= mss, `segment of ${n} bytes`);
});

Deno.test("tso: with SACK blocks in the header, data segments never exceed the MTU's room", async () => {
  // Loss both ways while both send: A's data carries SACK blocks for B's data whenever B's is out of
  // order, and its TSO frames are then cut back to one segment that fits the MTU with them.
  let checked = 0;
  for (let seed = 11; seed <= 14; seed++) {
    const sim = new Sim({ seed, tso: true, impair: { loss: 0.05, reorder: 0.05, delayMs: 1 } });
    const seen = watchA(sim);
    await prove(sim, seed, MIB);
    for (const total of seen.ipLengths) {
      if (total > 1500) {
        assert.ok(total <= 0xffff);
        checked++;
      }
    }
    // Frames over the MTU are whole MSS multiples, or the data's end (FIN).
    const odd = seen.sizes.filter((n) => n > 1448 && n % 1448 !== 0);
    assert.ok(odd.length <= 1, `seed ${seed}: ${odd.join(", ")}`);
  }
  assert.ok(checked > 0);
});

Deno.test("tso: with checksum offload too (the bench's link), 1 MiB each way survives loss and reordering", async () => {
  const impair = { loss: 0.03, reorder: 0.05, duplicate: 0.02, delayMs: 1 };
  for (let seed = 21; seed <= 24; seed++) {
    const sim = new Sim({ seed, impair, tso: true, checksumOffload: true });
    const seen = watchA(sim);
    await prove(sim, seed, MIB);
    assert.ok(seen.sizes.some((n) => n > 1448), `seed ${seed}: no TSO frame`);
  }
});
