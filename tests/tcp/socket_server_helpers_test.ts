import assert from "node:assert/strict";
/**
 * The two synchronous helpers `TcpConn` offers a server beside `Deno.Conn`'s API: `interruptRead`
 * (a timeout ends the pending read) and `tryWrite` (a write that fits needs no promise).
 */
import { BadResource, TcpSockets } from "../../stack/socket/tcp.ts";
import type { TcpConfig } from "../../stack/layer/tcp/config.ts";
import { Sim } from "./sim.ts";

const waker = { wake() {} };

/** A simulated link with a listener on B's port 7 and one connection to it from A (`config` its own). */
async function connectedPair(config?: Partial<TcpConfig>) {
  const sim = new Sim();
  const listener = new TcpSockets(sim.tcpB, waker).listen({ port: 7 });
  const accepted = listener.accept();
  const client = await sim.drive(
    new TcpSockets(sim.tcpA, waker).connect({ hostname: "10.0.0.2", port: 7, config }),
  );
  return { sim, listener, client, server: await sim.drive(accepted) };
}

Deno.test("socket: interruptRead rejects the pending read and leaves the connection open", async () => {
  const { sim, listener, client, server } = await connectedPair();
  const buf = new Uint8Array(16);
  const pending = server.read(buf);
  const timeout = new Error("Timed out waiting for the request header");
  server.interruptRead(timeout);
  await assert.rejects(pending, (e: unknown) => e === timeout);
  // One-shot: the next read waits for data as usual, and the connection still carries both ways.
  await sim.drive(client.write(new TextEncoder().encode("late")));
  assert.equal(await sim.drive(server.read(buf)), 4);
  assert.equal(new TextDecoder().decode(buf.subarray(0, 4)), "late");
  await sim.drive(server.write(new TextEncoder().encode("answer")));
  assert.equal(await sim.drive(client.read(buf)), 6);
  client.close();
  server.close();
  listener.close();
});

Deno.test("socket: interruptRead with no read pending rejects the next read once", async () => {
  const { sim, listener, client, server } = await connectedPair();
  await sim.drive(client.write(new TextEncoder().encode("data")));
  server.interruptRead(new Error("stop"));
  await assert.rejects(server.read(new Uint8Array(8)), /stop/);
  assert.equal(await sim.drive(server.read(new Uint8Array(8))), 4, "the data is still there");
  client.close();
  server.close();
  listener.close();
});

Deno.test("socket: tryWrite takes what fits at once, 0 when the send buffer is full", async () => {
  const { sim, listener, client, server } = await connectedPair({ sendBufferSize: 1000 });
  assert.equal(client.tryWrite(new Uint8Array(0)), 0);
  assert.equal(client.tryWrite(new Uint8Array(600).fill(1)), 600);
  assert.equal(client.tryWrite(new Uint8Array(600).fill(2)), 400, "only what fits");
  assert.equal(client.tryWrite(new Uint8Array(10)), 0, "full: nothing, and no wait");
  const got = new Uint8Array(1000);
  let have = 0;
  while (have < 1000) have += (await sim.drive(server.read(got.subarray(have))))!;
  assert.deepEqual(got.subarray(598, 602), new Uint8Array([1, 1, 2, 2]));
  client.close();
  assert.throws(() => client.tryWrite(new Uint8Array(1)), BadResource);
  server.close();
  listener.close();
});
