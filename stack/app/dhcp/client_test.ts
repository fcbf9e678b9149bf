import assert from "node:assert/strict";
import { IPV4_BROADCAST, parseIpv4, parseMac } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import { Rng } from "../../util/rng.ts";
import {
  DhcpClient,
  type DhcpClientOptions,
  type DhcpLease,
  type DhcpLossReason,
  prefixFromMask,
} from "./client.ts";
import { DhcpMessageType, DhcpPacket, DhcpRepr } from "./wire.ts";

const MAC = parseMac("02:00:00:00:00:07");
const SERVER = parseIpv4("10.0.2.2");
const OTHER_SERVER = parseIpv4("10.0.2.3");
const ADDRESS = parseIpv4("10.0.2.15");
const S = 1000;

interface Sent {
  src: number | undefined;
  srcPort: number;
  dst: number;
  dstPort: number;
  msg: DhcpRepr;
}

/** A fake UDP layer: records what the client sends and delivers what the test's server answers. */
class FakeUdp {
  sent: Sent[] = [];
  handler:
    | ((d: { src: number; bytes: Uint8Array; offset: number; length: number }, now: number) => void)
    | undefined;
  closed = false;

  bind(port: number, handler: NonNullable<FakeUdp["handler"]>) {
    assert.equal(port, 68);
    this.handler = handler;
    return { close: () => (this.closed = true) };
  }

  send(srcPort: number, dst: number, dstPort: number, data: Uint8Array, src?: number): string {
    const msg = DhcpRepr.parse(new DhcpPacket(data.slice()));
    if (msg instanceof WireError) throw msg;
    this.sent.push({ src, srcPort, dst, dstPort, msg });
    return "sent";
  }

  /** Takes the one datagram sent since the last call. */
  take(): Sent {
    assert.equal(this.sent.length, 1, `expected one datagram, got ${this.sent.length}`);
    return this.sent.pop()!;
  }

  deliver(reply: DhcpRepr, now: number, src = SERVER): void {
    const bytes = new Uint8Array(reply.bufferLength);
    reply.emit(new DhcpPacket(bytes));
    this.handler!({ src, bytes, offset: 0, length: bytes.length }, now);
  }
}

function reply(to: DhcpRepr, type: number, fields: Partial<DhcpRepr> = {}): DhcpRepr {
  const r = new DhcpRepr();
  r.op = 2;
  r.xid = to.xid;
  r.chaddr = to.chaddr;
  r.messageType = type;
  r.serverId = SERVER;
  if (type !== DhcpMessageType.Nak) {
    r.yiaddr = ADDRESS;
    r.subnetMask = parseIpv4("255.255.255.0");
    r.routers = [SERVER];
    r.dnsServers = [parseIpv4("10.0.2.3")];
    r.leaseTime = 86400;
  }
  return Object.assign(r, fields);
}

interface Harness {
  udp: FakeUdp;
  client: DhcpClient;
  bound: DhcpLease[];
  lost: [DhcpLease, DhcpLossReason][];
}

function setup(options: Partial<DhcpClientOptions> = {}): Harness {
  const udp = new FakeUdp();
  const bound: DhcpLease[] = [];
  const lost: [DhcpLease, DhcpLossReason][] = [];
  const client = new DhcpClient(udp, {
    mac: MAC,
    rng: new Rng(7),
    hostname: "denovm",
    onBound: (l) => bound.push(l),
    onUnbound: (l, why) => lost.push([l, why]),
    ...options,
  });
  return { udp, client, bound, lost };
}

/** Runs DISCOVER/OFFER/REQUEST/ACK at time `t` and returns the REQUEST. */
function acquire(h: Harness, t: number, ack: Partial<DhcpRepr> = {}): DhcpRepr {
  assert.equal(h.client.poll(t), true);
  const discover = h.udp.take().msg;
  h.udp.deliver(reply(discover, DhcpMessageType.Offer), t);
  const request = h.udp.take().msg;
  h.udp.deliver(reply(request, DhcpMessageType.Ack, ack), t);
  assert.equal(h.client.state, "bound");
  return request;
}

