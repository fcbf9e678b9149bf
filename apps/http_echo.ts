/**
 * The HTTP echo app: what users try first.
 *
 *   GET /        a short greeting
 *   ANY /echo    the request body echoed back with its content type (streamed, not buffered)
 *   ANY /json    method, path, query, headers and body length as JSON
 *   GET /health  "ok"
 *
 *   deno run -A apps/http_echo.ts --nic kernel --port 8080     # Deno's own kernel sockets
 *   deno run -A apps/http_echo.ts --nic tap ...                # our stack (port 80 by default)
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { HttpAddr } from "../stack/http/conn.ts";
import type { ServeHandlerInfo } from "../stack/http/connection.ts";
import { type HttpServer, serve, type ServeOptions } from "../stack/http/server.ts";

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

/** Command-line options of the app. */
export const ECHO_OPTIONS = {
  nic: { type: "string", default: "kernel" },
  port: { type: "string" },
  hostname: { type: "string", default: "127.0.0.1" },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

/** Starts the app from command-line arguments; resolves to the running server. */
export async function main(args: string[]): Promise<HttpServer | undefined> {
  const { values } = parseArgs({ args, options: ECHO_OPTIONS, strict: false });
  if (values.help) {
    console.log(
      "Usage: http_echo.ts [--nic kernel|<stack nic>] [--port N] [--hostname H] [link options]",
    );
    return undefined;
  }
  const onListen = (addr: HttpAddr) =>
    console.log(`http_echo listening on http://${addr.hostname}:${addr.port}/ (nic ${values.nic})`);
  if (values.nic === "kernel") {
    const options: ServeOptions = {
      port: Number(values.port ?? 8080),
      hostname: String(values.hostname),
      onListen,
    };
    return serve(options, echoHandler);
  }
  return await serveOnStack(args, onListen);
}

/**
 * Serves the app on our own stack: the link (NIC, interface, runtime) comes from apps/lib/link.ts
 * and the listener from the stack's TCP sockets. Both are loaded lazily so the kernel mode works
 * without them.
 */
async function serveOnStack(
  args: string[],
  onListen: (addr: HttpAddr) => void,
): Promise<HttpServer> {
  const linkModule = new URL("./lib/link.ts", import.meta.url).href;
  const tcpModule = new URL("../stack/socket/tcp.ts", import.meta.url).href;
  let link, tcp;
  try {
    link = await import(linkModule);
    tcp = await import(tcpModule);
  } catch (error) {
    throw new Error(
      `Cannot serve on the stack: ${(error as Error).message}; use --nic kernel until it lands`,
    );
  }
  // TODO(#7): bind to the final link/TCP API once apps/lib/link.ts and stack/socket/tcp.ts land.
  const { values } = parseArgs({ args, options: ECHO_OPTIONS, strict: false });
  const stack = await link.openLink(args);
  const listener = tcp.listen(stack, { port: Number(values.port ?? 80) });
  const { runtimeClock } = await import("../stack/http/clock.ts");
  return serve({ listener, clock: runtimeClock(stack.runtime), onListen }, echoHandler);
}

if (import.meta.main) {
  await main(Deno.args);
}
