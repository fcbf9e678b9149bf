/**
 * DHCP and DNS through the whole stack on a virtual clock: our client interface (no address) and a test
 * server interface joined by an in-memory link. The server side runs a small DHCP server and DNS server
 * written with our own wire reprs; the client side is `attachDhcp` + `attachResolver` exactly as an app
 * uses them.
 */

import assert from "node:assert/strict";
import { attachDhcp } from "../../stack/app/dhcp/attach.ts";
import type { DhcpLease } from "../../stack/app/dhcp/client.ts";
import { DhcpMessageType, DhcpPacket, DhcpRepr } from "../../stack/app/dhcp/wire.ts";
import { attachResolver, tcpConnector } from "../../stack/app/dns/attach.ts";
import { DnsError } from "../../stack/app/dns/resolver.ts";
import { DNS_CLASS_IN, DnsPacket, DnsRcode, DnsRepr, DnsType } from "../../stack/app/dns/wire.ts";
import { Interface } from "../../stack/layer/interface.ts";
import { type Impairments, MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { tcpFor, type TcpSockets } from "../../stack/socket/tcp.ts";
import { formatIpv4, Ipv4Cidr, parseIpv4 } from "../../stack/wire/address.ts";
import { WireError } from "../../stack/wire/error.ts";

const SERVER = parseIpv4("10.0.2.2");
const POOL = parseIpv4("10.0.2.15");
const S = 1000;

interface ServerLog {
  type: number;
  src: number;
  dst: number;
  ciaddr: number;
}

/** A minimal DHCP server: one address, offers and acks, optionally silent or refusing. */
function dhcpServer(iface: Interface, leaseS: number) {
  const log: ServerLog[] = [];
  const state = { silent: false, nak: false };
  iface.udp.bind(67, (d) => {
    const m = DhcpRepr.parse(new DhcpPacket(d.bytes, d.offset, d.length));
    if (m instanceof WireError || m.messageType === undefined) return;
    log.push({ type: m.messageType, src: d.src, dst: d.dst, ciaddr: m.ciaddr });
    if (state.silent || m.messageType === DhcpMessageType.Release) return;
    const r = new DhcpRepr();
    r.op = 2;
    r.xid = m.xid;
    r.chaddr = m.chaddr;
    r.broadcast = m.broadcast;
    r.serverId = SERVER;
    if (state.nak && m.messageType === DhcpMessageType.Request) {
      r.messageType = DhcpMessageType.Nak;
    } else {
      r.messageType = m.messageType === DhcpMessageType.Discover
        ? DhcpMessageType.Offer
        : DhcpMessageType.Ack;
      r.yiaddr = POOL;
      r.subnetMask = parseIpv4("255.255.255.0");
      r.routers = [SERVER];
      r.dnsServers = [SERVER];
      r.leaseTime = leaseS;
    }
    const bytes = new Uint8Array(r.bufferLength);
    r.emit(new DhcpPacket(bytes));
    // RFC 2131 §4.1: broadcast while the client has no address, unicast to ciaddr once it has one.
    iface.udp.send(67, m.ciaddr !== 0 ? m.ciaddr : 0xffffffff, 68, bytes);
  });
  return { log, state };
}

/** A minimal authoritative DNS server for `names`. */
function dnsServer(iface: Interface, names: Record<string, string>) {
  const seen: string[] = [];
  iface.udp.bind(53, (d) => {
    const q = DnsRepr.parse(new DnsPacket(d.bytes, d.offset, d.length));
    if (q instanceof WireError || q.questions.length !== 1) return;
    const question = q.questions[0];
    seen.push(question.name);
    const r = new DnsRepr();
    r.id = q.id;
    r.response = true;
    r.authoritative = true;
    r.questions = q.questions;
    const address = names[question.name];
    if (question.name === "many.test") r.truncated = true; // "does not fit": ask over TCP
    else if (address === undefined) r.rcode = DnsRcode.NxDomain;
    else if (question.type === DnsType.A) {
      r.answers = [{
        name: question.name,
        type: DnsType.A,
        class: DNS_CLASS_IN,
        ttl: 60,
        data: new Uint8Array(0),
        address: parseIpv4(address),
      }];
    }
    const bytes = new Uint8Array(r.bufferLength);
    r.emit(new DnsPacket(bytes));
    iface.udp.send(53, d.src, d.srcPort, bytes);
  });
  return { seen };
}

/** Answers DNS over TCP on port 53 (RFC 7766): 40 A records for many.test, then closes. */
function dnsTcpServer(sockets: TcpSockets) {
  const listener = sockets.listen({ port: 53 });
  const served: string[] = [];
  (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(512);
      let got = 0;
      while (got < 2 || got < 2 + ((buf[0] << 8) | buf[1])) {
        const n = await conn.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      const q = DnsRepr.parse(new DnsPacket(buf, 2, got - 2));
      if (q instanceof WireError) continue;
      served.push(q.questions[0].name);
      const r = new DnsRepr();
      r.id = q.id;
      r.response = true;
      r.questions = q.questions;
      r.answers = Array.from({ length: 40 }, (_, i) => ({
        name: "many.test",
        type: DnsType.A,
        class: DNS_CLASS_IN,
        ttl: 60,
        data: new Uint8Array(0),
        address: parseIpv4(`10.1.0.${i + 1}`),
      }));
      const out = new Uint8Array(2 + r.bufferLength);
      const length = r.emit(new DnsPacket(out, 2));
      out[0] = length >> 8;
      out[1] = length & 0xff;
      await conn.write(out);
      conn.close();
    }
  })();
  return { listener, served };
}

