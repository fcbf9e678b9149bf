/**
 * SYN floods over IPv6 (TCP through the IPv6 adapter, stack/layer/ipv6/tcp6.ts): the listener's backlog
 * and SYN cookies bound the connections as over IPv4, and the adapter's table of IPv6 addresses (the
 * 32-bit handles TCP keys on) must not grow with every spoofed source.
 */

import assert from "node:assert/strict";
import { attachTcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import { Rng } from "../../stack/util/rng.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import { fillChecksum6, STACK_LL } from "../fuzz/frames6.ts";
import { PEER_MAC, Rig, STACK_MAC } from "./rig.ts";

/** An Ethernet + IPv6 + TCP SYN from `src` (16 bytes) to the stack's link-local address. */
function syn6(src: Uint8Array, srcPort: number, seq: number): Uint8Array {
  const repr = new TcpRepr();
  repr.srcPort = srcPort;
  repr.dstPort = 80;
  repr.seq = seq >>> 0;
  repr.flags = TcpFlags.SYN;
  repr.window = 65535;
  repr.mss = 1440;
  const tcpLength = repr.headerLength;
  const frame = new Uint8Array(54 + tcpLength);
  for (let i = 0; i < 6; i++) {
    frame[i] = Math.floor(STACK_MAC / 256 ** (5 - i)) % 256;
    frame[6 + i] = Math.floor(PEER_MAC / 256 ** (5 - i)) % 256;
  }
  frame[12] = 0x86;
  frame[13] = 0xdd;
  frame[14] = 0x60;
  frame[19] = tcpLength;
  frame[20] = 6;
  frame[21] = 64;
  frame.set(src, 22);
  frame.set(STACK_LL, 38);
  repr.emit(new TcpPacket(frame, 54, tcpLength), 0, 0, "none");
  fillChecksum6(frame, 14, 54, tcpLength, 6, 16);
  return frame;
}

function randomSource(rng: Rng): Uint8Array {
  const a = new Uint8Array(16);
  a.set([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff]);
  for (let i = 6; i < 16; i++) a[i] = rng.below(256);
  return a;
}

function flood(count: number) {
  const rig = new Rig({ iface: { ipv6: { dadTransmits: 0, acceptRa: false } } });
  const keys = new Rng(4);
  const isnKey = new Uint8Array(16);
  const cookieKey = new Uint8Array(16);
  keys.fill(isnKey);
  keys.fill(cookieKey);
  const tcp6 = attachTcp6(rig.iface, { rng: new Rng(5), isnKey, cookieKey });
  const listener = tcp6.endpoint.listen(80, { backlog: 16 });
  rig.settle();
  const rng = new Rng(6);
  let maxConnections = 0;
  for (let i = 0; i < count; i++) {
    rig.inject(syn6(randomSource(rng), 1024 + rng.below(60000), rng.nextU32()));
    maxConnections = Math.max(maxConnections, tcp6.endpoint.connectionCount);
    if (i % 1000 === 999) rig.advance(rig.now + 50);
  }
  return { rig, tcp6, listener, maxConnections };
}

Deno.test("IPv6 SYN flood: the backlog holds, cookies answer the rest", () => {
  const { tcp6, listener, maxConnections } = flood(5000);
  assert.ok(maxConnections <= 16, `${maxConnections} connections`);
  assert.ok(listener.synReceived <= 16);
  const stats = tcp6.endpoint.stats;
  assert.equal(stats.rxSegments, 5000);
  assert.ok(stats.synCookiesSent + stats.dropControlQueueFull >= 5000 - 16, JSON.stringify(stats));
});

// Every IPv6 address the adapter met got a 32-bit handle that was never reclaimed: a flood of SYNs
// from spoofed sources filled the table, about 200 bytes per address, up to its cap, after which no
// new client could connect. Fixed in f09174c (handles no connection uses are swept).
Deno.test({
  name: "IPv6 SYN flood: spoofed sources do not fill the adapter's address table",
  fn() {
    const { tcp6 } = flood(20_000);
    assert.ok(tcp6.handles.size <= 64, `${tcp6.handles.size} addresses held`);
  },
});