Deno.test("dhcp client: discover, offer, request, ack binds with the lease's parameters", () => {
  const h = setup();
  assert.equal(h.client.state, "init");
  assert.equal(h.client.pollAt(0), 0);
  h.client.poll(0);
  const d = h.udp.take();
  assert.deepEqual([d.src, d.srcPort, d.dst, d.dstPort], [0, 68, IPV4_BROADCAST, 67]);
  assert.equal(d.msg.messageType, DhcpMessageType.Discover);
  assert.equal(d.msg.broadcast, true);
  assert.equal(d.msg.chaddr, MAC);
  assert.equal(d.msg.ciaddr, 0);
  assert.equal(d.msg.requestedIp, undefined);
  assert.equal(d.msg.hostname, "denovm");
  assert.deepEqual(d.msg.clientId, new Uint8Array([1, 2, 0, 0, 0, 0, 7]));
  assert.deepEqual(d.msg.parameterRequestList, [1, 3, 6, 51, 58, 59]);
  assert.equal(h.client.state, "selecting");

  h.udp.deliver(reply(d.msg, DhcpMessageType.Offer), 300);
  const q = h.udp.take();
  assert.equal(q.dst, IPV4_BROADCAST);
  assert.equal(q.msg.messageType, DhcpMessageType.Request);
  assert.equal(q.msg.xid, d.msg.xid, "REQUEST reuses the OFFER's xid");
  assert.equal(q.msg.requestedIp, ADDRESS);
  assert.equal(q.msg.serverId, SERVER);
  assert.equal(q.msg.ciaddr, 0);
  assert.equal(h.client.state, "requesting");

  h.udp.deliver(reply(q.msg, DhcpMessageType.Ack, { renewalTime: 100, rebindingTime: 200 }), 500);
  assert.equal(h.client.state, "bound");
  assert.deepEqual(h.bound, [{
    address: ADDRESS,
    prefixLength: 24,
    router: SERVER,
    dnsServers: [parseIpv4("10.0.2.3")],
    serverId: SERVER,
    leaseTimeS: 86400,
    acquiredAt: 300,
    renewAt: 300 + 100 * S,
    rebindAt: 300 + 200 * S,
    expiresAt: 300 + 86400 * S,
  }]);
  assert.equal(h.client.pollAt(500), 300 + 100 * S);
  assert.equal(h.client.poll(300 + 100 * S - 1), false);
  assert.equal(h.udp.sent.length, 0);
});

Deno.test("dhcp client: xids come from the injected rng", () => {
  const a = setup({ rng: new Rng(1) });
  const b = setup({ rng: new Rng(1) });
  const c = setup({ rng: new Rng(2) });
  for (const h of [a, b, c]) h.client.poll(0);
  const [xa, xb, xc] = [a, b, c].map((h) => h.udp.take().msg.xid);
  assert.equal(xa, xb);
  assert.notEqual(xa, xc);
});

Deno.test("dhcp client: DISCOVER backs off 4, 8, 16, 32, 64, 64 s with ±1 s jitter", () => {
  const h = setup();
  let t = 0;
  h.client.poll(t);
  const xid = h.udp.take().msg.xid;
  for (const base of [4, 8, 16, 32, 64, 64]) {
    const due = h.client.pollAt(t)!;
    assert.ok(due - t >= (base - 1) * S && due - t <= (base + 1) * S, `${base} s: got ${due - t}`);
    assert.equal(h.client.poll(due - 1), false);
    t = due;
    assert.equal(h.client.poll(t), true);
    const m = h.udp.take().msg;
    assert.equal(m.xid, xid, "retransmissions keep the xid");
    assert.equal(m.secs, Math.floor(t / S));
  }
});

Deno.test("dhcp client: the initial delay is random and bounded", () => {
  const h = setup({ initialDelayMs: 10 * S });
  assert.equal(h.client.poll(0), false);
  const due = h.client.pollAt(0)!;
  assert.ok(due > 0 && due <= 10 * S);
  assert.equal(h.client.poll(due - 1), false);
  assert.equal(h.client.poll(due), true);
  assert.equal(h.udp.take().msg.messageType, DhcpMessageType.Discover);
});

Deno.test("dhcp client: unanswered REQUESTs fall back to INIT with a fresh xid", () => {
  const h = setup({ requestAttempts: 3 });
  h.client.poll(0);
  const d = h.udp.take().msg;
  h.udp.deliver(reply(d, DhcpMessageType.Offer), 0);
  h.udp.take();
  let t = 0;
  for (let i = 0; i < 2; i++) {
    t = h.client.pollAt(t)!;
    h.client.poll(t);
    assert.equal(h.udp.take().msg.messageType, DhcpMessageType.Request);
  }
  t = h.client.pollAt(t)!;
  h.client.poll(t);
  assert.equal(h.client.state, "init");
  assert.equal(h.udp.sent.length, 0);
  h.client.poll(t);
  const again = h.udp.take().msg;
  assert.equal(again.messageType, DhcpMessageType.Discover);
  assert.notEqual(again.xid, d.xid);
  assert.equal(again.requestedIp, ADDRESS, "asks for the address it was offered");
});