function setup(leaseS: number, impair?: Impairments) {
  const pair = new MemoryPair({ seed: 7, impair });
  const client = new Interface(pair.a, { rng: new Rng(1), announce: false });
  const server = new Interface(pair.b, {
    rng: new Rng(2),
    addresses: [Ipv4Cidr.parse("10.0.2.2/24")],
  });
  const dhcp = dhcpServer(server, leaseS);
  const dns = dnsServer(server, { "example.test": "10.0.2.80" });
  const bound: DhcpLease[] = [];
  const lost: string[] = [];
  const waker = { wake() {} };
  const late: { sockets?: TcpSockets } = {};
  const { resolver } = attachResolver(client, {
    servers: [],
    rng: new Rng(3),
    tcp: tcpConnector(() => late.sockets!),
  });
  late.sockets = tcpFor({ iface: client, runtime: waker });
  const tcpServer = dnsTcpServer(tcpFor({ iface: server, runtime: waker }));
  const { client: dhcpClient, leased } = attachDhcp(client, {
    mac: pair.a.mac,
    rng: new Rng(4),
    dns: resolver,
    onBound: (l) => bound.push(l),
    onUnbound: (_l, why) => lost.push(why),
  });
  let now = 0;
  /** Polls both interfaces on the virtual clock until `done()` or `limitMs` of virtual time. */
  const runUntil = async (done: () => boolean, limitMs: number) => {
    const end = now + limitMs;
    for (let i = 0; i < 100_000 && !done() && now <= end; i++) {
      const busy = client.poll(now) || server.poll(now);
      await Promise.resolve(); // let settled lookups run their callbacks
      if (busy) continue;
      const next = [client.pollAt(now), server.pollAt(now)].filter((t) => t !== undefined);
      now = Math.max(now + 1, Math.min(end + 1, ...next as number[]));
    }
    return done();
  };
  return {
    client,
    server,
    dhcp,
    dns,
    tcpServer,
    resolver,
    dhcpClient,
    leased,
    bound,
    lost,
    runUntil,
    now: () => now,
  };
}

Deno.test("dhcp+dns in memory: a lease configures the interface and names resolve through it", async () => {
  const t = setup(3600);
  assert.equal(t.client.ipv4.addresses.length, 0);
  assert.ok(await t.runUntil(() => t.bound.length > 0, 10 * S));
  assert.equal(t.dhcpClient.state, "bound");
  assert.equal(await t.leased, t.bound[0], "attachDhcp's promise gives the first lease");
  // The new address is announced by gratuitous ARP (RFC 5227 §2.3) so that stale caches update.
  assert.ok(await t.runUntil(() => t.client.arp.stats.txAnnouncements > 0, 2 * S));
  assert.deepEqual(t.client.ipv4.addresses.map(String), ["10.0.2.15/24"]);
  assert.equal(t.client.ipv4.routes.nextHop(parseIpv4("192.0.2.1")), SERVER, "default gateway");
  assert.deepEqual(t.resolver.servers, [SERVER]);
  // Before the lease the client spoke from 0.0.0.0 to the broadcast address.
  assert.deepEqual(
    t.dhcp.log.map((e) => [e.type, formatIpv4(e.src), formatIpv4(e.dst)]),
    [[1, "0.0.0.0", "255.255.255.255"], [3, "0.0.0.0", "255.255.255.255"]],
  );

  let answer: number[] | undefined;
  t.resolver.resolve("example.test", "A").then((a) => (answer = a));
  assert.ok(await t.runUntil(() => answer !== undefined, 5 * S));
  assert.deepEqual(answer, [parseIpv4("10.0.2.80")]);
  let failure: unknown;
  t.resolver.resolve("nope.test", "A").catch((e) => (failure = e));
  assert.ok(await t.runUntil(() => failure !== undefined, 5 * S));
  assert.ok(failure instanceof DnsError && failure.code === "not-found");
  assert.deepEqual(t.dns.seen, ["example.test", "nope.test"]);
});

