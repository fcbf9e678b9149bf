/**
 * The VM's figures, under the accelerator `auto` picks (TCG here):
 *
 * - image size and build time, cold (fresh cache, kernel already downloaded) and warm (nothing changed);
 * - boot time from QEMU start to the first HTTP 200 of apps/http_echo.ts (median of a few boots), with
 *   the breakdown read from the console: kernel (QEMU start → init's first line), init (→ the app is
 *   started), app (→ its "listening" line) and first answer (→ the 200);
 * - HTTP req/s (`wrk -t1 -c10`, GET /health) and bulk TCP (curl POST of N MiB through /echo, which
 *   streams it back, checked whole; QEMU's CPU seconds per POST beside) through the forwarded port,
 *   for our stack on virtio, for the same image configuration booted with the kernel's own virtio_net
 *   driver and the same app on kernel sockets (`--kernel-net`), and for the same handler on
 *   `Deno.serve` in that guest (vm/deno_serve_echo.ts), the issue's own baseline. Each guest is
 *   measured twice: **early**, right after boot (GET for `seconds` after one 1 s GET and the first
 *   POST), and **warm**, after `warm` seconds of GET and the bulk warm-up POSTs (GET: median of three
 *   runs of `seconds`; bulk: median of `runs` POSTs). Under TCG V8 compiles our stack's hot paths on
 *   the guest's one vCPU for the first ~15-20 s of traffic (the GET rate climbs 3-5x meanwhile), while
 *   the kernel and hyper are native code from the start, so the early figure measures V8's warm-up
 *   and the warm one the steady state. The three guests boot in turn, `rounds` times, so that the
 *   shared machine's changing load falls on all alike; the figures are medians over the rounds and
 *   the ratios are taken within each round;
 * - the UDP echo round trip through QEMU's user network.
 *
 *   deno run -A tests/bench/vm_bench.ts [--boots 3] [--rounds 3] [--mib 8] [--seconds 3] [--warm 15]
 *     [--warmups 3] [--runs 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Vm } from "../../vm/boot.ts";
import { buildImage, DEFAULT_COMPRESSION } from "../../vm/image.ts";
import { chooseAccel } from "../../vm/qemu.ts";
import { freePort } from "../vm/free_port.ts";
import { type BulkSummary, echoBulk, measureBulk, median } from "./vm_bulk.ts";
import { processCpuSeconds as cpuSeconds } from "./process_cpu.ts";

/** Options of {@linkcode benchVm}. */
export interface VmBenchOptions {
  /** Boots per configuration for the boot-time medians (default 3). */
  boots?: number;
  /** MiB sent through /echo for the bulk figure (default 8). */
  mib?: number;
  /** Seconds of each measured wrk run (default 3). */
  seconds?: number;
  /** Seconds of GET that warm a guest up before its warm figures (default 15). */
  warm?: number;
  /** Rounds of the three guests booted in turn for the throughput figures (default 3). */
  rounds?: number;
  /** Bulk POSTs before the measured ones, the first after boot included (default 3). */
  warmups?: number;
  /** Measured bulk POSTs per guest, of which the median is reported (default 3). */
  runs?: number;
}

/** Boot-time parts in seconds, each measured on the host from QEMU start. */
export interface BootBreakdown {
  /** QEMU start → init's first console line (firmware, kernel, initramfs, deno start-up). */
  kernel: number;
  /** The guest's own uptime at init's first line (kernel + deno start-up, without QEMU's part). */
  guestUptime: number;
  /** Init's first line → "starting <app>" (mounts, PCI report, driver modules in --kernel-net). */
  init: number;
  /** "starting" → the app's "listening" line (module loading, NIC, DHCP). */
  app: number;
  /** The part of `app` spent loading the app's modules (init's "loaded in" line). */
  appLoad: number;
  /** deno's own start-up inside the guest, before init's code ran (init's first line). */
  denoStartup: number;
  /** "listening" → the first HTTP 200 on the host. */
  firstAnswer: number;
  /** QEMU start → first HTTP 200. */
  total: number;
  /**
   * CPU seconds QEMU used until the first 200 (all its threads): under TCG the boot is CPU-bound, so
   * this tells a slower boot from one stretched by other processes on a shared machine.
   */
  cpu: number;
}

