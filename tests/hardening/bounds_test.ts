/**
 * The resource-bounds audit (issue 9): each bound is configurable and has a counter that says when it
 * bit, and `Interface.stats()` shows every counter, TCP's included. Bounds covered elsewhere: half-open
 * connections (syn_flood_test.ts), IPv4 reassembly bytes and datagrams (fragment_test.ts), ARP entries
 * and pending queues (arp_test.ts), send buffers and zero windows (zero_window_test.ts), ICMP errors
 * (icmp_test.ts). Missing bounds are ignored tests with a TODO(#9) naming what to add.
 */

import assert from "node:assert/strict";
import { TcpEndpoint, type TcpEndpointOptions } from "../../stack/layer/tcp/endpoint.ts";
import { TcpFlags } from "../../stack/wire/tcp.ts";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { established } from "../tcp/fixture.ts";
import { ADDR_A, ADDR_B, HostPair } from "./host_pair.ts";
import { ipFrame, IpProtocol, Rig, tcpSegment } from "./rig.ts";

Deno.test("bounds: Interface.stats() reports TCP's counters once TCP is attached", () => {
  const rig = new Rig({ tcp: {} });
  rig.tcp!.listen(80);
  rig.learnPeer();
  rig.inject(
    ipFrame(
      { protocol: IpProtocol.Tcp },
      tcpSegment({ srcPort: 1000, dstPort: 80, seq: 1, flags: TcpFlags.SYN }),
    ),
  );
  const stats = rig.iface.stats();
  for (
    const layer of ["nic", "eth", "arp", "arpCache", "ipv4", "reassembly", "icmp", "udp", "tcp"]
  ) {
    assert.ok(stats[layer] !== undefined, `no ${layer} counters`);
  }
  assert.equal(stats.tcp.rxSegments, 1);
  assert.equal(stats.tcp.passiveOpens, 1);
  for (
    const name of [
      "dropBacklogFull",
      "dropControlQueueFull",
      "synCookiesSent",
      "challengeAcksSuppressed",
    ]
  ) {
    assert.equal(typeof stats.tcp[name], "number", `tcp.${name}`);
  }
});

Deno.test("bounds: without SYN cookies, a full backlog drops SYNs and counts them", () => {
  const rig = new Rig({ tcp: { synCookies: false } });
  const listener = rig.tcp!.listen(80, { backlog: 4 });
  rig.learnPeer();
  for (let i = 0; i < 50; i++) {
    rig.inject(
      ipFrame(
        { protocol: IpProtocol.Tcp },
        tcpSegment({ srcPort: 1000 + i, dstPort: 80, seq: i, flags: TcpFlags.SYN }),
      ),
    );
  }
  assert.equal(listener.synReceived, 4);
  assert.equal(rig.tcp!.connectionCount, 4);
  assert.equal(rig.tcp!.stats.dropBacklogFull, 46);
});

Deno.test("bounds: the control queue (RSTs, cookie SYN-ACKs) is bounded and counts its drops", () => {
  const rig = new Rig({ tcp: {} });
  rig.learnPeer();
  rig.nic.busyRate = 1; // the NIC takes nothing: answers pile up
  for (let i = 0; i < 1000; i++) {
    const syn = tcpSegment({ srcPort: 1000 + i, dstPort: 81, seq: i, flags: TcpFlags.SYN });
    const frame = ipFrame({ protocol: IpProtocol.Tcp }, syn);
    rig.nic.put(frame, frame.length);
    rig.iface.poll(rig.now);
  }
  assert.ok(
    rig.tcp!.stats.dropControlQueueFull >= 700,
    `${rig.tcp!.stats.dropControlQueueFull} dropped`,
  );
  rig.nic.busyRate = 0;
  rig.settle();
  assert.ok(rig.take().length <= 300);
});

// The endpoint has no limit on connections: every passive open the app accepts, every active open and
// every TIME-WAIT stays in its tables, and nothing counts a refusal. Linux bounds the accept queue
// (backlog, present here), orphans (tcp_max_orphans) and TIME-WAIT buckets (tcp_max_tw_buckets).
// Fixed: TcpEndpointOptions.maxConnections (default 65536) and stats.dropConnectionLimit.
Deno.test({
  name: "bounds: the TCP endpoint caps its connections and counts the refusals",
  fn() {
    const hp = new HostPair({ seed: 2, endpointA: { maxConnections: 8 } as TcpEndpointOptions });
    const listener = hp.tcpA.listen(80, { backlog: 64 });
    for (let i = 0; i < 20; i++) hp.tcpB.connect(ADDR_A, 80);
    hp.run(() => false, 5000);
    for (let c = listener.accept(); c !== undefined; c = listener.accept());
    assert.equal(hp.tcpA.connectionCount, 8);
    assert.ok(hp.tcpA.stats.dropConnectionLimit > 0);
    // An active open past the cap fails instead of joining the tables.
    const refused = hp.tcpA.connect(ADDR_B, 9);
    hp.run(() => false, 10);
    assert.equal(refused.state, TcpState.Closed);
    assert.equal(refused.error, "addressInUse");
  },
});

// The receive buffer keeps at most `maxOutOfOrderHoles` out-of-order ranges; a segment that would open
// one more is dropped, but no counter said so (rxOutOfOrder counts every out-of-order segment alike).
// Fixed: stats.dropOutOfOrderFull.
Deno.test({
  name: "bounds: out-of-order segments refused by the hole limit are counted",
  fn() {
    const { h, rs, ls } = established({ tcp: { maxOutOfOrderHoles: 4 } });
    for (let i = 0; i < 20; i++) {
      h.send({ seq: rs + 100 + i * 100, ack: ls, flags: "ACK", payload: 10 });
    }
    h.recv();
    assert.equal(h.endpoint.stats.dropOutOfOrderFull, 16);
  },
});

Deno.test("bounds: per-connection buffers are what the config says", () => {
  const ep = new TcpEndpoint({ config: { sendBufferSize: 1000, recvBufferSize: 2000 } });
  const conn = ep.connect(ADDR_A, 80, { localAddr: 0x0a000002, localPort: 5000 });
  assert.equal(conn.write(new Uint8Array(5000)), 1000);
  assert.equal(conn.writable, 0);
});
