/**
 * An unmodified Hono app served by our HTTP server: `serve(app.fetch)`.
 *
 *   deno run -A apps/hono_example.ts --port 8080
 *
 * @module
 */

import { Hono } from "npm:hono@4.13.19";
import { parseArgs } from "node:util";
import { serve } from "../stack/http/server.ts";

/** The example app: a greeting, a route parameter, JSON in and out, and a 404 handler. */
export const app: Hono = new Hono();

app.get("/", (c) => c.text("Hello from Hono on the Deno stack!"));
app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name") }));
app.post("/items", async (c) => {
  const item = await c.req.json();
  return c.json({ created: item }, 201);
});
app.notFound((c) => c.text("No such route", 404));

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "8080" },
      hostname: { type: "string", default: "127.0.0.1" },
    },
  });
  serve({ port: Number(values.port), hostname: values.hostname }, app.fetch);
}
