/**
 * TCP over IPv6 between two stacks on a memory cable (virtual clock), through `attachTcp6` and the
 * socket API with an IPv6-literal resolver; and a corrupted segment is dropped by the IPv6 checksum.
 */

import assert from "node:assert/strict";
import { Interface } from "../../stack/layer/interface.ts";
import { attachTcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { TcpSockets } from "../../stack/socket/tcp.ts";
import { Rng } from "../../stack/util/rng.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { Ipv6Address, Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";
import { ipv6PseudoHeaderSum } from "../../stack/wire/ipv6.ts";

const waker = { wake() {} };

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function setup(impair?: { loss?: number; corrupt?: number }) {
  const link = new MemoryPair({ seed: 4, impair: impair ?? {} });
  const ipv6 = (a: string) => ({ addresses: [Ipv6Cidr.parse(a)], dadTransmits: 0 });
  const a = new Interface(link.a, {
    rng: new Rng(1),
    announce: false,
    ipv6: ipv6("2001:db8::a/64"),
  });
  const b = new Interface(link.b, {
    rng: new Rng(2),
    announce: false,
    ipv6: ipv6("2001:db8::b/64"),
  });
  const tcpA = attachTcp6(a, { rng: new Rng(3) });
  const tcpB = attachTcp6(b, { rng: new Rng(4) });
  let now = 0;
  const drive = async <T>(promise: Promise<T>, limitMs = 120_000): Promise<T> => {
    let settled = false;
    const watched = promise.finally(() => (settled = true));
    watched.catch(() => {});
    for (const end = now + limitMs; !settled && now < end; now += 1) {
      a.poll(now);
      b.poll(now);
      await settle();
    }
    assert.ok(settled, "the simulation stalled");
    return await watched;
  };
  return {
    a,
    b,
    tcpA,
    tcpB,
    drive,
    sockA: new TcpSockets(tcpA.endpoint, waker, {
      resolve: tcpA.handles.resolver(),
      addresses: tcpA.handles.codec(),
    }),
    sockB: new TcpSockets(tcpB.endpoint, waker, {
      resolve: tcpB.handles.resolver(),
      addresses: tcpB.handles.codec(),
    }),
  };
}

async function readAll(conn: { read(b: Uint8Array): Promise<number | null> }): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

for (const impair of [{}, { loss: 0.02, corrupt: 0.01 }]) {
  Deno.test(`tcp6: 200 KiB each way over IPv6 sockets, ${JSON.stringify(impair)}`, async () => {
    const s = setup(impair);
    const data = new Uint8Array(200 * 1024);
    new Rng(8).fill(data);
    const listener = s.sockB.listen({ port: 80 });
    const server = (async () => {
      const conn = await listener.accept();
      const got = await readAll(conn);
      await conn.write(got);
      conn.close();
      return got.length;
    })();
    const client = (async () => {
      const conn = await s.sockA.connect({ hostname: "[2001:db8::b]", port: 80 });
      assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname: "2001:db8::b", port: 80 });
      assert.equal(conn.localAddr.hostname, "2001:db8::a");
      const reader = readAll(conn);
      await conn.write(data);
      await conn.closeWrite();
      return await reader;
    })();
    const [received, echoed] = await s.drive(Promise.all([server, client]));
    assert.equal(received, data.length);
    assert.deepEqual(echoed, data);
    const conns = s.tcpB.endpoint.stats;
    assert.ok(conns.rxSegments > 100);
    // The interface reports TCP over IPv6 beside its own layers, and forgets it on detach.
    const reported = s.b.stats();
    assert.equal(reported.tcp6.rxSegments, conns.rxSegments);
    assert.equal(reported.tcp6Adapter.rxSegments, s.tcpB.adapter.stats.rxSegments);
    if (impair.loss === undefined) {
      assert.equal(s.tcpB.adapter.stats.dropChecksum, 0);
    } else {
      const a = s.tcpA.endpoint.stats;
      const b = s.tcpB.endpoint.stats;
      assert.ok(a.retransmits + a.fastRetransmits + b.retransmits + b.fastRetransmits > 0);
      // Flipped bits are caught by the IPv6 pseudo-header checksum (or by the UDP/ICMP/IPv6 checks).
      const dropped = s.tcpA.adapter.stats.dropChecksum + s.tcpB.adapter.stats.dropChecksum;
      assert.ok(dropped > 0, "no corrupted segment reached the checksum");
    }
    // The connection's peer address maps back to A's IPv6 address.
    const peerHandle = s.tcpB.handles.peek(Ipv6Address.parse("2001:db8::a"));
    assert.ok(peerHandle !== undefined);
    assert.equal(s.tcpB.handles.address(peerHandle)?.toString(), "2001:db8::a");
    listener.close();
    s.tcpB.detach();
    assert.equal(s.b.stats().tcp6, undefined);
  });
}

Deno.test("tcp6: a connection to a closed port is refused, and a bad checksum is dropped", async () => {
  const s = setup();
  await assert.rejects(
    s.drive(s.sockA.connect({ hostname: "2001:db8::b", port: 81 })),
    (e: Error) => e.name === "ConnectionRefused",
  );
  // A segment whose checksum only fits the IPv4 pseudo-header never reaches TCP.
  const seg = new Uint8Array(20);
  seg[1] = 99;
  seg[3] = 80;
  seg[12] = 0x50;
  seg[13] = 0x02;
  const before = s.tcpB.endpoint.stats.rxSegments;
  s.b.ipv6!.register(6, s.tcpB.adapter);
  s.tcpB.adapter.receive({
    src: Ipv6Address.parse("2001:db8::a"),
    dst: Ipv6Address.parse("2001:db8::b"),
    nextHeader: 6,
    hopLimit: 64,
    bytes: seg,
    offset: 0,
    length: 20,
    packet: undefined as never,
  }, 0);
  assert.equal(s.tcpB.adapter.stats.dropChecksum, 1);
  assert.equal(s.tcpB.endpoint.stats.rxSegments, before);
});