Deno.test("dhcp client: a NAK in REQUESTING restarts discovery without a requested address", () => {
  const h = setup();
  h.client.poll(0);
  h.udp.deliver(reply(h.udp.take().msg, DhcpMessageType.Offer), 0);
  const q = h.udp.take().msg;
  h.udp.deliver(reply(q, DhcpMessageType.Nak, { serverId: OTHER_SERVER }), 10);
  assert.equal(h.client.state, "requesting", "another server's NAK is ignored");
  assert.equal(h.client.stats.dropUnexpected, 1);
  h.udp.deliver(reply(q, DhcpMessageType.Nak), 10);
  assert.equal(h.client.state, "init");
  assert.equal(h.client.stats.naks, 1);
  assert.deepEqual(h.bound, []);
  h.client.poll(10);
  const d = h.udp.take().msg;
  assert.equal(d.messageType, DhcpMessageType.Discover);
  assert.equal(d.requestedIp, undefined);
});

Deno.test("dhcp client: drops replies that are not for this exchange", () => {
  const h = setup();
  h.client.poll(0);
  const d = h.udp.take().msg;
  h.udp.deliver(reply(d, DhcpMessageType.Offer, { xid: (d.xid + 1) >>> 0 }), 0);
  h.udp.deliver(reply(d, DhcpMessageType.Offer, { chaddr: MAC + 1 }), 0);
  h.udp.deliver(reply(d, DhcpMessageType.Offer, { op: 1 }), 0);
  assert.equal(h.client.stats.dropNotForUs, 3);
  h.udp.deliver(reply(d, DhcpMessageType.Ack), 0);
  h.udp.deliver(reply(d, DhcpMessageType.Offer, { serverId: undefined }), 0);
  h.udp.deliver(reply(d, DhcpMessageType.Offer, { yiaddr: 0 }), 0);
  assert.equal(h.client.stats.dropUnexpected, 3);
  h.udp.handler!({ src: SERVER, bytes: new Uint8Array(100), offset: 0, length: 100 }, 0);
  assert.equal(h.client.stats.dropMalformed, 1);
  assert.equal(h.client.state, "selecting");
  assert.equal(h.udp.sent.length, 0);
  // An ACK without a lease time is refused (RFC 2131 §4.3.1 makes it mandatory).
  h.udp.deliver(reply(d, DhcpMessageType.Offer), 0);
  const q = h.udp.take().msg;
  h.udp.deliver(reply(q, DhcpMessageType.Ack, { leaseTime: undefined }), 0);
  assert.equal(h.client.state, "requesting");
});

Deno.test("dhcp client: renews at T1 by unicast and extends the lease on ACK", () => {
  const h = setup();
  acquire(h, 0, { leaseTime: 1000, renewalTime: 500, rebindingTime: 875 });
  assert.equal(h.client.pollAt(0), 500 * S);
  h.client.poll(500 * S);
  assert.equal(h.client.state, "renewing");
  const r = h.udp.take();
  assert.equal(r.dst, SERVER);
  assert.equal(r.src, ADDRESS, "renewing sends from the leased address");
  assert.equal(r.msg.ciaddr, ADDRESS);
  assert.equal(r.msg.broadcast, false);
  assert.equal(r.msg.serverId, undefined, "RFC 2131 table 5: no server id while renewing");
  assert.equal(r.msg.requestedIp, undefined);
  assert.equal(r.msg.secs, 0);
  h.udp.deliver(reply(r.msg, DhcpMessageType.Ack, { leaseTime: 1000 }), 501 * S);
  assert.equal(h.client.state, "bound");
  assert.equal(h.bound.length, 2);
  assert.equal(h.bound[1].acquiredAt, 500 * S, "the lease counts from the REQUEST");
  assert.equal(h.bound[1].renewAt, 1000 * S);
  assert.equal(h.bound[1].rebindAt, 500 * S + 875 * S);
  assert.equal(h.bound[1].expiresAt, 1500 * S);
  assert.deepEqual(h.lost, []);
});

