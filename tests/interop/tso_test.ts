/**
 * TCP segmentation offload over a TAP with virtio-net offloads: the stack sends 100 MiB to `nc` in
 * frames of up to 64 KiB with a GSO_TCPV4 header, SHA-256 exact; Linux's receiving socket measures an
 * MSS of 1448 (`ss` rcvmss, taken from gso_size), and a capture on Linux's side of the TAP sees frames
 * over the MTU. Everything lives in a throwaway namespace.
 */

import assert from "node:assert/strict";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import { TAP_TSO_MAX_BYTES, TapNic } from "../../stack/nic/tap.ts";
import { Rng } from "../../stack/util/rng.ts";
import { createLink, inNamespace, type Link, startStack } from "./setup.ts";
import { killChild, sendStreamToNc, TestStream, watchStderr, withDeadline } from "./tcp_fixture.ts";

const SIZE = 100 << 20;

async function withTsoStack(
  fn: (link: Link, running: ReturnType<typeof startStack>, tcp: TcpEndpoint) => Promise<void>,
): Promise<void> {
  const link = await createLink("tap-offload");
  const nic = inNamespace(
    link.ns.name,
    () => new TapNic(link.stackIf, { offload: true, tso: true }),
  );
  const running = startStack(link, nic);
  try {
    assert.equal(nic.caps.tsoMaxBytes, TAP_TSO_MAX_BYTES);
    const tcp = new TcpEndpoint({
      rng: new Rng(12),
      checksum: "pseudo",
      verifyChecksum: false,
      tsoMaxBytes: nic.caps.tsoMaxBytes,
    });
    running.iface.attach(6, tcp);
    await fn(link, running, tcp);
  } finally {
    await running.stop();
    await link.close();
  }
}

Deno.test("interop tap-offload with TSO: the stack sends 100 MiB to nc, SHA-256 intact", async () => {
  await withTsoStack(async (link, running, tcp) => {
    // Linux's view of the connection while it runs: rcvmss comes from the GSO frames' gso_size.
    const ss = link.ns.spawn("sh", [
      "-c",
      "for i in $(seq 100); do ss -tin 2>&1; sleep 0.1; done",
    ]);
    const capture = link.ns.spawn("tshark", [
      "-i",
      link.linuxIf,
      "-c",
      "400",
      "-a",
      "duration:30",
      "-T",
      "fields",
      "-e",
      "frame.len",
      "tcp",
    ]);
    try {
      await withDeadline(watchStderr(capture, /Capturing/).seen, 15_000, "tshark did not start");
      await sendStreamToNc(link, { stack: running, tcp }, new TestStream(SIZE, 23), 60);
      const stats = running.nic.stats;
      assert.ok(stats.txSegmentationOffloaded > 0, "no frame went with a GSO header");
      assert.equal(running.iface.ipv4.stats.txFragments, 0);
      const sizes = (await new Response(capture.stdout).text()).trim().split("\n").map(Number);
      assert.ok(sizes.some((n) => n > 1514), `largest captured frame ${Math.max(...sizes)}`);
      const seen = await new Response(ss.stdout).text();
      const mss = [...seen.matchAll(/rcvmss:(\d+)/g)].map((m) => Number(m[1]));
      assert.ok(mss.length > 0, `ss never saw the connection: ${seen}`);
      for (const m of mss) assert.ok(m <= 1448, `Linux measured a segment of ${m} bytes`);
      assert.equal(Math.max(...mss), 1448);
    } finally {
      await killChild(ss);
      await killChild(capture);
    }
  });
});
