/**
 * The fuzzer's command line: `deno task fuzz --frames 1000000 --seed 7`. Runs the harness, prints
 * frames per second, peak heap and the counters; on a failure it saves the seed, the frame index and
 * the last frames in hex under `tests/fuzz/corpus/` (replayed by `corpus_test.ts`) and exits with 1.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FuzzHarness } from "./harness.ts";
import { saveFailure } from "./corpus.ts";

/** Options of `runFuzz`. */
export interface FuzzRunOptions {
  seed: number;
  frames: number;
  /** Print progress every this many frames (0: never). */
  progressEvery?: number;
  /** Where to save a failing input (default: tests/fuzz/corpus next to this file). */
  corpusDir?: string;
  /** Fail on known, reported bugs too (see `HarnessOptions.strict`). */
  strict?: boolean;
}

/** What a run measured. */
export interface FuzzRunReport {
  frames: number;
  seconds: number;
  framesPerSecond: number;
  peakHeapBytes: number;
  failure: string | undefined;
  savedTo: string | undefined;
  stats: Record<string, Record<string, number>>;
  kinds: Record<string, number>;
}

/** Runs one seeded fuzz session. */
export function runFuzz(options: FuzzRunOptions): FuzzRunReport {
  const h = new FuzzHarness({ seed: options.seed, strict: options.strict });
  const start = performance.now();
  let peak = Deno.memoryUsage().heapUsed;
  let nextSample = 0;
  let nextProgress = options.progressEvery ?? 0;
  while (h.frames < options.frames && h.step()) {
    if (h.frames >= nextSample) {
      nextSample = h.frames + 2000;
      peak = Math.max(peak, Deno.memoryUsage().heapUsed);
    }
    if (nextProgress > 0 && h.frames >= nextProgress) {
      nextProgress += options.progressEvery!;
      const s = (performance.now() - start) / 1000;
      console.log(`${h.frames} frames, ${Math.round(h.frames / s)} frames/s`);
    }
  }
  const seconds = (performance.now() - start) / 1000;
  peak = Math.max(peak, Deno.memoryUsage().heapUsed);
  let savedTo: string | undefined;
  if (h.failure !== undefined) savedTo = saveFailure(h.failure, options.corpusDir);
  return {
    frames: h.frames,
    seconds,
    framesPerSecond: h.frames / seconds,
    peakHeapBytes: peak,
    failure: h.failure?.message,
    savedTo,
    stats: h.iface.stats(),
    kinds: Object.fromEntries(h.kinds),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      frames: { type: "string", default: "100000" },
      seed: { type: "string", default: "1" },
      seeds: { type: "string", default: "1" },
      stats: { type: "boolean", default: false },
      strict: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log("usage: deno task fuzz [--frames N] [--seed S] [--seeds K] [--stats] [--strict]");
    Deno.exit(0);
  }
  const frames = Number(values.frames);
  const first = Number(values.seed);
  let failed = false;
  for (let k = 0; k < Number(values.seeds); k++) {
    const seed = first + k;
    const r = runFuzz({
      seed,
      frames,
      strict: values.strict,
      progressEvery: frames >= 500_000 ? 100_000 : 0,
    });
    console.log(
      `seed ${seed}: ${r.frames} frames in ${r.seconds.toFixed(1)} s, ` +
        `${Math.round(r.framesPerSecond)} frames/s, peak heap ${
          (r.peakHeapBytes / 1048576).toFixed(1)
        } MiB`,
    );
    if (values.stats) {
      console.log(JSON.stringify(r.kinds));
      for (const [layer, counters] of Object.entries(r.stats)) {
        const nonzero = Object.entries(counters).filter(([, v]) => v !== 0);
        console.log(`  ${layer}: ${nonzero.map(([k2, v]) => `${k2}=${v}`).join(" ")}`);
      }
    }
    if (r.failure !== undefined) {
      failed = true;
      console.log(`FAILED at frame ${r.frames - 1}: ${r.failure}`);
      console.log(`saved to ${r.savedTo}`);
    }
  }
  Deno.exit(failed ? 1 : 0);
}
