/**
 * The HTTP echo app: what users try first.
 *
 *   GET /        a short greeting
 *   ANY /echo    the request body echoed back with its content type (streamed, not buffered)
 *   ANY /json    method, path, query, headers and body length as JSON
 *   GET /health  "ok"
 *
 *   deno run -A apps/http_echo.ts --port 8080                          # Deno's kernel sockets
 *   deno run -A apps/http_echo.ts --nic tap:tap0 --ip 10.0.0.2/24      # our stack, port 80
 *
 * On our stack it serves the port over IPv4 and IPv6 alike (link-local and SLAAC addresses), and prints
 * each IPv6 address once DAD has passed (`ipv6: address …`).
 *
 * @module
 */

import { runtimeClock } from "../stack/http/clock.ts";
import type { HttpListener } from "../stack/http/conn.ts";
import { DEFAULT_LIMITS } from "../stack/http/limits.ts";
import type { ServeHandler, ServeHandlerInfo } from "../stack/http/connection.ts";
import { type HttpServer, serve } from "../stack/http/server.ts";
import { DualStackListener } from "../stack/layer/ipv6/dual_listener.ts";
import { attachTcp6, type Tcp6 } from "../stack/layer/ipv6/tcp6.ts";
import { listen, TcpSockets } from "../stack/socket/tcp.ts";
import { formatIpv4 } from "../stack/wire/address.ts";
import { exitWithError, formatStats, watchSignals } from "./lib/cli.ts";
import { type Link, openLink } from "./lib/link.ts";
import {
  LINK_HELP,
  LINK_OPTIONS,
  parseCommandLine,
  parseIntegerOption,
  parseLinkValues,
  UsageError,
} from "./lib/link_options.ts";

const GREETING = "Hello from the Deno TCP/IP stack! Try /echo, /json or /health.\n";

