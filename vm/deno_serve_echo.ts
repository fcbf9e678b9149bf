/**
 * The HTTP echo's handler (apps/http_echo.ts) served by `Deno.serve` on kernel sockets: the baseline the
 * VM benchmark compares our stack with in the `--kernel-net` guest, beside http_echo's own server on
 * kernel sockets. Takes the arguments the comparison guest passes (`--nic kernel --hostname 0.0.0.0
 * --port 80`) and stops on SIGINT/SIGTERM.
 *
 *   deno run -A vm/deno_serve_echo.ts --port 8080
 *
 * @module
 */

import { parseArgs } from "node:util";
import { echoHandler } from "../apps/http_echo.ts";

/** Serves the echo with `Deno.serve` until SIGINT/SIGTERM; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      nic: { type: "string", default: "kernel" },
      hostname: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
    },
  });
  if (values.nic !== "kernel") {
    throw new Error(`Deno.serve runs on kernel sockets, not '${values.nic}'`);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Bad --port ${values.port}`);
  }
  const server = Deno.serve({
    hostname: values.hostname,
    port,
    onListen: (addr) =>
      console.log(
        `deno_serve_echo listening on http://${addr.hostname}:${addr.port}/ (Deno.serve)`,
      ),
  }, (request) => echoHandler(request));
  const stop = () => server.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
