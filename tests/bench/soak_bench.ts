/**
 * The long soak (tests/hardening/soak.ts): 30 simulated minutes of mixed traffic on an impaired
 * in-memory link, reporting throughput of the simulation, what completed, the peak heap, and whether
 * every slot returned to its baseline. Run alone with `deno run -A tests/bench/soak_bench.ts [minutes]`.
 *
 * @module
 */

import { runSoak } from "../hardening/soak.ts";

/** Runs the long soak and returns its figures (throws when data was corrupted or slots leaked). */
export function benchSoak(minutes = 30): Promise<Record<string, number | string>> {
  const r = runSoak({ seed: 7, trafficMs: minutes * 60_000, rate: 20_000_000 });
  const leaked = Object.entries(r.leftover).filter(([, n]) => n !== 0);
  if (r.errors.length > 0) throw new Error(`Soak saw bad data: ${r.errors.slice(0, 3).join("; ")}`);
  if (leaked.length > 0) {
    throw new Error(`Soak leaked slots: ${JSON.stringify(Object.fromEntries(leaked))}`);
  }
  return Promise.resolve({
    "soak simulated minutes": r.simulatedMs / 60_000,
    "soak real seconds": r.realMs / 1000,
    "soak simulated/real time": r.simulatedMs / r.realMs,
    "soak bulk MiB": r.bulkBytes / 1048576,
    "soak short connections completed": r.shortCompleted,
    "soak short connections failed": r.shortFailed,
    "soak UDP echoed / sent": `${r.udpEchoed} / ${r.udpSent}`,
    "soak pings answered / sent": `${r.pingsAnswered} / ${r.pingsSent}`,
    "soak frames lost / corrupted on the link": `${r.framesLost} / ${r.framesCorrupted}`,
    "soak heap before / peak / after MiB": `${(r.heapBeforeBytes / 1048576).toFixed(1)} / ${
      (r.peakHeapBytes / 1048576).toFixed(1)
    } / ${(r.heapAfterBytes / 1048576).toFixed(1)}`,
    "soak slots left after drain": 0,
  });
}

if (import.meta.main) {
  const figures = await benchSoak(Number(Deno.args[0] ?? 30));
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(48)} ${v}`);
}