/** The echo app's handler, usable with our `serve` and with `Deno.serve` alike. */
export async function echoHandler(req: Request, _info?: ServeHandlerInfo): Promise<Response> {
  const url = new URL(req.url);
  switch (url.pathname) {
    case "/":
      return req.method === "GET" || req.method === "HEAD"
        ? new Response(GREETING, { headers: { "content-type": "text/plain; charset=utf-8" } })
        : new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    case "/echo": {
      const headers = new Headers({
        "content-type": req.headers.get("content-type") ?? "application/octet-stream",
      });
      // A declared length is passed on so the echo keeps Content-Length framing; the body
      // itself flows from the request stream to the response without being buffered.
      const length = req.headers.get("content-length");
      if (length !== null) headers.set("content-length", length);
      return new Response(req.body, { headers });
    }
    case "/json": {
      let bodyLength = 0;
      if (req.body) { for await (const chunk of req.body) bodyLength += chunk.length; }
      return Response.json({
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(req.headers),
        bodyLength,
      });
    }
    case "/health":
      return new Response("ok\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
    default:
      return new Response("Not Found\n", { status: 404 });
  }
}

const OPTIONS = {
  ...LINK_OPTIONS,
  // Unlike the other apps, the default is Deno's own kernel sockets: reachable at once with curl.
  nic: { type: "string", default: "kernel" },
  port: { type: "string", short: "p" },
  hostname: { type: "string" },
  "max-body-bytes": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const ECHO_ABOUT =
  `Serves GET / (a greeting), ANY /echo (the body echoed back), ANY /json (the request
described as JSON) and GET /health.`;

/** The usage text of an HTTP app served by {@linkcode startHttpApp}. */
export function httpAppHelp(name: string, about: string): string {
  return `Usage: ${name}.ts [options]

${about} Runs until interrupted; SIGINT/SIGTERM shut down gracefully.

Options:
  -p, --port N      the port to serve (default 8080 with --nic kernel, else 80)
  --hostname ADDR   with --nic kernel: the address to bind (default 127.0.0.1)
  --max-body-bytes N  largest request body; larger ones get 413 (default 16 MiB)
  -h, --help        show this help

  --nic kernel      Deno's own kernel sockets (Deno.listen) instead of our stack (the default)

${LINK_HELP}`;
}

/** A running HTTP app; shutting it down also closes the link it runs on. */
export interface AppServer extends HttpServer {
  /** The NIC spec it runs on ("kernel" for Deno's sockets). */
  readonly nic: string;
}

/** A running echo server. */
export type EchoServer = AppServer;

/** Hooks for tests and embedders. */
export interface AppHooks {
  /** Called with the stack link once it is open (not for `--nic kernel`). */
  onLink?(link: Link): void;
}

/** What {@linkcode startHttpApp} serves. */
export interface HttpApp {
  /** The program name, used in the "listening" line and the usage text. */
  name: string;
  /** One or two sentences for the usage text. */
  about: string;
  /** The fetch-style handler (`app.fetch` for Hono). */
  handler: ServeHandler;
}

/**
 * Serves `app` as the command line asks: on Deno's kernel sockets (`--nic kernel`, the default) or
 * on our stack over any link (`--nic tap:NAME`, `packet:IF`, `virtio`, `memory`). Resolves to the
 * running server, or `undefined` when only help was asked.
 */
export async function startHttpApp(
  app: HttpApp,
  args: string[],
  hooks: AppHooks = {},
): Promise<AppServer | undefined> {
  const { values } = parseCommandLine({
    args,
    options: OPTIONS,
    allowPositionals: false,
    strict: true,
  });
  if (values.help) {
    console.log(httpAppHelp(app.name, app.about));
    return undefined;
  }
  const nic = values.nic;
  // /echo streams, so a large upload costs no memory; the cap stays a choice of whoever runs it.
  const limits = {
    maxBodyBytes: parseIntegerOption(
      "max-body-bytes",
      values["max-body-bytes"],
      DEFAULT_LIMITS.maxBodyBytes,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
  };
  const announce = (host: string, port: number) =>
    console.log(`${app.name} listening on http://${host}:${port}/ (nic ${nic})`);
  if (nic === "kernel") {
    const port = parseIntegerOption("port", values.port, 8080, 0, 65535);
    const hostname = values.hostname ?? "127.0.0.1";
    const server = serve({
      port,
      hostname,
      limits,
      onListen: (addr) => announce(addr.hostname, addr.port),
    }, app.handler);
    return Object.assign(server, { nic });
  }
  if (values.hostname !== undefined) {
    throw new UsageError("Bad --hostname: it applies to --nic kernel; use --ip on the stack");
  }
  const config = parseLinkValues(values);
  const port = parseIntegerOption("port", values.port, 80, 1, 65535);
  const link = await openLink(config);
  hooks.onLink?.(link);
  let stopWatch = () => {};
  try {
    const listener = dualStackListen(link, port);
    stopWatch = watchIpv6Addresses(link, (line) => console.log(line));
    const server = serve({
      listener,
      limits,
      clock: runtimeClock(link.runtime),
      // The interface's own address: with --ip dhcp it is the lease, not in the config.
      onListen: () => announce(formatIpv4(link.iface.ipv4.addresses[0]?.address ?? 0), port),
    }, app.handler);
    const finished = server.finished.then(() => {
      stopWatch();
      return link.close();
    });
    return {
      nic,
      addr: server.addr,
      finished,
      shutdown: () => server.shutdown().then(() => finished),
      [Symbol.asyncDispose]: () => server.shutdown().then(() => finished),
    };
  } catch (error) {
    stopWatch();
    await link.close();
    throw error;
  }
}

/**
 * Listens on `port` over IPv4 and, when the interface has IPv6 on (the default), over IPv6 too: a
 * second TCP endpoint through tcp6.ts, merged with the IPv4 listener into one accept loop.
 */
export function dualStackListen(link: Link, port: number): HttpListener {
  const v4 = listen(link, { port, backlog: 128 });
  if (link.iface.ipv6 === undefined) return v4;
  const tcp6 = attachTcp6(link.iface);
  tcp6ByLink.set(link, tcp6);
  const sockets = new TcpSockets(tcp6.endpoint, link.runtime, {
    resolve: tcp6.handles.resolver(),
    addresses: tcp6.handles.codec(),
  });
  return new DualStackListener([sockets.listen({ port, backlog: 128 }), v4]);
}

/** The IPv6 TCP of each link served, whose counters the interface does not list. */
const tcp6ByLink = new WeakMap<Link, Tcp6>();

/** The link's counters, with those of TCP over IPv6 when it serves IPv6. */
export function linkStats(link: Link): Record<string, Record<string, number>> {
  const stats = link.iface.stats();
  const tcp6 = tcp6ByLink.get(link);
  if (tcp6 !== undefined) {
    stats.tcp6 = { ...tcp6.endpoint.stats };
    stats.tcp6Adapter = { ...tcp6.adapter.stats };
  }
  return stats;
}

/** How often the IPv6 addresses are looked at for ones that passed DAD since. */
const IPV6_WATCH_MS = 250;

/**
 * Reports each IPv6 address of the link once it is preferred (DAD passed), with its origin, so that a
 * boot log shows the SLAAC address the host can reach; returns a function that stops watching.
 */
export function watchIpv6Addresses(link: Link, report: (line: string) => void): () => void {
  const ip = link.iface.ipv6;
  if (ip === undefined) return () => {};
  const reported = new Set<string>();
  const look = () => {
    for (const own of ip.config.addresses) {
      if (own.state !== "preferred" || reported.has(own.address.key)) continue;
      reported.add(own.address.key);
      report(`ipv6: address ${own.address}/${own.prefixLength} (${own.origin})`);
    }
  };
  // The IPv6 layer has no event for "DAD passed"; a slow look at a list of a few entries is enough.
  const timer = setInterval(look, IPV6_WATCH_MS);
  return () => clearInterval(timer);
}

/** Starts the echo app from command-line `args`; `undefined` when only help was asked. */
export function startEcho(args: string[], hooks: AppHooks = {}): Promise<EchoServer | undefined> {
  return startHttpApp({ name: "http_echo", about: ECHO_ABOUT, handler: echoHandler }, args, hooks);
}

/**
 * Runs an app until SIGINT/SIGTERM, then shuts down gracefully; resolves to the exit status. On our
 * stack it prints the counters on SIGUSR1 and at exit, as the other apps do.
 */
export async function runHttpApp(app: HttpApp, args: string[]): Promise<number> {
  let link: Link | undefined;
  const printStats = () => {
    if (link !== undefined) console.error(`Counters:\n${formatStats(linkStats(link))}`);
  };
  // Watched before serving: a SIGTERM right after the "listening" line must stop the app gracefully,
  // not kill it with the default action.
  const signals = watchSignals(printStats);
  let server: AppServer | undefined;
  try {
    server = await startHttpApp(app, args, { onLink: (l) => (link = l) });
    if (server !== undefined) await Promise.race([signals.stopped, server.finished]);
  } finally {
    signals.dispose();
    if (server !== undefined) {
      await server.shutdown();
      printStats();
    }
  }
  return 0;
}

/** Runs the echo app until SIGINT/SIGTERM; resolves to the exit status. */
export function main(args: string[]): Promise<number> {
  return runHttpApp({ name: "http_echo", about: ECHO_ABOUT, handler: echoHandler }, args);
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    exitWithError("http_echo", error);
  }
}
