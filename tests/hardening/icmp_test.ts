/**
 * ICMP hardening: errors the stack sends are rate-limited (RFC 1812 §4.3.2.8) and never sent about
 * broadcasts or other errors (RFC 1122 §3.2.2); errors it receives that quote forged segments do not
 * tear down or shrink connections (RFC 5927: blind connection-reset and throughput-reduction attacks).
 */

import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { TcpFlags } from "../../stack/wire/tcp.ts";
import { ADDR_A, ADDR_B, HostPair, Transfer } from "./host_pair.ts";
import {
  icmpError,
  ipFrame,
  IpProtocol,
  PEER_IP,
  quote,
  Rig,
  STACK_IP,
  tcpSegment,
  udpDatagram,
} from "./rig.ts";

const MAC_B = 0x020000000002;

function icmpSent(r: Rig, type: number): number {
  return r.take().filter((f) => f.protocol === IpProtocol.Icmp && f.payload[0] === type).length;
}

Deno.test("ICMP: port-unreachable errors are rate-limited by a token bucket", () => {
  const r = new Rig({ iface: { icmp: { errorRatePerSecond: 100, errorBurst: 20 } } });
  r.learnPeer();
  let sent = 0;
  for (let i = 0; i < 1000; i++) {
    r.inject(
      ipFrame(
        { protocol: IpProtocol.Udp, ident: i },
        udpDatagram(PEER_IP, STACK_IP, 4000, 9999, new Uint8Array(8)),
      ),
    );
    sent += icmpSent(r, 3);
    r.now += 0.1; // 1000 datagrams in 100 ms
  }
  assert.ok(sent >= 20 && sent <= 20 + 11, `${sent} errors in 100 ms`);
  assert.equal(r.iface.icmp.stats.errorsRateLimited, 1000 - sent);
  // A second later the bucket has refilled.
  r.now += 1000;
  for (let i = 0; i < 50; i++) {
    r.inject(
      ipFrame(
        { protocol: IpProtocol.Udp, ident: i },
        udpDatagram(PEER_IP, STACK_IP, 4000, 9999, new Uint8Array(8)),
      ),
    );
  }
  assert.ok(icmpSent(r, 3) >= 20);
});

Deno.test("ICMP: no errors about broadcast datagrams or about ICMP errors", () => {
  const r = new Rig();
  r.learnPeer();
  for (const dst of [0xffffffff, 0x0a0000ff]) {
    r.inject(
      ipFrame(
        { protocol: IpProtocol.Udp, dst },
        udpDatagram(PEER_IP, dst, 4000, 9999, new Uint8Array(8)),
      ),
    );
  }
  // An error about an error (port unreachable quoting an ICMP port unreachable) gets no answer.
  const inner = quote(
    STACK_IP,
    PEER_IP,
    IpProtocol.Icmp,
    icmpError(3, 3, quote(PEER_IP, STACK_IP, 17, new Uint8Array(8))).subarray(0, 8),
  );
  r.inject(ipFrame({ protocol: IpProtocol.Icmp }, icmpError(3, 3, inner)));
  // A datagram for an unknown protocol would draw protocol unreachable, but not when broadcast.
  r.inject(ipFrame({ protocol: 99, dst: 0x0a0000ff }, new Uint8Array(20)));
  assert.equal(icmpSent(r, 3), 0);
  assert.ok(r.iface.icmp.stats.errorsSuppressed >= 2);
});

Deno.test("RFC 5927: forged ICMP errors about a connection neither reset nor slow it", () => {
  const hp = new HostPair({ seed: 11 });
  const { client, server } = hp.connect(8080);
  const t = new Transfer(server, client, 2 * 1024 * 1024);
  const mssBefore = server.info.mss;
  const errors: [number, number, number][] = [
    [3, 0, 0], // net unreachable
    [3, 1, 0], // host unreachable
    [3, 2, 0], // protocol unreachable (a hard error in RFC 1122)
    [3, 3, 0], // port unreachable (hard)
    [3, 4, 68], // fragmentation needed, MTU 68: the PMTU attack of RFC 5927 §7
    [3, 4, 296],
    [3, 13, 0], // administratively prohibited
    [4, 0, 0], // source quench (RFC 6633: ignore)
    [11, 0, 0], // time exceeded
    [12, 0, 0], // parameter problem
  ];
  let round = 0;
  // Ten errors a step, so that they arrive while data flows; the run goes on until all 200 are in
  // (a transfer on the 1460-byte MSS can finish in fewer steps than 200).
  const ok = hp.run(() => {
    for (let i = 0; i < 10 && round < 200; i++) {
      // Quote a segment "we" sent to B with a guessed sequence number, in window or not.
      const [type, code, mtu] = errors[round % errors.length];
      const seq = round % 2 === 0 ? server.info.sndUna : (round * 0x01000193) >>> 0;
      const seg = tcpSegment(
        { srcPort: server.localPort, dstPort: server.remotePort, seq, flags: TcpFlags.ACK },
        undefined,
        ADDR_A,
        ADDR_B,
      );
      const frame = ipFrame(
        { protocol: IpProtocol.Icmp, src: 0x64400001, dst: ADDR_A },
        icmpError(type, code, quote(ADDR_A, ADDR_B, IpProtocol.Tcp, seg.subarray(0, 8)), mtu),
        MAC_B,
      );
      hp.injectToA(frame);
      round++;
    }
    return t.pump() && round >= 200;
  }, 120_000);
  assert.ok(ok, `transfer stalled at ${t.received}`);
  assert.equal(t.corrupt, undefined);
  assert.equal(round, 200);
  assert.ok(hp.a.icmp.stats.rxErrors >= 190, `${hp.a.icmp.stats.rxErrors} errors received`);
  assert.equal(server.state, TcpState.Established);
  assert.equal(client.state, TcpState.Established);
  assert.ok(server.info.mss >= Math.min(mssBefore, 536), `MSS fell to ${server.info.mss}`);
});