Deno.test("dhcp+dns in memory: renewal is unicast from the leased address; expiry removes it", async () => {
  const t = setup(100);
  assert.ok(await t.runUntil(() => t.bound.length === 1, 10 * S));
  const acquired = t.now();
  assert.ok(await t.runUntil(() => t.bound.length === 2, 60 * S));
  assert.ok(t.now() >= acquired + 50 * S, "renewal waits for T1");
  const renewal = t.dhcp.log[2];
  assert.deepEqual(
    [renewal.type, formatIpv4(renewal.src), formatIpv4(renewal.dst), formatIpv4(renewal.ciaddr)],
    [3, "10.0.2.15", "10.0.2.2", "10.0.2.15"],
  );
  t.dhcp.state.silent = true;
  assert.ok(await t.runUntil(() => t.lost.length === 1, 200 * S));
  assert.deepEqual(t.lost, ["expired"]);
  assert.deepEqual(t.client.ipv4.addresses, []);
  assert.deepEqual(t.resolver.servers, []);
  assert.equal(t.client.ipv4.routes.nextHop(parseIpv4("192.0.2.1")), undefined);
  // Some REQUESTs went out by broadcast while rebinding, then DISCOVER starts over.
  assert.ok(await t.runUntil(() => t.dhcp.log.at(-1)!.type === 1, 10 * S));
  const types = t.dhcp.log.slice(3).map((e) => [e.type, formatIpv4(e.dst)]);
  assert.ok(types.some(([type, dst]) => type === 3 && dst === "255.255.255.255"));
  assert.ok(types.some(([type]) => type === 1));
});

Deno.test("dhcp+dns in memory: a NAK on renewal drops the address at once", async () => {
  const t = setup(100);
  assert.ok(await t.runUntil(() => t.bound.length === 1, 10 * S));
  t.dhcp.state.nak = true;
  assert.ok(await t.runUntil(() => t.lost.length === 1, 60 * S));
  assert.deepEqual(t.lost, ["nak"]);
  assert.deepEqual(t.client.ipv4.addresses, []);
});

Deno.test("dhcp+dns in memory: retransmission gets through a lossy link", async () => {
  const t = setup(3600, { loss: 0.4 });
  assert.ok(await t.runUntil(() => t.bound.length > 0, 300 * S));
  assert.ok(t.dhcpClient.stats.txPackets > 2, "some DHCP messages were lost and sent again");
  let answer: number[] | undefined;
  t.resolver.resolve("example.test", "A").then((a) => (answer = a), () => (answer = []));
  assert.ok(await t.runUntil(() => answer !== undefined, 30 * S));
});

Deno.test("dhcp+dns in memory: a truncated answer is fetched again over the stack's TCP", async () => {
  const t = setup(3600);
  assert.ok(await t.runUntil(() => t.bound.length > 0, 10 * S));
  let answer: number[] | undefined;
  let failure: unknown;
  t.resolver.resolve("many.test", "A").then((a) => (answer = a), (e) => (failure = e));
  assert.ok(await t.runUntil(() => answer !== undefined || failure !== undefined, 10 * S));
  assert.equal(failure, undefined);
  assert.equal(answer!.length, 40);
  assert.equal(answer![39], parseIpv4("10.1.0.40"));
  assert.deepEqual(t.tcpServer.served, ["many.test"]);
  assert.equal(t.resolver.stats.tcpFallbacks, 1);
  t.tcpServer.listener.close();
});
