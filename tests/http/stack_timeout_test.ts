/**
 * The server's header timeout over the stack's own TCP (simulated link, virtual clocks): `TcpConn`
 * ends the pending read itself (`interruptRead`), and the client gets its 408.
 */
import assert from "node:assert/strict";
import { DEFAULT_LIMITS } from "../../stack/http/limits.ts";
import { serve } from "../../stack/http/server.ts";
import { TcpSockets } from "../../stack/socket/tcp.ts";
import { Sim } from "../tcp/sim.ts";
import { VirtualClock } from "./virtual_clock.ts";

const waker = { wake() {} };
const TICK = 1000;

/** Runs the simulation until `promise` settles; fails on a stall. */
async function drive<T>(sim: Sim, promise: Promise<T>): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => (settled = true));
  watched.catch(() => {});
  assert.ok(await sim.runAsync(() => settled, 60_000), "the simulation stalled");
  return await watched;
}

Deno.test("a head that does not complete in time gets 408 over the stack's TCP", async () => {
  const sim = new Sim();
  const client = new TcpSockets(sim.tcpA, waker);
  const listener = new TcpSockets(sim.tcpB, waker).listen({ port: 80 });
  const clock = new VirtualClock();
  let handled = 0;
  const server = serve({ listener, clock, onListen: () => {} }, () => {
    handled++;
    return new Response("ok");
  });
  const conn = await drive(sim, client.connect({ hostname: "10.0.0.2", port: 80 }));
  await drive(sim, conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n")));
  // Let the server take in the partial head and wait for the rest.
  await sim.runAsync(() => false, 50);
  await clock.advance(DEFAULT_LIMITS.headersTimeoutMs + 2 * TICK);
  const buf = new Uint8Array(512);
  const n = await drive(sim, conn.read(buf));
  assert.ok(n !== null && n > 0);
  assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^HTTP\/1\.1 408 /);
  assert.equal(handled, 0);
  conn.close();
  await server.shutdown();
});
