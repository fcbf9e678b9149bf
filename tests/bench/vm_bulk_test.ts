import assert from "node:assert/strict";
import { echoBulk, measureBulk, median } from "./vm_bulk.ts";

Deno.test("median takes the middle value, the upper one of an even count", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 3);
  assert.equal(median([5]), 5);
});

/** An echo on loopback that answers /echo with the request body, or `cut` bytes fewer. */
function echoServer(cut = 0): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    return new Response(body.subarray(0, body.length - cut));
  });
}

Deno.test("measureBulk counts the warm-ups and summarises the measured POSTs", async () => {
  const server = echoServer();
  const file = await Deno.makeTempFile({ prefix: "vm_bulk_test_" });
  try {
    const bytes = 256 * 1024;
    await Deno.writeFile(file, new Uint8Array(bytes).fill(7));
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const summary = await measureBulk(url, Deno.pid, file, bytes, { warmups: 2, runs: 3 });
    assert.equal(summary.runs.length, 3);
    const rates = summary.runs.map((run) => run.mbps);
    assert.equal(summary.mbps, median(rates));
    assert.equal(summary.minMbps, Math.min(...rates));
    assert.equal(summary.maxMbps, Math.max(...rates));
    for (const run of [summary.cold, ...summary.runs]) {
      assert.ok(run.mbps > 0 && Number.isFinite(run.mbps));
      assert.ok(run.cpuSeconds >= 0);
    }
    // A first POST made by the caller is taken as the cold one, not repeated.
    const cold = { mbps: 1, cpuSeconds: 2 };
    const again = await measureBulk(url, Deno.pid, file, bytes, { warmups: 1, runs: 1, cold });
    assert.equal(again.cold, cold);
    assert.equal(again.runs.length, 1);
  } finally {
    await Deno.remove(file);
    await server.shutdown();
  }
});

Deno.test("echoBulk rejects an answer shorter than what was sent", async () => {
  const server = echoServer(1);
  const file = await Deno.makeTempFile({ prefix: "vm_bulk_test_" });
  try {
    await Deno.writeFile(file, new Uint8Array(4096).fill(1));
    await assert.rejects(
      echoBulk(`http://127.0.0.1:${server.addr.port}/`, Deno.pid, file, 4096),
      /POST \/echo of 4096 bytes answered 200 with 4095 bytes/,
    );
  } finally {
    await Deno.remove(file);
    await server.shutdown();
  }
});
