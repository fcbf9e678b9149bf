/**
 * Soak: 45 simulated seconds of mixed traffic over an impaired link (see soak.ts), then a drain. Every
 * byte arrives intact, most short exchanges complete despite loss and corruption, and once traffic
 * stops every connection, queue and reassembly slot returns to its baseline. Bounded to well under a
 * minute of real time; `deno task bench soak` runs the long variant.
 */

import assert from "node:assert/strict";
import { runSoak } from "./soak.ts";

Deno.test("soak: mixed traffic on an impaired link, then every slot back to baseline", () => {
  const r = runSoak({ seed: 1, trafficMs: 45_000 });
  assert.deepEqual(r.errors, []);
  for (const [slot, n] of Object.entries(r.leftover)) assert.equal(n, 0, `${slot} left ${n}`);
  assert.ok(r.framesLost > 0 && r.framesCorrupted > 0, "the link really was impaired");
  assert.ok(r.bulkBytes >= 20 * 1024 * 1024, `bulk moved ${r.bulkBytes} bytes`);
  const shorts = r.shortCompleted + r.shortFailed;
  assert.ok(shorts >= 800, `${shorts} short connections`);
  assert.ok(r.shortCompleted >= shorts * 0.95, `${r.shortCompleted} of ${shorts} completed`);
  assert.ok(r.udpEchoed >= r.udpSent * 0.9, `${r.udpEchoed} of ${r.udpSent} UDP echoes`);
  assert.ok(r.pingsAnswered >= r.pingsSent * 0.9, `${r.pingsAnswered} of ${r.pingsSent} pings`);
  // The heap does not keep what the traffic used (a loose bound: the collector runs when it likes).
  const grown = r.heapAfterBytes - r.heapBeforeBytes;
  assert.ok(grown < 48 * 1024 * 1024, `heap grew by ${grown} bytes`);
});
