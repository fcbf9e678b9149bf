/**
 * NDP, SLAAC and MLD of one stack against a scripted peer on a memory cable (virtual clock): what the
 * stack sends at start (MLD reports, DAD, router solicitation), how it answers solicitations, and what
 * it takes from router advertisements and redirects.
 */

import assert from "node:assert/strict";
import { isWireError } from "../../stack/wire/error.ts";
import { Icmpv6Type } from "../../stack/wire/icmpv6.ts";
import { IPV6_ALL_NODES, Ipv6Address, Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";
import { MldRecordType, MldReportRepr } from "../../stack/wire/mld.ts";
import { NdpRepr } from "../../stack/wire/ndp.ts";
import { Peer, PEER_LL, PEER_MAC, STACK_LL, STACK_MAC } from "./peer.ts";

function ndp(view: import("../../stack/wire/icmpv6.ts").Icmpv6Packet): NdpRepr {
  const repr = NdpRepr.parse(view);
  if (isWireError(repr)) throw repr;
  return repr;
}

function ra(
  peer: Peer,
  fill: (r: NdpRepr) => void,
  options: { src?: Ipv6Address; hopLimit?: number } = {},
) {
  const src = options.src ?? PEER_LL;
  const r = new NdpRepr();
  r.type = Icmpv6Type.RouterAdvert;
  r.sourceMac = PEER_MAC;
  fill(r);
  const bytes = Peer.icmp(
    src,
    IPV6_ALL_NODES,
    r.bufferLength,
    (v) => r.emit(v, src, IPV6_ALL_NODES),
  );
  peer.send({ src, dst: IPV6_ALL_NODES, nextHeader: 58, hopLimit: options.hopLimit ?? 255 }, bytes);
}

const PREFIX = Ipv6Address.parse("2001:db8:5::");
const SLAAC = PREFIX.withMacInterfaceId(STACK_MAC);

Deno.test("ndp: start-up sends MLD reports, a DAD probe from ::, then a router solicitation", () => {
  const peer = new Peer();
  peer.run(6000);
  const reports = peer.icmp(Icmpv6Type.MldReportV2);
  assert.ok(reports.length >= 2, "the state change report is sent twice (robustness 2)");
  const first = reports[0];
  assert.equal(first.sent.ip.hopLimit, 1);
  assert.equal(first.sent.ip.nextHeader, 0); // behind a hop-by-hop router alert
  assert.equal(first.sent.ip.dst.toString(), "ff02::16");
  assert.equal(first.sent.ip.src.toString(), "::"); // the link-local address is still tentative
  const report = MldReportRepr.parse(first.view);
  assert.ok(!isWireError(report));
  assert.deepEqual(report.records.map((r) => [r.type, r.group.toString()]), [
    [MldRecordType.ChangeToExclude, STACK_LL.solicitedNode.toString()],
  ]);
  const dad = peer.icmp(Icmpv6Type.NeighborSolicit);
  assert.equal(dad.length, 1);
  assert.equal(dad[0].sent.ip.src.toString(), "::");
  assert.equal(dad[0].sent.ip.dst.toString(), STACK_LL.solicitedNode.toString());
  assert.equal(dad[0].sent.ip.hopLimit, 255);
  assert.equal(dad[0].sent.dstMac, STACK_LL.solicitedNode.multicastMac);
  const ns = ndp(dad[0].view);
  assert.ok(ns.target.equals(STACK_LL) && ns.sourceMac === undefined);
  const rs = peer.icmp(Icmpv6Type.RouterSolicit);
  assert.equal(rs.length, 2, "RTR_SOLICITATION_INTERVAL is 4 s");
  assert.ok(rs[0].sent.ip.src.equals(STACK_LL));
  assert.equal(ndp(rs[0].view).sourceMac, STACK_MAC);
  peer.run(10_000);
  assert.equal(peer.icmp(Icmpv6Type.RouterSolicit).length, 3, "MAX_RTR_SOLICITATIONS is 3");
});

Deno.test("ndp: a solicitation for our address is answered with a solicited, overriding NA", () => {
  const peer = new Peer();
  peer.run(2500);
  const ns = new NdpRepr();
  ns.type = Icmpv6Type.NeighborSolicit;
  ns.target = STACK_LL;
  ns.sourceMac = PEER_MAC;
  const dst = STACK_LL.solicitedNode;
  peer.send(
    { src: PEER_LL, dst, nextHeader: 58, hopLimit: 255 },
    Peer.icmp(PEER_LL, dst, ns.bufferLength, (v) => ns.emit(v, PEER_LL, dst)),
  );
  peer.run(20);
  const na = peer.icmp(Icmpv6Type.NeighborAdvert);
  assert.equal(na.length, 1);
  assert.ok(na[0].sent.ip.dst.equals(PEER_LL));
  assert.equal(na[0].sent.dstMac, PEER_MAC); // learned from the NS's option, no resolution needed
  const repr = ndp(na[0].view);
  assert.deepEqual([repr.solicited, repr.override, repr.router], [true, true, false]);
  assert.equal(repr.targetMac, STACK_MAC);
  assert.equal(peer.ip6.neighbors.get(PEER_LL)?.state, "stale");
  // The same solicitation with hop limit 254 crossed a router: ignored.
  peer.send(
    { src: PEER_LL, dst, nextHeader: 58, hopLimit: 254 },
    Peer.icmp(PEER_LL, dst, ns.bufferLength, (v) => ns.emit(v, PEER_LL, dst)),
  );
  peer.run(20);
  assert.equal(peer.icmp(Icmpv6Type.NeighborAdvert).length, 1);
  assert.equal(peer.ip6.ndp.stats.dropHopLimit, 1);
});

Deno.test("ndp: a router advertisement configures SLAAC, the default router, MTU and hop limit", () => {
  const peer = new Peer();
  peer.run(2500);
  ra(peer, (r) => {
    r.routerLifetime = 1800;
    r.curHopLimit = 99;
    r.mtu = 1400;
    r.prefixes = [{
      prefix: PREFIX,
      prefixLength: 64,
      onLink: true,
      autonomous: true,
      validLifetime: 86400,
      preferredLifetime: 14400,
    }];
  });
  peer.run(100);
  const ip6 = peer.ip6;
  assert.equal(ip6.config.find(SLAAC)?.state, "tentative");
  assert.ok(!ip6.hasAddress(SLAAC));
  peer.run(2100);
  const dad = peer.icmp(Icmpv6Type.NeighborSolicit).filter((x) => ndp(x.view).target.equals(SLAAC));
  assert.equal(dad.length, 1);
  assert.ok(dad[0].sent.ip.src.isUnspecified);
  assert.ok(ip6.hasAddress(SLAAC));
  assert.equal(ip6.linkMtu, 1400);
  assert.equal(ip6.hopLimit, 99);
  assert.deepEqual(ip6.config.routers.map((r) => r.address.toString()), [PEER_LL.toString()]);
  assert.equal(ip6.neighbors.get(PEER_LL)?.isRouter, true);
  assert.ok(ip6.config.isOnLink(Ipv6Address.parse("2001:db8:5::77")));
  // Off-link destinations go to the router's MAC, from the SLAAC address.
  ip6.icmp.ping(Ipv6Address.parse("2001:db8:77::1"), { ident: 1, seq: 1 });
  peer.run(10);
  const echo = peer.icmp(Icmpv6Type.EchoRequest);
  assert.equal(echo.length, 1);
  assert.equal(echo[0].sent.dstMac, PEER_MAC);
  assert.ok(echo[0].sent.ip.src.equals(SLAAC));
  // RDNSS servers are kept for the resolver.
  const servers: string[][] = [];
  ip6.ndp.onDnsServers = (list) => servers.push(list.map(String));
  ra(peer, (r) => {
    r.routerLifetime = 1800;
    r.dnsServers = [Ipv6Address.parse("2001:db8::53")];
    r.dnsLifetime = 600;
  });
  peer.run(10);
  assert.deepEqual(servers, [["2001:db8::53"]]);
  assert.equal(ip6.ndp.dnsServers.length, 1);
  // Router lifetime 0 removes the router.
  ra(peer, (r) => (r.routerLifetime = 0));
  peer.run(10);
  assert.equal(ip6.config.routers.length, 0);
});

Deno.test("ndp: a lowered valid lifetime keeps two hours (RFC 4862 §5.5.3 e) and lifetimes expire", () => {
  const peer = new Peer();
  peer.run(2500);
  const advertise = (prefix: Ipv6Address, valid: number, preferred: number) =>
    ra(peer, (r) => {
      r.prefixes = [{
        prefix,
        prefixLength: 64,
        onLink: true,
        autonomous: true,
        validLifetime: valid,
        preferredLifetime: preferred,
      }];
    });
  advertise(PREFIX, 86400, 3600);
  peer.run(2100);
  const own = peer.ip6.config.find(SLAAC)!;
  assert.equal(own.state, "preferred");
  const t0 = peer.now;
  advertise(PREFIX, 60, 30);
  peer.run(5);
  assert.equal(own.validUntil, t0 + 2 * 3600 * 1000);
  assert.equal(own.preferredUntil, t0 + 30_000);
  // With two hours or less remaining, a shorter lifetime is ignored.
  advertise(PREFIX, 60, 30);
  peer.run(5);
  assert.equal(own.validUntil, t0 + 2 * 3600 * 1000);
  // A short-lived prefix: deprecated after its preferred lifetime, gone after its valid lifetime.
  const other = Ipv6Address.parse("2001:db8:6::");
  const short = other.withMacInterfaceId(STACK_MAC);
  advertise(other, 10, 5);
  peer.run(2100);
  assert.equal(peer.ip6.config.find(short)?.state, "preferred");
  peer.run(4000);
  assert.equal(peer.ip6.config.find(short)?.state, "deprecated");
  assert.ok(peer.ip6.hasAddress(short));
  peer.run(5000);
  assert.equal(peer.ip6.config.find(short), undefined);
  assert.ok(!peer.ip6.config.isOnLink(Ipv6Address.parse("2001:db8:6::1")));
});

Deno.test("ndp: advertisements from a global source, with a crossed hop limit or zero-length options are ignored", () => {
  const peer = new Peer();
  peer.run(2500);
  ra(peer, (r) => (r.routerLifetime = 1800), { src: Ipv6Address.parse("2001:db8::1") });
  ra(peer, (r) => (r.routerLifetime = 1800), { hopLimit: 64 });
  const bad = new NdpRepr();
  bad.type = Icmpv6Type.RouterAdvert;
  bad.routerLifetime = 1800;
  bad.sourceMac = PEER_MAC;
  const bytes = Peer.icmp(PEER_LL, IPV6_ALL_NODES, bad.bufferLength, (v) => {
    bad.emit(v, PEER_LL, IPV6_ALL_NODES);
    v.bytes[16 + 1] = 0; // the option's length
  });
  peer.send({ src: PEER_LL, dst: IPV6_ALL_NODES, nextHeader: 58, hopLimit: 255 }, bytes);
  peer.run(20);
  assert.equal(peer.ip6.config.routers.length, 0);
  assert.equal(peer.ip6.ndp.stats.ignoredRa, 1);
  assert.equal(peer.ip6.ndp.stats.dropHopLimit, 1);
  assert.equal(peer.ip6.ndp.stats.dropInvalid, 1);
});

Deno.test("ndp: a redirect from the current router sends later packets to the better first hop", () => {
  const peer = new Peer();
  peer.run(2500);
  ra(peer, (r) => (r.routerLifetime = 1800));
  peer.run(10);
  const dst = Ipv6Address.parse("2001:db8:9::1");
  const better = Ipv6Address.parse("fe80::99");
  const rd = new NdpRepr();
  rd.type = Icmpv6Type.Redirect;
  rd.target = better;
  rd.destination = dst;
  rd.targetMac = 0x020000000099;
  peer.send(
    { src: PEER_LL, dst: STACK_LL, nextHeader: 58, hopLimit: 255 },
    Peer.icmp(PEER_LL, STACK_LL, rd.bufferLength, (v) => rd.emit(v, PEER_LL, STACK_LL)),
  );
  // The same redirect from a node that is not our router is ignored.
  const liar = Ipv6Address.parse("fe80::bad");
  peer.send(
    { src: liar, dst: STACK_LL, nextHeader: 58, hopLimit: 255 },
    Peer.icmp(liar, STACK_LL, rd.bufferLength, (v) => rd.emit(v, liar, STACK_LL)),
  );
  peer.run(10);
  assert.equal(peer.ip6.ndp.stats.ignoredRedirect, 1);
  peer.ip6.icmp.ping(dst, { ident: 1, seq: 1 });
  peer.run(10);
  const echo = peer.icmp(Icmpv6Type.EchoRequest);
  assert.equal(echo.length, 1);
  assert.equal(echo[0].sent.dstMac, 0x020000000099);
});

Deno.test("mld: a general query is answered with current-state reports within its delay", () => {
  const peer = new Peer({ ipv6: { addresses: [Ipv6Cidr.parse("2001:db8::7/64")] } });
  peer.run(5000);
  const before = peer.icmp(Icmpv6Type.MldReportV2).length;
  const query = new Uint8Array(28);
  query[0] = Icmpv6Type.MldQuery;
  query[5] = 0xe8; // 1000 ms
  query[4] = 0x03;
  const q = Peer.icmp(PEER_LL, IPV6_ALL_NODES, 28, (v) => v.bytes.set(query));
  const hbh = new Uint8Array([58, 0, 5, 2, 0, 0, 1, 0]);
  const payload = new Uint8Array(36);
  payload.set(hbh);
  payload.set(q, 8);
  peer.send({ src: PEER_LL, dst: IPV6_ALL_NODES, nextHeader: 0, hopLimit: 1 }, payload);
  peer.run(1100);
  const reports = peer.icmp(Icmpv6Type.MldReportV2).slice(before);
  assert.equal(reports.length, 1);
  const repr = MldReportRepr.parse(reports[0].view);
  assert.ok(!isWireError(repr));
  assert.deepEqual(
    repr.records.map((r) => [r.type, r.group.toString()]).sort(),
    [
      [MldRecordType.ModeIsExclude, "ff02::1:ff00:1"],
      [MldRecordType.ModeIsExclude, "ff02::1:ff00:7"],
    ],
  );
  assert.ok(reports[0].sent.ip.src.equals(STACK_LL));
  assert.equal(peer.ip6.mld.stats.rxQueries, 1);
});

Deno.test("ndp: a flood of advertised prefixes and routers stays bounded", () => {
  const peer = new Peer({ ipv6: { dadTransmits: 0 } });
  peer.run(100);
  for (let i = 0; i < 100; i++) {
    const src = Ipv6Address.parse(`fe80::${(i + 1).toString(16)}`);
    ra(peer, (r) => {
      r.routerLifetime = 1800;
      r.prefixes = [{
        prefix: Ipv6Address.parse(`2001:db8:${i.toString(16)}::`),
        prefixLength: 64,
        onLink: true,
        autonomous: true,
        validLifetime: 86400,
        preferredLifetime: 14400,
      }];
    }, { src });
    peer.run(5);
  }
  const config = peer.ip6.config;
  assert.equal(config.addresses.length, 32);
  assert.equal(config.prefixes.length, 32);
  assert.equal(config.routers.length, 8);
  assert.equal(config.stats.dropAddressesFull, 100 - 31); // the link-local address is the 32nd
  assert.ok(peer.ip6.groups().length <= 33);
});

Deno.test("mld: after an MLDv1 query the host answers in MLDv1, to each group (RFC 3810 §8.2.1)", () => {
  const peer = new Peer({ ipv6: { addresses: [Ipv6Cidr.parse("2001:db8::7/64")] } });
  peer.run(5000);
  const query = Peer.icmp(PEER_LL, IPV6_ALL_NODES, 24, (v) => {
    v.type = Icmpv6Type.MldQuery;
    v.bytes[v.offset + 5] = 100; // 100 ms
  });
  const payload = new Uint8Array(32);
  payload.set([58, 0, 5, 2, 0, 0, 1, 0]);
  payload.set(query, 8);
  peer.send({ src: PEER_LL, dst: IPV6_ALL_NODES, nextHeader: 0, hopLimit: 1 }, payload);
  peer.run(200);
  const v1 = peer.icmp(Icmpv6Type.MldReportV1);
  assert.deepEqual(
    v1.map((x) => x.sent.ip.dst.toString()).sort(),
    ["ff02::1:ff00:1", "ff02::1:ff00:7"],
  );
  assert.ok(v1.every((x) => x.view.length === 24 && x.sent.ip.hopLimit === 1));
  assert.ok(v1.every((x) => x.view.verifyChecksum(x.sent.ip.src, x.sent.ip.dst)));
  assert.ok(peer.ip6.mld.compatV1(peer.now));
  // Leaving a group now sends an MLDv1 done to all routers.
  peer.ip6.leaveGroup(Ipv6Address.parse("ff02::1:ff00:7"));
  peer.run(10);
  const done = peer.icmp(Icmpv6Type.MldDoneV1);
  assert.equal(done.length, 1);
  assert.equal(done[0].sent.ip.dst.toString(), "ff02::2");
  // 260 s later the querier is gone and reports are MLDv2 again.
  peer.run(261_000);
  assert.ok(!peer.ip6.mld.compatV1(peer.now));
});

Deno.test("ndp: DAD failing on the MAC-derived link-local address disables IPv6 (RFC 4862 §5.4.5)", () => {
  const peer = new Peer();
  peer.run(5); // the DAD probe is still to come
  const ns = new NdpRepr();
  ns.type = Icmpv6Type.NeighborSolicit;
  ns.target = STACK_LL;
  const dst = STACK_LL.solicitedNode;
  const unspecified = Ipv6Address.parse("::");
  peer.send(
    { src: unspecified, dst, nextHeader: 58, hopLimit: 255 },
    Peer.icmp(unspecified, dst, ns.bufferLength, (v) => ns.emit(v, unspecified, dst)),
  );
  peer.run(3000);
  assert.equal(peer.ip6.ndp.stats.dadFailed, 1);
  assert.ok(peer.ip6.disabled);
  assert.equal(peer.ip6.icmp.ping(PEER_LL, { ident: 1, seq: 1 }), "unroutable");
  assert.equal(peer.icmp(Icmpv6Type.RouterSolicit).length, 0);
});
