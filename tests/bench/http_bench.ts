/**
 * HTTP benchmark: wrk (1 thread, 50 keep-alive connections, 3 s) against the echo app served by
 * our HTTP server over kernel sockets, and against the same handler under `Deno.serve`, in the same
 * run. The stack-over-TAP variant joins once the stack's TCP sockets land (see `stackTarget`).
 *
 *   deno run -A tests/bench/http_bench.ts
 *
 * @module
 */

const ECHO_APP = new URL("../../apps/http_echo.ts", import.meta.url);
const DURATION_S = 3;
const CONNECTIONS = 50;

/** One wrk run's figures. */
interface WrkResult {
  rps: number;
  p99Ms: number;
  errors: number;
}

/** A server under test: where it listens and how to stop it. */
interface Target {
  url: string;
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
        const get = await wrk(`${target.url}/`);
        const post = await wrk(`${target.url}/echo`, postScript);
        out[`http.${name}.get.rps`] = round(get.rps);
        out[`http.${name}.get.p99_ms`] = round(get.p99Ms, 3);
        out[`http.${name}.post1k.rps`] = round(post.rps);
        out[`http.${name}.post1k.p99_ms`] = round(post.p99Ms, 3);
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
    out["http.stack_tap"] = await stackTarget();
  } finally {
    await Deno.remove(postScript);
  }
  return out;
}

/**
 * The hook for the stack-over-TAP variant: http_echo with a stack NIC inside a namespace needs
 * stack/socket/tcp.ts and apps/lib/link.ts. Until both exist it reports why it did not run.
 */
async function stackTarget(): Promise<string> {
  for (const path of ["../../stack/socket/tcp.ts", "../../apps/lib/link.ts"]) {
    try {
      await Deno.stat(new URL(path, import.meta.url));
    } catch {
      return `not run: ${path.slice(6)} is missing`;
    }
  }
  return "not run: TAP variant not wired yet";
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

async function wrk(url: string, script?: string): Promise<WrkResult> {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${DURATION_S}s`, "--timeout", "2s", "--latency"];
  if (script) args.push("-s", script);
  args.push(url);
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
  return { rps, p99Ms, errors };
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
  console.log(await benchHttp());
}
