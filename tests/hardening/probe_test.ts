/**
 * Black-box probes from Linux against the stack over a TAP, driven by scapy (probe_scapy.py) in a
 * throwaway network namespace: the handshake, ISNs that differ between connections, data acknowledged
 * and echoed, a clean close, RST from a closed port, RFC 5961 challenge ACKs, and silence towards an
 * undersized data offset, a bad checksum and options of bad length. The stack runs in this process on the real-time runtime.
 */

import assert from "node:assert/strict";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpHandler } from "../../stack/layer/tcp/events.ts";
import { Rng } from "../../stack/util/rng.ts";
import { createLink, startStack } from "../interop/setup.ts";

const PORT = 7777;
const CLOSED_PORT = 9;
const SCRIPT = new URL("./probe_scapy.py", import.meta.url).pathname;

function canProbe(): boolean {
  try {
    return Deno.uid() === 0 && Deno.statSync("/usr/bin/python3").isFile;
  } catch {
    return false;
  }
}

/** An echo app: accepts, sends back what it reads, closes after the peer's FIN. */
function echoHandler(): TcpHandler {
  const buf = new Uint8Array(65536);
  return {
    receive(event) {
      if (event.kind === "open") {
        for (let c = event.listener.accept(); c !== undefined; c = event.listener.accept()) {
          c.handler = this;
        }
        return;
      }
      if (event.kind !== "in") return;
      const conn = event.conn;
      for (let n = conn.read(buf); n > 0; n = conn.read(buf)) conn.write(buf, 0, n);
      if (conn.readClosed) conn.close();
    },
  };
}

Deno.test({
  name: "probe: scapy from Linux over a TAP sees a well-behaved TCP",
  ignore: !canProbe(),
  async fn() {
    const link = await createLink("tap");
    const stack = startStack(link);
    const tcp = new TcpEndpoint({ rng: new Rng(3) });
    stack.iface.attach(6, tcp);
    tcp.listen(PORT, { handler: echoHandler() });
    try {
      const probeSrc = link.linuxIp.replace(/\.1$/, ".3");
      const r = await link.ns.exec("/usr/bin/python3", [
        SCRIPT,
        link.linuxIf,
        link.stackIp,
        probeSrc,
        String(PORT),
        String(CLOSED_PORT),
        "1",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      // Handshake: SYN-ACK acknowledging our ISN, with the options we offered.
      assert.ok(res.handshake, "no SYN-ACK");
      assert.equal(res.handshake.flags, "SA");
      assert.equal(res.handshake.ack_ok, true);
      assert.match(res.handshake.options, /MSS/);
      assert.match(res.handshake.options, /SAckOK/);
      assert.match(res.handshake.options, /Timestamp/);
      assert.match(res.handshake.options, /WScale/);
      // Data acknowledged and echoed; the close completes both ways.
      assert.deepEqual(res.data, { acked: true, echoed: true, echo: "hello, stack\n" });
      assert.deepEqual(res.close, { fin_acked: true, stack_fin: true });
      // RFC 5961 seen from Linux: challenge ACKs, and only the exact RST resets.
      assert.deepEqual(res.rfc5961, {
        rst_challenge: true,
        syn_challenge: true,
        reset_then_rst: true,
      });
      // ISNs differ between connections (RFC 6528), and not by a small step.
      assert.equal(res.isns.length, 4);
      assert.equal(new Set(res.isns).size, 4);
      for (let i = 1; i < res.isns.length; i++) {
        const step = (res.isns[i] - res.isns[i - 1]) >>> 0;
        assert.ok(step > 100_000 && step < 0xfffe7960, `ISN step ${step}`);
      }
      // Closed port: RST|ACK acknowledging the SYN.
      assert.deepEqual(res.closed, { flags: "RA", ack_ok: true });
      // Malformed segments: no answer at all, and the stack keeps serving.
      assert.equal(res.bad_offset_silent, true);
      assert.equal(res.bad_checksum_silent, true);
      assert.equal(res.bad_options_silent, true);
      assert.equal(res.alive, true);
      const stats = tcp.stats;
      assert.ok(stats.dropChecksum >= 1, `dropChecksum ${stats.dropChecksum}`);
      assert.ok(stats.dropMalformed >= 5, `dropMalformed ${stats.dropMalformed}`);
      // The echoed connection closed completely (LAST-ACK ended by the probe's ACK).
      let waited = 0;
      while (tcp.connectionCount > 0 && waited++ < 50) {
        await new Promise((ok) => setTimeout(ok, 20));
      }
      assert.equal(tcp.connectionCount, 0);
    } finally {
      await stack.stop();
      await link.close();
    }
  },
});
