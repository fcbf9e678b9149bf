/**
 * HTTP benchmark: wrk (1 thread, 50 keep-alive connections, 3 s after a 1 s warm-up) against the echo app served by
 * our HTTP server over kernel sockets, against the same handler under `Deno.serve`, and against
 * http_echo on our own stack over a TAP in a throwaway namespace, all in the same run.
 *
 *   deno run -A tests/bench/http_bench.ts          # everything
 *   deno run -A tests/bench/http_bench.ts inproc   # only the server's CPU per GET, in memory
 *
 * @module
 */

import process from "node:process";
import { processCpuSeconds } from "./process_cpu.ts";

const ECHO_APP = new URL("../../apps/http_echo.ts", import.meta.url);
const DURATION_S = 3;
const WARMUP_S = 1;
const CONNECTIONS = 50;

/** One wrk run's figures. */
export interface WrkResult {
  rps: number;
  p99Ms: number;
  errors: number;
  requests: number;
}

/** A server under test: where it listens and how to stop it. */
interface Target {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Runs the HTTP benchmarks and returns named figures (req/s, p99 in ms, ratios). */
export async function benchHttp(): Promise<Record<string, number | string>> {
  if (!(await hasWrk())) return { "http.skipped": "wrk is not installed" };
  const out: Record<string, number | string> = {};
  const postScript = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(
    postScript,
    `wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\n` +
      `wrk.headers["Content-Type"] = "application/octet-stream"\n`,
  );
  try {
    const targets: [string, () => Promise<Target>][] = [
      ["ours", () => startApp(["--nic", "kernel", "--port", "0", "--hostname", "127.0.0.1"])],
      ["deno", startDenoServe],
    ];
    for (const [name, start] of targets) {
      const target = await start();
      try {
        // Warm the JIT first: the first second of a fresh process is mostly compilation.
        await wrk(`${target.url}/`, undefined, WARMUP_S);
        await wrk(`${target.url}/echo`, postScript, WARMUP_S);
        const get = await measured(target.pid, () => wrk(`${target.url}/`));
        const post = await measured(target.pid, () => wrk(`${target.url}/echo`, postScript));
        out[`http.${name}.get.rps`] = round(get.rps);
        out[`http.${name}.get.p99_ms`] = round(get.p99Ms, 3);
        out[`http.${name}.get.cpu_us_per_req`] = round(get.cpuUsPerRequest, 1);
        out[`http.${name}.post1k.rps`] = round(post.rps);
        out[`http.${name}.post1k.p99_ms`] = round(post.p99Ms, 3);
        out[`http.${name}.post1k.cpu_us_per_req`] = round(post.cpuUsPerRequest, 1);
        out[`http.${name}.errors`] = get.errors + post.errors;
      } finally {
        await target.stop();
      }
    }
    out["http.get.ratio_ours_to_deno"] = round(
      Number(out["http.ours.get.rps"]) / Number(out["http.deno.get.rps"]),
      3,
    );
    out["http.post1k.ratio_ours_to_deno"] = round(
      Number(out["http.ours.post1k.rps"]) / Number(out["http.deno.post1k.rps"]),
      3,
    );
    Object.assign(out, await benchStackTap(postScript));
    Object.assign(out, await benchInProcess());
  } finally {
    await Deno.remove(postScript);
  }
  return out;
}

/**
 * The stack-over-TAP variant: http_echo on our stack in a child process, attached to a TAP inside a
 * throwaway namespace, with wrk running in that namespace against it. Returns its figures, or a
 * reason why it did not run (no root, no TAP support).
 */
async function benchStackTap(postScript: string): Promise<Record<string, number | string>> {
  let setup;
  try {
    setup = {
      ...(await import("../interop/setup.ts")),
      ...(await import("../interop/app_process.ts")),
    };
  } catch (error) {
    return { "http.stack_tap": `not run: ${(error as Error).message.split("\n")[0]}` };
  }
  let link;
  try {
    link = await setup.createLink("tap");
  } catch (error) {
    return { "http.stack_tap": `not run: ${(error as Error).message.split("\n")[0]}` };
  }
  const app = new setup.AppProcess("http_echo.ts", [
    "--nic",
    `tap:${link.stackIf}`,
    "--ip",
    `${link.stackIp}/24`,
    "--port",
    "80",
  ], link.ns.name);
  try {
    await app.waitFor(/http_echo listening/);
    const url = `http://${link.stackIp}`;
    await link.ns.exec("wrk", wrkArgs(`${url}/`, undefined, WARMUP_S));
    await link.ns.exec("wrk", wrkArgs(`${url}/echo`, postScript, WARMUP_S));
    const run = (target: string, script?: string) =>
      measured(app.child.pid, async () => {
        const r = await link.ns.exec("wrk", wrkArgs(target, script));
        return parseWrk(r.stdout);
      });
    const get = await run(`${url}/`);
    const post = await run(`${url}/echo`, postScript);
    return {
      "http.stack_tap.get.rps": round(get.rps),
      "http.stack_tap.get.p99_ms": round(get.p99Ms, 3),
      "http.stack_tap.get.cpu_us_per_req": round(get.cpuUsPerRequest, 1),
      "http.stack_tap.post1k.rps": round(post.rps),
      "http.stack_tap.post1k.p99_ms": round(post.p99Ms, 3),
      "http.stack_tap.post1k.cpu_us_per_req": round(post.cpuUsPerRequest, 1),
      "http.stack_tap.errors": get.errors + post.errors,
    };
  } catch (error) {
    return { "http.stack_tap": `failed: ${(error as Error).message.split("\n")[0]}` };
  } finally {
    await app.stop();
    await link.close();
  }
}

/**
 * The server's own CPU per GET with no network at all: the echo handler served over an in-memory
 * connection that hands the server the next request as soon as it reads. Process CPU time (not
 * wall time) after a warm-up, so other load on the machine hardly moves it; it isolates the HTTP
 * layer from TCP, the NIC and the kernel.
 */
export async function benchInProcess(requests = 100_000): Promise<Record<string, number>> {
  const { serve } = await import("../../stack/http/server.ts");
  const { echoHandler } = await import("../../apps/http_echo.ts");
  const warmup = Math.min(10_000, requests);
  const request = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: 10.0.0.2\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
  );
  const addr = { hostname: "127.0.0.1", port: 1, transport: "tcp" as const };
  let reads = 0;
  let startCpu = 0;
  let finish!: (cpu: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const conn = {
    readable: new ReadableStream<Uint8Array>(),
    writable: new WritableStream<Uint8Array>(),
    remoteAddr: addr,
    read(p: Uint8Array): Promise<number | null> {
      if (reads === warmup) startCpu = cpuMicros();
      if (reads++ === warmup + requests) {
        finish(cpuMicros() - startCpu);
        return Promise.resolve(null);
      }
      p.set(request);
      return Promise.resolve(request.length);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    // Like the stack's TcpConn: a write that fits is taken at once, and a timeout ends a pending
    // read itself (never here: reads resolve at once).
    tryWrite: (p: Uint8Array) => p.length,
    interruptRead() {},
    close() {},
  };
  const listener = {
    addr,
    close() {},
    async *[Symbol.asyncIterator]() {
      yield conn;
      // A listener that ends shuts its server down; this one lasts until the run is over.
      await finished;
    },
  };
  const server = serve({ listener, onListen() {} }, echoHandler);
  const cpu = await finished;
  await server.shutdown();
  return { "http.inproc.get.cpu_us_per_req": round(cpu / requests, 2) };
}

/** User plus system CPU time of this process, in microseconds. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function hasWrk(): Promise<boolean> {
  try {
    // wrk has no --version that exits 0; being able to start it is what matters.
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

function wrkArgs(url: string, script?: string, seconds = DURATION_S): string[] {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "2s", "--latency"];
  if (script) args.push("-s", script);
  args.push(url);
  return args;
}

async function wrk(url: string, script?: string, seconds = DURATION_S): Promise<WrkResult> {
  const args = wrkArgs(url, script, seconds);
  const { stdout } = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" })
    .output();
  return parseWrk(new TextDecoder().decode(stdout));
}

/** Extracts req/s, p99 latency and error counts from wrk's `--latency` report. */
export function parseWrk(text: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(text);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  const p99Ms = p99 ? Number(p99[1]) * scale[p99[2] as keyof typeof scale] : NaN;
  let errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (socket) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  return { rps, p99Ms, errors, requests };
}

/**
 * Runs `load` and adds the server's CPU time per request (user + system, from /proc): unlike
 * req/s it holds up when other work shares the machine.
 */
async function measured(
  pid: number,
  load: () => Promise<WrkResult>,
): Promise<WrkResult & { cpuUsPerRequest: number }> {
  const before = processCpuSeconds(pid);
  const result = await load();
  const after = processCpuSeconds(pid);
  return { ...result, cpuUsPerRequest: ((after - before) * 1e6) / result.requests };
}

/** Starts http_echo in a child process and waits for its "listening" line. */
function startApp(args: string[]): Promise<Target> {
  return spawnServer(["run", "-A", ECHO_APP.href, ...args]);
}

/** Starts the same handler under `Deno.serve` in a child process. */
function startDenoServe(): Promise<Target> {
  const code = `import { echoHandler } from ${JSON.stringify(ECHO_APP.href)};
Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: (a) =>
  console.log("http_echo listening on http://127.0.0.1:" + a.port + "/ (Deno.serve)") }, echoHandler);`;
  return spawnServer(["eval", code]);
}

async function spawnServer(args: string[]): Promise<Target> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port: string | undefined;
  while (port === undefined) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    port = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1];
  }
  if (port === undefined) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`Cannot start the server under test: ${text}`);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await drain;
    },
  };
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

if (import.meta.main) {
  // `inproc` runs only the in-memory figure (no wrk, no root needed).
  console.log(Deno.args[0] === "inproc" ? await benchInProcess() : await benchHttp());
}