Deno.test("tcp6: a SYN to a multicast group opens nothing and draws no reset", () => {
  const s = setup();
  s.tcpB.endpoint.listen(80, { handler: { receive() {} } });
  const syn = new Uint8Array(20);
  syn[1] = 99;
  syn[3] = 80;
  syn[12] = 0x50;
  syn[13] = 0x02;
  const src = Ipv6Address.parse("2001:db8::a");
  const dst = Ipv6Address.parse("ff02::1");
  const sum = internetChecksum(syn, 0, 20, ipv6PseudoHeaderSum(src, dst, 6, 20));
  syn[16] = sum >> 8;
  syn[17] = sum & 0xff;
  const before = s.tcpB.endpoint.stats.rxSegments;
  s.tcpB.adapter.receive({
    src,
    dst,
    nextHeader: 6,
    hopLimit: 64,
    bytes: syn,
    offset: 0,
    length: 20,
    packet: undefined as never,
  }, 0);
  assert.equal(s.tcpB.adapter.stats.dropMulticast, 1);
  assert.equal(s.tcpB.endpoint.stats.rxSegments, before);
});

Deno.test("tcp6: handles map addresses both ways, stay bounded and come back the same", async () => {
  const { Ipv6Handles } = await import("../../stack/layer/ipv6/tcp6.ts");
  const handles = new Ipv6Handles(2, 1234);
  assert.equal(handles.parse("::"), 0);
  const one = handles.parse("[2001:db8::1]")!;
  assert.ok(one > 0);
  assert.equal(handles.parse("2001:db8::1"), one);
  const two = handles.parse("2001:db8::2")!;
  assert.ok(two > 0 && two !== one);
  assert.equal(handles.parse("2001:db8::3"), undefined); // full
  assert.equal(handles.parse("10.0.0.1"), undefined);
  assert.equal(handles.format(two), "2001:db8::2");
  assert.equal(handles.format(0), "::");
  await assert.rejects(handles.resolver()("example.com"), /not an IPv6 literal/);
  assert.equal(await handles.resolver()("[2001:db8::2]"), two);
  // Forgotten and met again, an address gets its old handle back (SYN cookies stay valid).
  assert.equal(handles.retain(new Set([0, two])), 1);
  assert.equal(handles.address(one), undefined);
  assert.equal(handles.parse("2001:db8::1"), one);
});

Deno.test("tcp6: a stack talks TCP to itself on [::1]", async () => {
  const s = setup();
  const listener = s.sockA.listen({ port: 7 });
  const server = (async () => {
    const conn = await listener.accept();
    const got = await readAll(conn);
    await conn.write(got);
    conn.close();
  })();
  const client = (async () => {
    const conn = await s.sockA.connect({ hostname: "[::1]", port: 7 });
    const reader = readAll(conn);
    await conn.write(new TextEncoder().encode("loopback over ::1"));
    await conn.closeWrite();
    return new TextDecoder().decode(await reader);
  })();
  const [, text] = await s.drive(Promise.all([server, client]));
  assert.equal(text, "loopback over ::1");
  assert.ok(s.a.ipv6!.stats.loopback > 0);
  listener.close();
});

Deno.test("tcp6: addresses no connection uses are swept after their replies went out", async () => {
  const s = setup();
  const listener = s.sockB.listen({ port: 80 });
  const accepted = listener.accept();
  const conn = await s.drive(s.sockA.connect({ hostname: "2001:db8::b", port: 80 }));
  await s.drive(accepted);
  // Many segments to a closed port from many sources: each gets a reset, none keeps a handle.
  const seg = new Uint8Array(20);
  seg[0] = 0x9c;
  seg[3] = 81;
  seg[12] = 0x50;
  seg[13] = 0x02;
  for (let i = 1; i <= 500; i++) {
    const src = Ipv6Address.parse(`2001:db8::1:${i.toString(16)}`);
    const dst = Ipv6Address.parse("2001:db8::b");
    const sum = internetChecksum(seg.fill(0, 16, 18), 0, 20, ipv6PseudoHeaderSum(src, dst, 6, 20));
    seg[16] = sum >>> 8;
    seg[17] = sum & 0xff;
    s.tcpB.adapter.receive(
      {
        src,
        dst,
        nextHeader: 6,
        hopLimit: 64,
        bytes: seg,
        offset: 0,
        length: 20,
        packet: undefined as never,
      },
      0,
    );
    if (i % 50 === 0) s.tcpB.adapter.poll(0);
  }
  assert.ok(s.tcpB.handles.size <= 64, `${s.tcpB.handles.size} handles`);
  assert.ok(s.tcpB.adapter.stats.sweeps > 0);
  // The live connection's peer kept its handle and still talks.
  await s.drive(conn.write(new TextEncoder().encode("still here")));
  assert.ok(s.tcpB.handles.peek(Ipv6Address.parse("2001:db8::a")) !== undefined);
  conn.close();
  listener.close();
});
