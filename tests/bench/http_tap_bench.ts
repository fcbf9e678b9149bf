/**
 * Issue 7's HTTP benchmark over real links, in the same run: wrk (1 thread, 50 connections, 3 s after
 * a 1 s warm-up) in a throwaway namespace against
 *   - `apps/http_echo.ts` on our stack, attached to a TAP whose Linux end is in that namespace, and
 *   - the same handler under `Deno.serve` on kernel sockets, in a second namespace joined by a veth,
 * so both answers cross a virtual link between namespaces. Reports req/s and p99 of GET / and of a
 * 1 KiB POST to /echo, and the stack's share of `Deno.serve`'s rate.
 *
 *   deno run -A tests/bench/http_tap_bench.ts
 *
 * @module
 */

import { AppProcess } from "../interop/app_process.ts";
import { createLink } from "../interop/setup.ts";
import { Netns, run } from "../nic/netns.ts";
import { parseWrk } from "./http_bench.ts";

const ECHO_APP = new URL("../../apps/http_echo.ts", import.meta.url);
const DURATION_S = 3;
const WARMUP_S = 1;
const CONNECTIONS = 50;

/** What wrk measured for one target and request kind. */
interface Figures {
  rps: number;
  p99Ms: number;
  errors: number;
}

/** Runs both targets and returns named figures: req/s, p99 (ms), errors, ratios. */
export async function benchHttpTap(): Promise<Record<string, number | string>> {
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
  try {
    record(out, "stack_tap", await stackOverTap(script));
    record(out, "deno_serve_veth", await denoServeOverVeth(script));
    for (const kind of ["get", "post1k"]) {
      const ours = Number(out[`http_tap.stack_tap.${kind}.rps`]);
      const deno = Number(out[`http_tap.deno_serve_veth.${kind}.rps`]);
      out[`http_tap.${kind}.ratio_stack_to_deno`] = Math.round((ours / deno) * 1000) / 1000;
    }
  } finally {
    await Deno.remove(script);
  }
  return out;
}

function record(
  out: Record<string, number | string>,
  name: string,
  figures: Record<string, Figures>,
): void {
  for (const [kind, f] of Object.entries(figures)) {
    out[`http_tap.${name}.${kind}.rps`] = Math.round(f.rps);
    out[`http_tap.${name}.${kind}.p99_ms`] = Math.round(f.p99Ms * 1000) / 1000;
    out[`http_tap.${name}.${kind}.errors`] = f.errors;
  }
}

/** GET and POST figures of wrk run inside `ns` against `base`. */
async function measure(ns: Netns, base: string, script: string): Promise<Record<string, Figures>> {
  const wrk = async (url: string, seconds: number, withScript: boolean) => {
    const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "2s", "--latency"];
    if (withScript) args.push("-s", script);
    const r = await ns.exec("wrk", [...args, url]);
    if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr.trim()}`);
    return parseWrk(r.stdout);
  };
  // The first second of a fresh process is mostly JIT compilation.
  await wrk(`${base}/`, WARMUP_S, false);
  await wrk(`${base}/echo`, WARMUP_S, true);
  return {
    get: await wrk(`${base}/`, DURATION_S, false),
    post1k: await wrk(`${base}/echo`, DURATION_S, true),
  };
}

/** http_echo on our stack over a TAP; wrk in the TAP's namespace. */
async function stackOverTap(script: string): Promise<Record<string, Figures>> {
  const link = await createLink("tap");
  const app = new AppProcess("http_echo.ts", [
    "--nic",
    `tap:${link.stackIf}`,
    "--ip",
    `${link.stackIp}/24`,
    "--port",
    "80",
  ], link.ns.name);
  try {
    await app.waitFor(/http_echo listening/);
    return await measure(link.ns, `http://${link.stackIp}`, script);
  } finally {
    await app.stop();
    await link.close();
  }
}

/** The same handler under `Deno.serve` in one namespace; wrk in another, joined by a veth. */
async function denoServeOverVeth(script: string): Promise<Record<string, Figures>> {
  const client = await Netns.create("hc");
  const server = await Netns.create("hs");
  let child: Deno.ChildProcess | undefined;
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
    return await measure(client, "http://10.79.20.2", script);
  } finally {
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
  }
}

if (import.meta.main) {
  console.log(await benchHttpTap());
}
