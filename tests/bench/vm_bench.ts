/**
 * The VM's figures, under the accelerator `auto` picks (TCG here):
 *
 * - image size and build time, cold (fresh cache, kernel already downloaded) and warm (nothing changed);
 * - boot time from QEMU start to the first HTTP 200 of apps/http_echo.ts (median of a few boots), with
 *   the breakdown read from the console: kernel (QEMU start → init's first line), init (→ the app is
 *   started), app (→ its "listening" line) and first answer (→ the 200);
 * - HTTP req/s (`wrk -t1 -c10`, GET /health) and bulk TCP (curl POST of N MiB through /echo, which
 *   streams it back; the median of a few POSTs after warm-up ones, the first one after boot reported
 *   apart, with QEMU's CPU seconds per POST: see vm_bulk.ts) through the forwarded port, for our stack
 *   on virtio and for the same image
 *   configuration booted with the kernel's own virtio_net driver and the app on kernel sockets
 *   (`--kernel-net`), in the same run, with the ratios ours ÷ kernel; and the same handler on
 *   `Deno.serve` in that guest (vm/deno_serve_echo.ts), the issue's own baseline;
 * - the UDP echo round trip through QEMU's user network.
 *
 *   deno run -A tests/bench/vm_bench.ts [--boots 3] [--mib 8] [--seconds 3] [--warmups 3] [--runs 3]
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
  /** Seconds of wrk (default 3). */
  seconds?: number;
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

interface Throughput {
  requestsPerSecond: number;
  bulk: BulkSummary;
}

/** One boot of an HTTP echo on either path; with `measure`, its throughput as well. */
async function bootPath(
  kernelNet: boolean,
  measure: boolean,
  seconds: number,
  file: string,
  bytes: number,
  bulkOptions: { warmups?: number; runs?: number },
  app = "apps/http_echo.ts",
): Promise<{ breakdown?: BootBreakdown; throughput?: Throughput }> {
  const { vm, breakdown } = await bootTimed({ app, kernelNet });
  try {
    let throughput: Throughput | undefined;
    if (measure) {
      // A short warm-up of each kind first: the first requests run cold JavaScript under TCG.
      // req/s is measured after one POST, as it always was; the POSTs after it finish the warm-up.
      await requestsPerSecond(vm.url, 1);
      const cold = await echoBulk(vm.url, vm.pid, file, bytes);
      const rate = await requestsPerSecond(vm.url, seconds);
      const bulk = await measureBulk(vm.url, vm.pid, file, bytes, { ...bulkOptions, cold });
      throughput = { requestsPerSecond: rate, bulk };
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
  let ours: Throughput | undefined;
  let kernel: Throughput | undefined;
  let denoServe: Throughput | undefined;
  try {
    const body = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
    await Deno.writeFile(file, body);
    // The two paths take turns, so that the shared machine's changing load falls on both alike.
    for (let i = 0; i < bootCount; i++) {
      const last = i === bootCount - 1;
      const a = await bootPath(false, last, seconds, file, bytes, bulkOptions);
      const b = await bootPath(true, last, seconds, file, bytes, bulkOptions);
      if (a.breakdown) boots.ours.push(a.breakdown);
      if (b.breakdown) boots.kernel.push(b.breakdown);
      ours ??= a.throughput;
      kernel ??= b.throughput;
    }
    // The issue's own baseline: the same handler on Deno.serve (hyper) in the kernel-net guest.
    denoServe =
      (await bootPath(true, true, seconds, file, bytes, bulkOptions, "vm/deno_serve_echo.ts"))
        .throughput;
  } finally {
    await Deno.remove(file);
  }
  if (!ours || !kernel || !denoServe || boots.ours.length === 0 || boots.kernel.length === 0) {
    throw new Error("No boot measured (a boot log lacked its init or listening line)");
  }
  const udp = await udpRoundTrip(200);
  const b = medianBreakdown(boots.ours);
  const k = medianBreakdown(boots.kernel);
  const s = (value: number) => Math.round(value * 100) / 100;
  const bulk = (x: BulkSummary) => `${s(x.mbps)} (${s(x.minMbps)}–${s(x.maxMbps)})`;
  const runs = ours.bulk.runs.length;
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
    "HTTP GET req/s, ours (wrk -t1 -c10)": ours.requestsPerSecond,
    "HTTP GET req/s, kernel virtio_net": kernel.requestsPerSecond,
    "HTTP req/s ratio ours ÷ kernel (target ≥ 1)": ours.requestsPerSecond /
      kernel.requestsPerSecond,
    [`bulk POST /echo ${mib} MiB, ours, median (range) of ${runs} after warm-up (Mbit/s)`]: bulk(
      ours.bulk,
    ),
    [`bulk POST /echo ${mib} MiB, kernel virtio_net, median (range) (Mbit/s)`]: bulk(kernel.bulk),
    "bulk ratio ours ÷ kernel (target ≥ 1)": ours.bulk.mbps / kernel.bulk.mbps,
    "  QEMU CPU per POST, median, ours / kernel (s)": `${s(ours.bulk.cpuSeconds)} / ${
      s(kernel.bulk.cpuSeconds)
    }`,
    "  first POST after boot, ours / kernel (Mbit/s; QEMU CPU s)": `${s(ours.bulk.cold.mbps)} / ${
      s(kernel.bulk.cold.mbps)
    } (${s(ours.bulk.cold.cpuSeconds)} / ${s(kernel.bulk.cold.cpuSeconds)})`,
    "HTTP GET req/s, kernel virtio_net + Deno.serve": denoServe.requestsPerSecond,
    [`bulk POST /echo ${mib} MiB, kernel virtio_net + Deno.serve (Mbit/s)`]: bulk(denoServe.bulk),
    "ratios ours ÷ Deno.serve: req/s / bulk": `${
      s(ours.requestsPerSecond / denoServe.requestsPerSecond)
    } / ${s(ours.bulk.mbps / denoServe.bulk.mbps)}`,
    "boot to first answer, apps/udp_echo.ts (s)": udp.bootMs / 1000,
    "UDP echo round trip via hostfwd, median of 200 (ms)": udp.rttMs,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      boots: { type: "string" },
      mib: { type: "string" },
      seconds: { type: "string" },
      warmups: { type: "string" },
      runs: { type: "string" },
    },
  });
  const number = (text: string | undefined) => (text === undefined ? undefined : Number(text));
  const figures = await benchVm({
    boots: number(values.boots),
    mib: number(values.mib),
    seconds: number(values.seconds),
    warmups: number(values.warmups),
    runs: number(values.runs),
  });
  for (const [key, value] of Object.entries(figures)) console.log(`${key.padEnd(56)} ${value}`);
}
