/**
 * Regression tests for bugs the fuzzer (tests/fuzz/) found. Each names the corpus input or seed that
 * found it. Tests of bugs still open are ignored with a TODO(#9) naming the cause and the fix.
 */

import assert from "node:assert/strict";
import { TcpFlags } from "../../stack/wire/tcp.ts";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { REMOTE_ISN, synSent } from "../tcp/fixture.ts";
import { FuzzHarness } from "../fuzz/harness.ts";
import { fillChecksum6, STACK_LL } from "../fuzz/frames6.ts";
import { attachTcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import { Rng } from "../../stack/util/rng.ts";
import { ipFrame, IpProtocol, PEER_IP, Rig, STACK_IP, tcpSegment } from "./rig.ts";

// Found by seed 1, frame 89681: SYN-SENT gets a bare SYN (simultaneous open, RFC 9293 Figure 8), the
// app closes in SYN-RECEIVED, and the SYN-ACK's retransmission timeout set SND.NXT back to ISS in
// FIN-WAIT-1; `#sendNext` then sent "data" at ISS, one byte before the send buffer, and
// SendBuffer.copyOut threw out of poll. Fixed in 2c34a72 (the FIN waits in SYN-RECEIVED).
Deno.test({
  name: "closing a simultaneous open before ESTABLISHED never throws out of poll",
  fn() {
    const { h, conn, iss } = synSent();
    h.send({ seq: REMOTE_ISN, flags: "SYN", mss: 1460 });
    const [synAck] = h.recv();
    assert.equal(synAck.flags, TcpFlags.SYN | TcpFlags.ACK);
    assert.equal(conn.state, TcpState.SynReceived);
    conn.closeWrite();
    const out = h.runUntil(5000);
    for (const seg of out) {
      assert.ok((seg.flags & TcpFlags.SYN) !== 0 || seg.seq !== iss, "no data or FIN at the ISS");
    }
  },
});

// Found by seed 1, frame 675: a segment sent to 255.255.255.255 (or the subnet broadcast) reaches
// the listener, which answered with a RST whose source was that broadcast address. IPv4 now refuses
// broadcast sources (63239a9), but a SYN to a broadcast address still creates a SYN-RECEIVED
// connection bound to the broadcast address, which holds a backlog slot until its SYN-ACK retries
// run out. RFC 1122 §4.2.3.10: TCP discards SYNs to broadcast or multicast addresses. Fixed by
// dropping (and counting) every TCP segment the IPv4 layer marks `broadcast`.
Deno.test({
  name: "TCP ignores segments sent to a broadcast address",
  fn() {
    const rig = new Rig({ tcp: {} });
    rig.tcp!.listen(80);
    rig.learnPeer();
    for (const dst of [0xffffffff, 0x0a0000ff]) {
      for (const flags of [TcpFlags.ACK, TcpFlags.SYN, TcpFlags.ACK | TcpFlags.PSH]) {
        const seg = tcpSegment(
          { srcPort: 4000, dstPort: 80, seq: 1, ack: 1, flags },
          undefined,
          PEER_IP,
          dst,
        );
        rig.inject(ipFrame({ protocol: IpProtocol.Tcp, dst }, seg));
      }
    }
    rig.advance(5000);
    const tcp = rig.take().filter((f) => f.protocol === IpProtocol.Tcp);
    assert.deepEqual(tcp.map((f) => f.src), []);
    assert.equal(rig.tcp!.connectionCount, 0);
    assert.equal(rig.tcp!.stats.dropBroadcast, 6);
  },
});

// Found by seed 1, frame 51: a peer that does not answer ARP fills its pending queue; IPv4 `send`
// answered "busy", which to TCP means "no NIC buffer, retry on the next poll": the control queue (and
// the ready list behind it) retried on every poll and the stack spun until ARP gave up. Fixed in
// 63239a9 (the datagram is dropped and counted as dropArpFull).
Deno.test({
  name: "a full ARP queue does not make the stack spin",
  fn() {
    const rig = new Rig({ tcp: {} });
    // Stray segments from an unresolved neighbour: each answer is a RST waiting for ARP.
    for (let i = 0; i < 12; i++) {
      const seg = tcpSegment({
        srcPort: 5000 + i,
        dstPort: 81,
        seq: 1,
        ack: 1,
        flags: TcpFlags.ACK,
      });
      rig.inject(ipFrame({ protocol: IpProtocol.Tcp }, seg));
    }
    // Settling at one instant must finish: nothing is due until the ARP retry.
    let polls = 0;
    while (rig.iface.poll(rig.now) && polls < 1000) polls++;
    assert.ok(polls < 1000, "the stack still had work after 1000 polls at one instant");
    const at = rig.iface.pollAt(rig.now);
    assert.ok(at === undefined || at > rig.now, `pollAt ${at} is not in the future`);
  },
});

// Found by seed 1, frame 25899 (with TCP over IPv6 in the harness): the IPv6 twin of the ARP bug
// above. When the neighbor cache is full, IPv6 `send` answers "busy" (stack/layer/ipv6/endpoint.ts,
// `if (result === "full") { this.stats.dropNeighborFull++; return "busy"; }`), so the TCP adapter's
// control queue retried on every poll and the stack spun until an entry freed up. Fixed in f09174c.
Deno.test({
  name: "a full IPv6 neighbor cache does not make the stack spin",
  fn() {
    const rig = new Rig({
      iface: { ipv6: { dadTransmits: 0, acceptRa: false, neighbors: { maxEntries: 2 } } },
    });
    const tcp6 = attachTcp6(rig.iface, { rng: new Rng(1) });
    tcp6.endpoint.listen(80);
    rig.settle();
    for (let p = 0; p < 6; p++) {
      const src = STACK_LL.slice();
      src[13] = 0;
      src[14] = 1;
      src[15] = p;
      rig.inject(syn6(src, 4000 + p)); // each SYN-ACK waits for neighbor discovery
    }
    let polls = 0;
    while (rig.iface.poll(rig.now) && polls < 1000) polls++;
    assert.ok(polls < 1000, "the stack still had work after 1000 polls at one instant");
  },
});

/** A TCP SYN over IPv6 from `src` to the stack's link-local address, port 80. */
function syn6(src: Uint8Array, srcPort: number): Uint8Array {
  const tcp = tcpSegment({ srcPort, dstPort: 80, seq: 1, flags: TcpFlags.SYN }, undefined, 0, 0);
  const frame = new Uint8Array(54 + tcp.length);
  frame.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 2, 0x86, 0xdd, 0x60], 0);
  frame[19] = tcp.length;
  frame[20] = 6;
  frame[21] = 64;
  frame.set(src, 22);
  frame.set(STACK_LL, 38);
  frame.set(tcp, 54);
  fillChecksum6(frame, 14, 54, tcp.length, 6, 16);
  return frame;
}

// Strict mode also fails on the broadcast SYN (above) and the SYN-cookie backlog count
// (tests/hardening/syn_flood_test.ts), both fixed.
Deno.test("the fuzzer's invariants hold in strict mode", () => {
  for (const seed of [1, 2, 3]) {
    const h = new FuzzHarness({ seed, strict: true });
    const failure = h.run(100_000);
    assert.equal(failure, undefined, failure?.message);
  }
});

Deno.test("the rig's addresses are those the regressions use", () => {
  assert.equal(STACK_IP, 0x0a000001);
  const rig = new Rig({ tcp: {} });
  rig.learnPeer();
  assert.equal(rig.iface.arp.cache.lookup(PEER_IP, 0) !== undefined, true);
});