Deno.test("dhcp client: renewing and rebinding retransmit at half the time left, then the lease expires", () => {
  const h = setup();
  acquire(h, 0, { leaseTime: 1000, renewalTime: 500, rebindingTime: 875 });
  const times: number[] = [];
  const dsts: number[] = [];
  let t = 0;
  for (let i = 0; i < 20; i++) {
    const due = h.client.pollAt(t);
    if (due === undefined) break;
    t = due;
    h.client.poll(t);
    if (h.client.lease === undefined) break;
    const sent = h.udp.take();
    times.push(t / S);
    dsts.push(sent.dst);
  }
  // RENEWING: 500, then half of (875 - t) but at least 60 s: 687.5, 781.25; T2 - 781.25 = 93.75 → 60 s
  // later would pass the 60 s floor... 841.25 leaves 33.75 < 60, so wait until T2 = 875.
  // REBINDING: 875, half of 125 = 62.5 → 937.5; 62.5 left > 60 → wait 60 → 997.5; 2.5 left → 1000 expiry.
  assert.deepEqual(times, [500, 687.5, 781.25, 841.25, 875, 937.5, 997.5]);
  assert.deepEqual(dsts, [
    SERVER,
    SERVER,
    SERVER,
    SERVER,
    IPV4_BROADCAST,
    IPV4_BROADCAST,
    IPV4_BROADCAST,
  ]);
  assert.equal(t, 1000 * S);
  assert.equal(h.lost.length, 1);
  assert.equal(h.lost[0][1], "expired");
  assert.equal(h.lost[0][0].address, ADDRESS);
  assert.equal(h.client.lease, undefined);
  assert.equal(h.client.stats.leasesExpired, 1);
  assert.equal(h.client.state, "init");
  h.client.poll(t);
  const d = h.udp.take().msg;
  assert.equal(d.messageType, DhcpMessageType.Discover);
  assert.equal(d.requestedIp, undefined);
});

Deno.test("dhcp client: rebinding is broadcast and an ACK from any server binds", () => {
  const h = setup();
  acquire(h, 0, { leaseTime: 1000, renewalTime: 500, rebindingTime: 875 });
  h.client.poll(500 * S);
  h.udp.take();
  h.client.poll(875 * S);
  assert.equal(h.client.state, "rebinding");
  const r = h.udp.take();
  assert.equal(r.dst, IPV4_BROADCAST);
  assert.equal(r.msg.ciaddr, ADDRESS);
  assert.equal(r.msg.serverId, undefined);
  assert.equal(r.msg.secs, 375, "secs counts from the start of renewal");
  h.udp.deliver(
    reply(r.msg, DhcpMessageType.Ack, { serverId: OTHER_SERVER, leaseTime: 1000 }),
    876 * S,
  );
  assert.equal(h.client.state, "bound");
  assert.equal(h.client.lease!.serverId, OTHER_SERVER);
  assert.equal(h.client.lease!.expiresAt, 1875 * S);
});

Deno.test("dhcp client: a NAK while renewing drops the lease", () => {
  const h = setup();
  acquire(h, 0, { leaseTime: 100 });
  h.client.poll(50 * S);
  const r = h.udp.take().msg;
  h.udp.deliver(reply(r, DhcpMessageType.Nak), 51 * S);
  assert.equal(h.lost.length, 1);
  assert.equal(h.lost[0][1], "nak");
  assert.equal(h.client.state, "init");
  assert.equal(h.client.lease, undefined);
});

Deno.test("dhcp client: INIT-REBOOT asks for the previous address without a server id", () => {
  const h = setup({ previousAddress: ADDRESS });
  assert.equal(h.client.state, "init-reboot");
  h.client.poll(0);
  assert.equal(h.client.state, "rebooting");
  const q = h.udp.take();
  assert.equal(q.dst, IPV4_BROADCAST);
  assert.equal(q.msg.messageType, DhcpMessageType.Request);
  assert.equal(q.msg.requestedIp, ADDRESS);
  assert.equal(q.msg.serverId, undefined);
  h.udp.deliver(reply(q.msg, DhcpMessageType.Ack), 10);
  assert.equal(h.client.state, "bound");
  assert.equal(h.bound[0].address, ADDRESS);

  const n = setup({ previousAddress: ADDRESS });
  n.client.poll(0);
  n.udp.deliver(reply(n.udp.take().msg, DhcpMessageType.Nak), 10);
  assert.equal(n.client.state, "init");
  n.client.poll(10);
  assert.equal(n.udp.take().msg.requestedIp, undefined);
});

Deno.test("dhcp client: infinite leases never renew; inconsistent T1/T2 use the defaults", () => {
  const h = setup();
  acquire(h, 0, { leaseTime: 0xffffffff });
  assert.equal(h.client.pollAt(0), undefined);
  assert.equal(h.client.lease!.expiresAt, Infinity);

  const g = setup();
  acquire(g, 0, { leaseTime: 1000, renewalTime: 900, rebindingTime: 800 });
  assert.equal(g.client.lease!.renewAt, 500 * S);
  assert.equal(g.client.lease!.rebindAt, 875 * S);
});