/** Boots a guest, timestamping every console line from QEMU start. */
async function bootTimed(
  opts: { app: string; kernelNet?: boolean; protocol?: "http" | "udp" },
): Promise<{ vm: Vm; breakdown?: BootBreakdown }> {
  const stamped: { at: number; line: string }[] = [];
  let started = 0;
  const protocol = opts.protocol ?? "http";
  const vm = await Vm.boot({
    app: opts.app,
    kernelNet: opts.kernelNet,
    port: await freePort(protocol === "http" ? "tcp" : "udp"),
    onStart: () => (started = performance.now()),
    echo: (line) => stamped.push({ at: (performance.now() - started) / 1000, line }),
    progress: () => {},
  });
  const at = (pattern: RegExp) => stamped.find((s) => pattern.test(s.line));
  const initLine = at(/^init: kernel /);
  const starting = at(/^init: starting /);
  const listening = at(/listening on /);
  const total = vm.bootMs / 1000;
  const cpu = cpuSeconds(vm.pid);
  if (!initLine || !starting || !listening) return { vm };
  return {
    vm,
    breakdown: {
      kernel: initLine.at,
      guestUptime: Number(initLine.line.match(/up ([\d.]+) s/)?.[1] ?? NaN),
      denoStartup: Number(initLine.line.match(/deno start-up ([\d.]+) s/)?.[1] ?? NaN),
      init: starting.at - initLine.at,
      app: listening.at - starting.at,
      appLoad: Number(at(/^init: \S+ loaded in /)?.line.match(/in ([\d.]+) s/)?.[1] ?? NaN),
      firstAnswer: total - listening.at,
      total,
      cpu,
    },
  };
}

