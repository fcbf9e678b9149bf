/**
 * TCP bulk over a TAP, both directions, in Gbit/s: the stack (TAP with its default offloads, and a
 * plain TAP) against Linux in a namespace, beside two Linux references in the same run: Linux↔Linux
 * over two TAPs joined by a frame-copying C program (the same kind of link, with and without the
 * virtio-net offloads; tests/interop/tap_relay.ts) and over a veth (with its offloads, and without
 * any at MTU 1500). The measurements alternate within each round, so that load from other work on
 * the machine falls on all of them alike; each figure is the median of the rounds, with the range.
 *
 * Targets (issue 5): ≥ 2 Gbit/s each way over the TAP; the goal is the link's frame ceiling (about
 * 4 Gbit/s written and 6.5 Gbit/s read through a plain TAP on this kind of machine).
 *
 * Usage: deno run -A tests/bench/tap_tcp_bench.ts [rounds]   (default 3)
 *
 * @module
 */

import { linuxToLinuxOverTap } from "../interop/tap_relay.ts";
import { linuxToLinux, linuxToStack, stackToLinux } from "../interop/tcp_throughput.ts";

/** The floor for each direction, Gbit/s. */
export const TAP_TCP_TARGET_GBITS = 2;

/** One measurement, Mbit/s; undefined when it cannot run here (no C compiler). */
type Measure = () => Promise<number | undefined>;

const MEASURES: [string, Measure][] = [
  ["Linux→Linux over veth, offloads (reference)", () => linuxToLinux()],
  ["Linux→Linux over TAP + C relay, offloads (reference)", () => linuxToLinuxOverTap(true)],
  ["Linux→stack over TAP, offloads (default)", () => linuxToStack({ kind: "tap", tap: {} })],
  ["stack→Linux over TAP, offloads (default)", () => stackToLinux({ kind: "tap", tap: {} })],
  ["Linux→Linux over veth, no offloads, MTU 1500 (reference)", () => linuxToLinux(true)],
  ["Linux→Linux over TAP + C relay, no offloads (reference)", () => linuxToLinuxOverTap(false)],
  [
    "Linux→stack over TAP, --no-offload",
    () => linuxToStack({ kind: "tap", tap: { offload: false } }),
  ],
  [
    "stack→Linux over TAP, --no-offload",
    () => stackToLinux({ kind: "tap", tap: { offload: false } }),
  ],
];

/** Runs `rounds` alternating rounds; reports each figure's median and range in Gbit/s. */
export async function benchTapTcp(rounds = 3): Promise<Record<string, number | string>> {
  const samples = MEASURES.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < MEASURES.length; i++) {
      const mbits = await MEASURES[i][1]();
      if (mbits !== undefined) samples[i].push(mbits / 1000);
    }
  }
  const out: Record<string, number | string> = {
    "tap tcp target": `≥ ${TAP_TCP_TARGET_GBITS} Gbit/s each way (goal: ~4 written, ~6.5 read)`,
    "tap tcp rounds": rounds,
  };
  let met = true;
  for (let i = 0; i < MEASURES.length; i++) {
    const sorted = samples[i].toSorted((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const name = MEASURES[i][0];
    if (sorted.length === 0) {
      out[`${name} Gbit/s`] = "n/a (no C compiler)";
      continue;
    }
    out[`${name} Gbit/s median`] = round(median);
    out[`${name} Gbit/s range`] = `${round(sorted[0])}–${round(sorted[sorted.length - 1])}`;
    if (name.includes("stack") && name.includes("(default)") && sorted[0] < TAP_TCP_TARGET_GBITS) {
      met = false;
    }
  }
  out["tap tcp default TAP: every round ≥ target both ways"] = met ? "yes" : "no";
  return out;
}

function round(gbits: number): number {
  return Math.round(gbits * 100) / 100;
}

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 3);
  for (const [k, v] of Object.entries(await benchTapTcp(rounds))) {
    console.log(`${k.padEnd(64)} ${v}`);
  }
}
