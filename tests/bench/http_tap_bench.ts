/**
 * Issue 7's HTTP benchmark over real links, in the same run: wrk (1 thread, 50 connections) in a
 * throwaway namespace against
 *   - `apps/http_echo.ts` on our stack, attached to a TAP whose Linux end is in that namespace,
 *   - the same app on our stack over AF_PACKET (PACKET_MMAP rings) on the root-namespace end of a
 *     veth whose peer is in the client's namespace, and
 *   - the same handler under `Deno.serve` on kernel sockets, in a second namespace joined by a veth,
 * so every answer crosses a virtual link between namespaces. All servers run side by side and are
 * measured in alternating rounds (TAP, AF_PACKET and Deno.serve, 3 s each after a warm-up and a
 * short pause, each round led by the next target in turn), so that load from elsewhere on the
 * machine hits them alike; each ratio is taken within a round, and the median round (the lower one
 * of an even count) is reported with every round's ratio. Reports req/s, p99 and server CPU per
 * request of GET / and of a 1 KiB POST to /echo, each stack link's share of `Deno.serve`'s rate,
 * and Deno.serve's CPU per request over ours.
 *
 *   deno run -A tests/bench/http_tap_bench.ts [rounds] [tap,packet]
 *
 * @module
 */

import { AppProcess } from "../interop/app_process.ts";
import { createLink } from "../interop/setup.ts";
import { Netns, run } from "../nic/netns.ts";
import { parseWrk } from "./http_bench.ts";
import { processCpuSeconds } from "./process_cpu.ts";

const ECHO_APP = new URL("../../apps/http_echo.ts", import.meta.url);
const DURATION_S = 3;
const WARMUP_S = 1;
/** Pause before each wrk run, so that the previous run's teardown does not land in it. */
const SETTLE_MS = 500;
const CONNECTIONS = 50;
/** Rounds of every target: each of the three leads two of them, and six medians hold up better. */
const ROUNDS = 6;
const KINDS = ["get", "post1k"] as const;

/** What wrk measured for one target and request kind. */
interface Figures {
  rps: number;
  p99Ms: number;
  errors: number;
  cpuUsPerRequest: number;
}

/** The links our stack is measured on, with the name used in the figures. */
const STACK_LINKS = { tap: "stack_tap", packet: "stack_packet" } as const;
type StackLink = keyof typeof STACK_LINKS;

/** A running server and the namespace its client runs in. */
interface Target {
  client: Netns;
  base: string;
  pid: number;
  close(): Promise<void>;
}

/** Runs the targets and returns named figures: req/s, p99 (ms), CPU, errors, ratios. */
export async function benchHttpTap(
  rounds = ROUNDS,
  links: StackLink[] = ["tap", "packet"],
): Promise<Record<string, number | string>> {
  if ((await run("sh", ["-c", "command -v wrk"])).code !== 0) {
    return { "http_tap.skipped": "wrk is not installed" };
  }
  if (Deno.uid() !== 0) return { "http_tap.skipped": "needs root for namespaces and TAPs" };
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(
    script,
    `wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\n` +
      `wrk.headers["Content-Type"] = "application/octet-stream"\n`,
  );
  const out: Record<string, number | string> = {};
  const targets: Target[] = [];
  try {
    const ours: Target[] = [];
    for (const link of links) {
      const target = await stackOver(link);
      targets.push(target);
      ours.push(target);
    }
    const deno = await denoServeOverVeth();
    targets.push(deno);
    const paths = { get: "/", post1k: "/echo" };
    // The first second of a fresh process is mostly JIT compilation.
    for (const target of targets) {
      for (const kind of KINDS) {
        await wrk(target, paths[kind], kind === "post1k" ? script : undefined, WARMUP_S);
      }
    }
    type Round = { ours: Figures[]; deno: Figures };
    const results: Record<string, Round[]> = { get: [], post1k: [] };
    for (let round = 0; round < rounds; round++) {
      for (const kind of KINDS) {
        const body = kind === "post1k" ? script : undefined;
        // Each round starts with the next target, so that every target leads as often as the others
        // (the first run of a round measured weakest: it follows another server's slow POST run).
        const all = [...ours, deno];
        const figures = new Map<Target, Figures>();
        for (let k = 0; k < all.length; k++) {
          const target = all[(round + k) % all.length];
          figures.set(target, await wrk(target, paths[kind], body, DURATION_S));
        }
        results[kind].push({ ours: ours.map((t) => figures.get(t)!), deno: figures.get(deno)! });
      }
    }
    for (const kind of KINDS) {
      const runs = results[kind];
      links.forEach((link, i) => {
        const ratio = (r: Round) => r.ours[i].rps / r.deno.rps;
        const pick = median(runs, ratio);
        const name = STACK_LINKS[link];
        record(out, name, kind, pick.ours[i]);
        // The TAP figures keep the names they had before AF_PACKET was measured beside them.
        const label = link === "tap" ? "stack" : link;
        out[`http_tap.${kind}.ratio_${label}_to_deno`] = round3(ratio(pick));
        out[`http_tap.${kind}.${name}.ratio_rounds`] = runs.map((r) => round3(ratio(r))).join(" ");
        const cpuRatio = (r: Round) => r.deno.cpuUsPerRequest / r.ours[i].cpuUsPerRequest;
        out[`http_tap.${kind}.${name}.cpu_ratio_deno_to_stack`] = round3(
          cpuRatio(median(runs, cpuRatio)),
        );
      });
      record(out, "deno_serve_veth", kind, median(runs, (r) => r.deno.rps).deno);
    }
  } finally {
    for (const target of targets.reverse()) await target.close();
    await Deno.remove(script);
  }
  return out;
}