async function run(cmd: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(output.stderr).trim()}`);
  }
  return text;
}

/** wrk's requests per second for GET /health, with the errors it counted. */
async function requestsPerSecond(url: string, seconds: number): Promise<number> {
  const text = await run("wrk", [
    "-t1",
    "-c10",
    `-d${seconds}s`,
    "--timeout",
    "5s",
    `${url}health`,
  ]);
  const rate = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const bad = Number(text.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const errors = text.match(/Socket errors: .*/)?.[0];
  if (!Number.isFinite(rate) || bad > 0) throw new Error(`wrk: ${text.trim()}`);
  if (errors && / (timeout|read|write|connect) [1-9]/.test(errors)) {
    console.error(`wrk against ${url}: ${errors}`);
  }
  return rate;
}

/** The three guests the throughput figures compare. */
type GuestPath = "ours" | "kernel" | "denoServe";

/** One guest's throughput: early (right after boot) and warm (after the warm-up). */
interface Throughput {
  /** GET req/s right after boot: after one 1 s GET and the first POST. */
  earlyRequestsPerSecond: number;
  /** GET req/s after the warm-up: the median of three runs. */
  requestsPerSecond: number;
  /** The bulk POSTs: the first after boot (`cold`) and the median after the warm-up ones. */
  bulk: BulkSummary;
}

/** How one guest's throughput is measured. */
interface MeasureOptions {
  seconds: number;
  warm: number;
  file: string;
  bytes: number;
  bulk: { warmups?: number; runs?: number };
}

/** One boot of an HTTP echo on either path; with `measure`, its throughput as well. */
async function bootPath(
  kernelNet: boolean,
  measure: MeasureOptions | undefined,
  app = "apps/http_echo.ts",
): Promise<{ breakdown?: BootBreakdown; throughput?: Throughput }> {
  const { vm, breakdown } = await bootTimed({ app, kernelNet });
  try {
    let throughput: Throughput | undefined;
    if (measure) {
      const { seconds, file, bytes } = measure;
      await requestsPerSecond(vm.url, 1);
      const cold = await echoBulk(vm.url, vm.pid, file, bytes);
      const early = await requestsPerSecond(vm.url, seconds);
      await requestsPerSecond(vm.url, measure.warm);
      const bulk = await measureBulk(vm.url, vm.pid, file, bytes, { ...measure.bulk, cold });
      const rates: number[] = [];
      for (let i = 0; i < 3; i++) rates.push(await requestsPerSecond(vm.url, seconds));
      throughput = { earlyRequestsPerSecond: early, requestsPerSecond: median(rates), bulk };
    }
    const status = await vm.powerOff();
    if (status.code !== 0) throw new Error(`QEMU exited with ${status.code}: ${vm.tail(5)}`);
    return { breakdown, throughput };
  } finally {
    vm.kill();
    await vm.status;
  }
}

function medianBreakdown(boots: BootBreakdown[]): BootBreakdown {
  const pick = (key: keyof BootBreakdown) => median(boots.map((b) => b[key]));
  return {
    kernel: pick("kernel"),
    guestUptime: pick("guestUptime"),
    init: pick("init"),
    app: pick("app"),
    appLoad: pick("appLoad"),
    denoStartup: pick("denoStartup"),
    firstAnswer: pick("firstAnswer"),
    total: pick("total"),
    cpu: pick("cpu"),
  };
}

async function udpRoundTrip(rounds: number): Promise<{ bootMs: number; rttMs: number }> {
  const { vm } = await bootTimed({ app: "apps/udp_echo.ts", protocol: "udp" });
  try {
    const times: number[] = [];
    const payload = new TextEncoder().encode("rtt");
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      if (await Vm.udpExchange(vm.url, payload, 2000)) times.push(performance.now() - start);
    }
    await vm.powerOff();
    return { bootMs: vm.bootMs, rttMs: median(times) };
  } finally {
    vm.kill();
    await vm.status;
  }
}

/** Runs the VM benchmarks. */
export async function benchVm(
  options: VmBenchOptions = {},
): Promise<Record<string, number | string>> {
  const bootCount = Math.max(1, options.boots ?? 3);
  const mib = options.mib ?? 8;
  const seconds = options.seconds ?? 3;
  const warmSeconds = options.warm ?? 15;
  const roundCount = Math.max(1, options.rounds ?? 3);
  const bulkOptions = { warmups: options.warmups, runs: options.runs };
  const cached = await buildImage({ app: "apps/http_echo.ts" });
  await buildImage({ app: "apps/http_echo.ts", kernelNet: true });
  const cacheDir = await Deno.makeTempDir({ prefix: "vm_bench_" });
  let cold;
  let warm;
  try {
    cold = await buildImage({ kernel: cached.kernel, cacheDir });
    warm = await buildImage({ kernel: cached.kernel, cacheDir });
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
  const bytes = mib << 20;
  const file = await Deno.makeTempFile({ prefix: "vm_bench_body_" });
  const boots = { ours: [] as BootBreakdown[], kernel: [] as BootBreakdown[] };
  const rounds: Record<GuestPath, Throughput>[] = [];
  try {
    const body = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
    await Deno.writeFile(file, body);
    const measure: MeasureOptions = { seconds, warm: warmSeconds, file, bytes, bulk: bulkOptions };
    // The paths take turns, so that the shared machine's changing load falls on all alike; the
    // measured rounds' boots count for the boot figures too.
    for (let i = 0; i < bootCount - roundCount; i++) {
      const a = await bootPath(false, undefined);
      const b = await bootPath(true, undefined);
      if (a.breakdown) boots.ours.push(a.breakdown);
      if (b.breakdown) boots.kernel.push(b.breakdown);
    }
    const paths: { name: GuestPath; kernelNet: boolean; app: string }[] = [
      { name: "ours", kernelNet: false, app: "apps/http_echo.ts" },
      { name: "kernel", kernelNet: true, app: "apps/http_echo.ts" },
      // The issue's own baseline: the same handler on Deno.serve (hyper) in the kernel-net guest.
      { name: "denoServe", kernelNet: true, app: "vm/deno_serve_echo.ts" },
    ];
    for (let r = 0; r < roundCount; r++) {
      const round: Partial<Record<GuestPath, Throughput>> = {};
      // Each round starts with the next path, so that none always runs first after a quiet spell.
      for (let j = 0; j < paths.length; j++) {
        const path = paths[(r + j) % paths.length];
        const result = await bootPath(path.kernelNet, measure, path.app);
        round[path.name] = result.throughput;
        if (result.breakdown && path.name !== "denoServe") {
          boots[path.name].push(result.breakdown);
        }
      }
      if (round.ours && round.kernel && round.denoServe) {
        rounds.push({ ours: round.ours, kernel: round.kernel, denoServe: round.denoServe });
      }
    }
  } finally {
    await Deno.remove(file);
  }
  if (rounds.length === 0 || boots.ours.length === 0 || boots.kernel.length === 0) {
    throw new Error("No boot measured (a boot log lacked its init or listening line)");
  }
  const udp = await udpRoundTrip(200);
  const b = medianBreakdown(boots.ours);
  const k = medianBreakdown(boots.kernel);
  const s = (value: number) => Math.round(value * 100) / 100;
  const bulk = (x: BulkSummary) => `${s(x.mbps)} (${s(x.minMbps)}–${s(x.maxMbps)})`;
  const last = rounds[rounds.length - 1];
  const runs = last.ours.bulk.runs.length;
  const get = (path: GuestPath) => median(rounds.map((x) => x[path].requestsPerSecond));
  const early = (path: GuestPath) => median(rounds.map((x) => x[path].earlyRequestsPerSecond));
  const mbps = (path: GuestPath) => median(rounds.map((x) => x[path].bulk.mbps));
  const ratios = (ratio: (round: (typeof rounds)[number]) => number) => {
    const each = rounds.map(ratio);
    return `${s(median(each))} (${each.map(s).join(", ")})`;
  };
  return {
    "accelerator": chooseAccel("auto"),
    [`image as booted, compression ${DEFAULT_COMPRESSION} (MB)`]: cold.imageBytes / 1e6,
    "image uncompressed cpio (MB)": cold.cpioBytes / 1e6,
    "build cold, kernel cached (s)": cold.seconds,
    // Sources edited by someone else between the two builds make the warm one a rebuild; say so.
    [
      warm.built
        ? "build warm (s; rebuilt: sources changed meanwhile)"
        : "build warm, nothing changed (s)"
    ]: warm.seconds,
    [`boot to first HTTP 200, ours, median of ${boots.ours.length} (s)`]: b.total,
    "  range over the boots / QEMU CPU to first 200, median (s)": `${
      s(Math.min(...boots.ours.map((x) => x.total)))
    }–${s(Math.max(...boots.ours.map((x) => x.total)))} / ${s(b.cpu)}`,
    "  QEMU start → init / guest uptime then / deno's part (s)": `${s(b.kernel)} / ${
      s(b.guestUptime)
    } / ${s(b.denoStartup)}`,
    "  init → app started (s)": b.init,
    "  app started → listening / of which module loading (s)": `${s(b.app)} / ${s(b.appLoad)}`,
    "  listening → first 200 (s)": b.firstAnswer,
    "  every boot: total (QEMU → init + init + app + first 200) (s)": boots.ours.map((x) =>
      `${s(x.total)} (${s(x.kernel)} + ${s(x.init)} + ${s(x.app)} + ${s(x.firstAnswer)})`
    ).join(", "),
    [`boot to first HTTP 200, kernel virtio_net, median of ${boots.kernel.length} (s)`]: k.total,
    "  kernel path: range / QEMU CPU to first 200, median (s)": `${
      s(Math.min(...boots.kernel.map((x) => x.total)))
    }–${s(Math.max(...boots.kernel.map((x) => x.total)))} / ${s(k.cpu)}`,
    "  kernel path: QEMU → init / init / app / first 200 (s)": `${s(k.kernel)} / ${s(k.init)} / ${
      s(k.app)
    } / ${s(k.firstAnswer)}`,
    [`HTTP GET req/s warm, median of ${rounds.length} rounds: ours / kernel / kernel + Deno.serve`]:
      `${s(get("ours"))} / ${s(get("kernel"))} / ${s(get("denoServe"))}`,
    "  warm GET ratios ours ÷ kernel / ours ÷ Deno.serve, median (each round)": `${
      ratios((x) => x.ours.requestsPerSecond / x.kernel.requestsPerSecond)
    } / ${ratios((x) => x.ours.requestsPerSecond / x.denoServe.requestsPerSecond)}`,
    "  early GET (right after boot) req/s: ours / kernel / kernel + Deno.serve": `${
      s(early("ours"))
    } / ${s(early("kernel"))} / ${s(early("denoServe"))}`,
    "  early GET ratios ours ÷ kernel / ours ÷ Deno.serve, median (each round)": `${
      ratios((x) => x.ours.earlyRequestsPerSecond / x.kernel.earlyRequestsPerSecond)
    } / ${ratios((x) => x.ours.earlyRequestsPerSecond / x.denoServe.earlyRequestsPerSecond)}`,
    [`bulk POST /echo ${mib} MiB warm, Mbit/s, median (range) of ${runs} POSTs, last round: ours`]:
      bulk(last.ours.bulk),
    "  kernel virtio_net / kernel + Deno.serve": `${bulk(last.kernel.bulk)} / ${
      bulk(last.denoServe.bulk)
    }`,
    [`  medians of ${rounds.length} rounds: ours / kernel / kernel + Deno.serve (Mbit/s)`]: `${
      s(mbps("ours"))
    } / ${s(mbps("kernel"))} / ${s(mbps("denoServe"))}`,
    "  warm bulk ratios ours ÷ kernel / ours ÷ Deno.serve, median (each round)": `${
      ratios((x) => x.ours.bulk.mbps / x.kernel.bulk.mbps)
    } / ${ratios((x) => x.ours.bulk.mbps / x.denoServe.bulk.mbps)}`,
    "  QEMU CPU per warm POST, median of rounds: ours / kernel / Deno.serve (s)": `${
      s(median(rounds.map((x) => x.ours.bulk.cpuSeconds)))
    } / ${s(median(rounds.map((x) => x.kernel.bulk.cpuSeconds)))} / ${
      s(median(rounds.map((x) => x.denoServe.bulk.cpuSeconds)))
    }`,
    "  first POST after boot, median of rounds: ours / kernel / Deno.serve (Mbit/s)": `${
      s(median(rounds.map((x) => x.ours.bulk.cold.mbps)))
    } / ${s(median(rounds.map((x) => x.kernel.bulk.cold.mbps)))} / ${
      s(median(rounds.map((x) => x.denoServe.bulk.cold.mbps)))
    }`,
    "boot to first answer, apps/udp_echo.ts (s)": udp.bootMs / 1000,
    "UDP echo round trip via hostfwd, median of 200 (ms)": udp.rttMs,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      boots: { type: "string" },
      rounds: { type: "string" },
      warm: { type: "string" },
      mib: { type: "string" },
      seconds: { type: "string" },
      warmups: { type: "string" },
      runs: { type: "string" },
    },
  });
  const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  const figures = await benchVm({
    boots: number(values.boots),
    rounds: number(values.rounds),
    warm: number(values.warm),
    mib: number(values.mib),
    seconds: number(values.seconds),
    warmups: number(values.warmups),
    runs: number(values.runs),
  });
  for (const [key, value] of Object.entries(figures)) console.log(`${key.padEnd(56)} ${value}`);
}
