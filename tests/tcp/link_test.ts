/**
 * Lossy-link proofs: two full stacks (Interface + TCP) over the impaired in-memory pair transfer data
 * both ways on a virtual clock; every byte must arrive intact (SHA-256 compared) and a stall fails.
 * TCP_LINK_SEEDS (default 100) sets the seeds per condition for the 1 MiB runs.
 */
import assert from "node:assert/strict";
import type { Impairments } from "../../stack/nic/memory.ts";
import { Sim } from "./sim.ts";
import { sha256, transfer } from "./transfer.ts";

const SEEDS = Number(Deno.env.get("TCP_LINK_SEEDS") ?? 100);
const MIB = 1 << 20;

const CONDITIONS: [string, Impairments][] = [
  ["loss 0 %", { delayMs: 1 }],
  ["loss 1 %", { loss: 0.01, delayMs: 1 }],
  ["loss 5 %", { loss: 0.05, delayMs: 1 }],
  ["loss 10 %", { loss: 0.1, delayMs: 1 }],
  [
    "loss 2 %, reordering, duplication and corruption",
    { loss: 0.02, reorder: 0.05, duplicate: 0.02, corrupt: 0.01, delayMs: 1, jitterMs: 1 },
  ],
];

async function proveTransfer(impair: Impairments, seed: number, bytes: number): Promise<void> {
  const sim = new Sim({ seed, impair });
  const r = transfer(sim, bytes, bytes, seed);
  const where = `seed ${seed}`;
  assert.ok(
    r.done,
    `${where}: stalled at A ${r.receivedByA}, B ${r.receivedByB} (${r.errorA}, ${r.errorB})`,
  );
  assert.equal(r.receivedByA, bytes, where);
  assert.equal(r.receivedByB, bytes, where);
  assert.equal(await sha256(r.gotByB), await sha256(r.sentByA), `${where}: A to B corrupted`);
  assert.equal(await sha256(r.gotByA), await sha256(r.sentByB), `${where}: B to A corrupted`);
}

for (const [name, impair] of CONDITIONS) {
  Deno.test(`link: 1 MiB each way, ${name}, ${SEEDS} seeds`, async () => {
    for (let seed = 1; seed <= SEEDS; seed++) await proveTransfer(impair, seed, MIB);
  });
}

for (const [name, impair] of CONDITIONS) {
  Deno.test(`link: 10 MiB each way, ${name}, 2 seeds`, async () => {
    for (let seed = 1001; seed <= 1002; seed++) await proveTransfer(impair, seed, 10 * MIB);
  });
}

Deno.test("link: impairments really happened in the mixed condition", () => {
  const sim = new Sim({ seed: 5, impair: CONDITIONS[4][1] });
  const r = transfer(sim, MIB, MIB, 5);
  assert.ok(r.done);
  const stats = { ...sim.a.nic.stats, ...sim.b.nic.stats };
  const nic = (k: string) => (sim.a.nic.stats[k] ?? 0) + (sim.b.nic.stats[k] ?? 0);
  assert.ok(nic("lossDropped") > 0, JSON.stringify(stats));
  assert.ok(nic("duplicated") > 0);
  assert.ok(nic("corrupted") > 0);
  assert.ok(nic("reordered") > 0);
  assert.ok(sim.tcpA.stats.retransmits + sim.tcpB.stats.retransmits > 0);
  // Checksums are verified on this link: corrupted segments were caught, not delivered.
  const caught = sim.tcpA.stats.dropChecksum + sim.tcpB.stats.dropChecksum;
  assert.ok(caught > 0, `${caught} bad checksums caught`);
});

Deno.test("link: with checksum offload, 1 MiB each way survives loss, reordering and duplication", async () => {
  const impair = { loss: 0.02, reorder: 0.05, duplicate: 0.02, delayMs: 1, jitterMs: 1 };
  for (let seed = 1; seed <= 5; seed++) {
    const sim = new Sim({ seed, impair, checksumOffload: true });
    const r = transfer(sim, MIB, MIB, seed);
    assert.ok(r.done, `seed ${seed}: stalled at A ${r.receivedByA}, B ${r.receivedByB}`);
    assert.equal(await sha256(r.gotByB), await sha256(r.sentByA));
    assert.equal(await sha256(r.gotByA), await sha256(r.sentByB));
    // Segments carry only the pseudo-header sum, which a verifying receiver would have dropped.
    assert.equal(sim.tcpA.stats.dropChecksum + sim.tcpB.stats.dropChecksum, 0);
  }
});

Deno.test("link: a receiver that verifies drops the pseudo-header sums of an offloading sender", () => {
  // The switch really switches: with verification forced back on, nothing gets through.
  const sim = new Sim({ seed: 9, checksumOffload: true, endpoint: { verifyChecksum: true } });
  const r = transfer(sim, 64 * 1024, 0, 9);
  assert.equal(r.done, false);
  assert.equal(r.receivedByB, 0);
  assert.ok(sim.tcpB.stats.dropChecksum > 0);
});
