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
/** Virtual time after which a wait counts as a stalled simulation. */
const STALL_MS = 60_000;

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
  const conn = await sim.drive(client.connect({ hostname: "10.0.0.2", port: 80 }), STALL_MS);
  await sim.drive(conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n")), STALL_MS);
  // Let the server take in the partial head and wait for the rest.
  await sim.runAsync(() => false, 50);
  await clock.advance(DEFAULT_LIMITS.headersTimeoutMs + 2 * TICK);
  const buf = new Uint8Array(512);
  const n = await sim.drive(conn.read(buf), STALL_MS);
  assert.ok(n !== null && n > 0);
  assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^HTTP\/1\.1 408 /);
  assert.equal(handled, 0);
  conn.close();
  await server.shutdown();
});
