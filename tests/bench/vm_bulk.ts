/**
 * The VM benchmark's bulk figure: POSTs of one file to /echo through QEMU's forwarded port, each checked
 * to come back whole, with the CPU time QEMU spent on it.
 *
 * Under TCG the guest's JavaScript is still being compiled (V8's optimising tiers, on the guest's one
 * vCPU) through the first few MiB after boot, so the first POST is reported on its own and the figure is
 * the median of the POSTs after a warm-up. QEMU's CPU seconds per POST tell a guest that works harder
 * from one that is only starved by other processes on a shared machine.
 *
 * @module
 */

import { processCpuSeconds } from "./process_cpu.ts";

/** One POST: payload Mbit/s (one way) and the CPU seconds QEMU used meanwhile (all its threads). */
export interface BulkRun {
  mbps: number;
  cpuSeconds: number;
}

/** The bulk figure of one guest. */
export interface BulkSummary {
  /** The first POST after boot (cold code). */
  cold: BulkRun;
  /** The measured POSTs, after the warm-up ones. */
  runs: BulkRun[];
  /** Median, lowest and highest Mbit/s of `runs`. */
  mbps: number;
  minMbps: number;
  maxMbps: number;
  /** Median QEMU CPU seconds per POST of `runs`. */
  cpuSeconds: number;
}

/** Options of {@linkcode measureBulk}. */
export interface BulkOptions {
  /** POSTs before the measured ones, the cold first one included (default 3). */
  warmups?: number;
  /** Measured POSTs (default 3). */
  runs?: number;
  /** The first POST after boot when the caller made it already (it counts as a warm-up). */
  cold?: BulkRun;
}

/** The middle value (the upper one of an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** One POST of `file` (`bytes` long) to `url`echo, checked to come back whole. */
export async function echoBulk(
  url: string,
  pid: number,
  file: string,
  bytes: number,
): Promise<BulkRun> {
  const before = processCpuSeconds(pid);
  const output = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "120",
      "-o",
      "/dev/null",
      "-H",
      "Expect:",
      "-H",
      "content-type: application/octet-stream",
      "--data-binary",
      `@${file}`,
      "-w",
      "%{http_code} %{size_download} %{time_total}",
      `${url}echo`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpuSeconds = processCpuSeconds(pid) - before;
  if (!output.success) {
    throw new Error(`curl failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
  const [code, size, seconds] = new TextDecoder().decode(output.stdout).trim().split(" ").map(
    Number,
  );
  if (code !== 200 || size !== bytes) {
    throw new Error(`POST /echo of ${bytes} bytes answered ${code} with ${size} bytes`);
  }
  return { mbps: (bytes * 8) / seconds / 1e6, cpuSeconds };
}

/** Warm-up POSTs, then the measured ones, summarised. */
export async function measureBulk(
  url: string,
  pid: number,
  file: string,
  bytes: number,
  options: BulkOptions = {},
): Promise<BulkSummary> {
  const warmups = Math.max(1, options.warmups ?? 3);
  const count = Math.max(1, options.runs ?? 3);
  const cold = options.cold ?? await echoBulk(url, pid, file, bytes);
  for (let i = 1; i < warmups; i++) await echoBulk(url, pid, file, bytes);
  const runs: BulkRun[] = [];
  for (let i = 0; i < count; i++) runs.push(await echoBulk(url, pid, file, bytes));
  const rates = runs.map((run) => run.mbps);
  return {
    cold,
    runs,
    mbps: median(rates),
    minMbps: Math.min(...rates),
    maxMbps: Math.max(...rates),
    cpuSeconds: median(runs.map((run) => run.cpuSeconds)),
  };
}