Deno.test("dhcp client: release sends DHCPRELEASE to the server and stops", () => {
  const h = setup();
  acquire(h, 0);
  h.client.release(5 * S);
  const r = h.udp.take();
  assert.equal(r.dst, SERVER);
  assert.equal(r.msg.messageType, DhcpMessageType.Release);
  assert.equal(r.msg.ciaddr, ADDRESS);
  assert.equal(r.msg.serverId, SERVER);
  assert.equal(h.lost[0][1], "released");
  assert.equal(h.client.state, "stopped");
  assert.equal(h.udp.closed, true);
  assert.equal(h.client.pollAt(6 * S), undefined);
  assert.equal(h.client.poll(1e9), false);
});

Deno.test("dhcp client: prefix from the subnet mask, classful when missing or not contiguous", () => {
  assert.equal(prefixFromMask(parseIpv4("255.255.255.0"), 0), 24);
  assert.equal(prefixFromMask(parseIpv4("255.255.255.255"), 0), 32);
  assert.equal(prefixFromMask(0, 0), 0);
  assert.equal(prefixFromMask(parseIpv4("255.255.254.0"), 0), 23);
  assert.equal(prefixFromMask(parseIpv4("255.0.255.0"), parseIpv4("10.1.2.3")), 8);
  assert.equal(prefixFromMask(undefined, parseIpv4("172.16.0.1")), 16);
  assert.equal(prefixFromMask(undefined, parseIpv4("192.168.1.1")), 24);
});

Deno.test("dhcp client: binds from QEMU user-mode network's real OFFER and ACK", () => {
  const fixture = (name: string) =>
    Deno.readFileSync(new URL(`../../../tests/fixtures/dhcp/${name}`, import.meta.url));
  const h = setup({ mac: parseMac("02:00:00:00:00:01") });
  h.client.poll(0);
  const d = h.udp.take().msg;
  // slirp's replies carry the fixture's xid: rewrite it to this exchange's (bytes 4..7).
  const withXid = (bytes: Uint8Array, xid: number) => {
    const copy = bytes.slice();
    new DataView(copy.buffer).setUint32(4, xid);
    return copy;
  };
  const deliverRaw = (bytes: Uint8Array, now: number) =>
    h.udp.handler!({ src: SERVER, bytes, offset: 0, length: bytes.length }, now);
  deliverRaw(withXid(fixture("slirp_offer.bin"), d.xid), 1);
  const q = h.udp.take().msg;
  assert.equal(q.requestedIp, ADDRESS);
  assert.equal(q.serverId, SERVER);
  deliverRaw(withXid(fixture("slirp_ack.bin"), q.xid), 2);
  assert.equal(h.client.state, "bound");
  assert.equal(h.bound[0].address, ADDRESS);
  assert.equal(h.bound[0].prefixLength, 24);
  assert.equal(h.bound[0].router, undefined, "restricted slirp sends no router");
  assert.equal(h.bound[0].renewAt, 1 + 43200 * S);
});

Deno.test("dhcp client: decline sends DHCPDECLINE from 0.0.0.0 and waits 10 s to start over", () => {
  const h = setup();
  acquire(h, 0);
  h.client.decline(1 * S);
  const d = h.udp.take();
  assert.equal(d.src, 0);
  assert.equal(d.dst, IPV4_BROADCAST);
  assert.equal(d.msg.messageType, DhcpMessageType.Decline);
  assert.equal(d.msg.requestedIp, ADDRESS);
  assert.equal(d.msg.serverId, SERVER);
  assert.equal(d.msg.ciaddr, 0);
  assert.deepEqual(h.lost.map(([l, why]) => [l.address, why]), [[ADDRESS, "declined"]]);
  assert.equal(h.client.lease, undefined);
  assert.equal(h.client.pollAt(1 * S), 11 * S);
  assert.equal(h.client.poll(11 * S - 1), false);
  assert.equal(h.client.poll(11 * S), true);
  const again = h.udp.take().msg;
  assert.equal(again.messageType, DhcpMessageType.Discover);
  assert.equal(again.requestedIp, undefined, "the declined address is not asked for again");
  h.client.decline(12 * S); // no lease: nothing to decline
  assert.equal(h.udp.sent.length, 0);
});