/** The run whose `key` is the median of all runs (the lower middle one of an even count). */
function median<T>(runs: T[], key: (run: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor((runs.length - 1) / 2)];
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function record(
  out: Record<string, number | string>,
  name: string,
  kind: string,
  f: Figures,
): void {
  out[`http_tap.${name}.${kind}.rps`] = Math.round(f.rps);
  out[`http_tap.${name}.${kind}.p99_ms`] = round3(f.p99Ms);
  out[`http_tap.${name}.${kind}.cpu_us_per_req`] = Math.round(f.cpuUsPerRequest * 10) / 10;
  out[`http_tap.${name}.${kind}.errors`] = f.errors;
}

/** One wrk run inside the target's client namespace, with the server's CPU per request. */
async function wrk(
  target: Target,
  path: string,
  script: string | undefined,
  seconds: number,
): Promise<Figures> {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "2s", "--latency"];
  if (script) args.push("-s", script);
  // The previous run's connections close and its server settles before this one starts.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const before = processCpuSeconds(target.pid);
  const r = await target.client.exec("wrk", [...args, `${target.base}${path}`]);
  const after = processCpuSeconds(target.pid);
  if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr.trim()}`);
  const w = parseWrk(r.stdout);
  return { ...w, cpuUsPerRequest: ((after - before) * 1e6) / w.requests };
}

/**
 * http_echo on our stack; wrk in the link's namespace. Over a TAP the app runs in that namespace
 * beside the TAP; over AF_PACKET it runs in the root namespace on the host end of the veth (whose
 * peer has TSO/GSO off, so that frames stay within the MTU).
 */
async function stackOver(kind: StackLink): Promise<Target> {
  const link = await createLink(kind);
  const app = new AppProcess(
    "http_echo.ts",
    ["--nic", `${kind}:${link.stackIf}`, "--ip", `${link.stackIp}/24`, "--port", "80"],
    kind === "tap" ? link.ns.name : undefined,
  );
  const close = async () => {
    await app.stop();
    await link.close();
  };
  try {
    await app.waitFor(/http_echo listening/);
  } catch (error) {
    await close();
    throw error;
  }
  return { client: link.ns, base: `http://${link.stackIp}`, pid: app.child.pid, close };
}

/** The same handler under `Deno.serve` in one namespace; wrk in another, joined by a veth. */
async function denoServeOverVeth(): Promise<Target> {
  const client = await Netns.create("hc");
  const server = await Netns.create("hs");
  let child: Deno.ChildProcess | undefined;
  const close = async () => {
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has exited.
      }
      await child.status;
    }
    await client.close();
    await server.close();
  };
  try {
    const ifClient = `${client.name}x`.slice(-15);
    const ifServer = `${server.name}y`.slice(-15);
    const veth = await run("ip", [
      "link",
      "add",
      ifClient,
      "netns",
      client.name,
      "type",
      "veth",
      "peer",
      "name",
      ifServer,
      "netns",
      server.name,
    ]);
    if (veth.code !== 0) throw new Error(`Cannot create the veth: ${veth.stderr.trim()}`);
    await client.ip("addr", "add", "10.79.20.1/24", "dev", ifClient);
    await server.ip("addr", "add", "10.79.20.2/24", "dev", ifServer);
    await client.ip("link", "set", ifClient, "up");
    await server.ip("link", "set", ifServer, "up");
    await server.ip("link", "set", "lo", "up");
    const code = `import { echoHandler } from ${JSON.stringify(ECHO_APP.href)};
Deno.serve({ port: 80, hostname: "10.79.20.2", onListen: () => console.log("listening") }, echoHandler);`;
    child = server.spawn(Deno.execPath(), ["eval", code]);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("listening")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`Deno.serve did not start: ${text}`);
      text += value;
    }
    // Keep draining so the child never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })().catch(() => {});
    child.stderr.cancel();
    // `ip netns exec` execs the command, so the child's PID is Deno.serve's own.
    return { client, base: "http://10.79.20.2", pid: child.pid, close };
  } catch (error) {
    await close();
    throw error;
  }
}

if (import.meta.main) {
  const rounds = Deno.args[0] === undefined ? ROUNDS : Number(Deno.args[0]);
  const links = Deno.args[1]?.split(",").filter((l): l is StackLink => l in STACK_LINKS);
  console.log(await benchHttpTap(rounds, links));
}
