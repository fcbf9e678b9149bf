/**
 * An unmodified Hono app served by our HTTP server (`serve(app.fetch)`), on Deno's kernel sockets
 * or on our own stack, with the same options as http_echo.
 *
 *   deno run -A apps/hono_example.ts --port 8080
 *   deno run -A apps/hono_example.ts --nic tap:tap0 --ip 10.0.0.2/24
 *
 * @module
 */

import { Hono } from "npm:hono@4.13.19";
import { exitWithError } from "./lib/cli.ts";
import { runHttpApp } from "./http_echo.ts";

/** The example app: a greeting, a route parameter, JSON in and out, and a 404 handler. */
export const app: Hono = new Hono();

app.get("/", (c) => c.text("Hello from Hono on the Deno stack!"));
app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name") }));
app.post("/items", async (c) => {
  const item = await c.req.json();
  return c.json({ created: item }, 201);
});
app.notFound((c) => c.text("No such route", 404));

/** Runs the Hono app until SIGINT/SIGTERM; resolves to the exit status (the VM's init calls this). */
export function main(args: string[]): Promise<number> {
  return runHttpApp({
    name: "hono_example",
    about: "Serves a small Hono app: GET /, GET /hello/:name, POST /items.",
    handler: app.fetch,
  }, args);
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    exitWithError("hono_example", error);
  }
}
