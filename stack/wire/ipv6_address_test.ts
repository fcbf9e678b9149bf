import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import {
  formatHostPort,
  IPV6_ALL_NODES,
  Ipv6Address,
  Ipv6Cidr,
  isMulticastAt,
  isUnspecifiedAt,
  multicastMacAt,
  parseHostPort,
} from "./ipv6_address.ts";

Deno.test("Ipv6Address formats per RFC 5952", () => {
  // deno-fmt-ignore
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs (§4.2.3)
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not compressed (§4.2.2)
    ["2001:DB8::AbCd", "2001:db8::abcd"], // lowercase (§4.3)
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["fe80::", "fe80::"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run wins (§4.2.3)
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"], // IPv4-mapped keeps a dotted quad (§5)
    ["ff02::1:ff00:1", "ff02::1:ff00:1"],
  ];
  for (const [input, canonical] of cases) {
    assert.equal(Ipv6Address.parse(input).toString(), canonical);
  }
});

Deno.test("Ipv6Address.tryParse refuses malformed text", () => {
  // deno-fmt-ignore
  const bad = ["", ":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::1",
    "::1%eth0", "1:2:3:4:5:6:7:8::", "::ffff:1.2.3", "::ffff:1.2.3.256", "::ffff:01.2.3.4", ":1::", "1::2:"];
  for (const text of bad) assert.equal(Ipv6Address.tryParse(text), undefined, text);
  assert.throws(() => Ipv6Address.parse("1::2::3"), /Cannot parse IPv6 address "1::2::3"/);
});

Deno.test("Ipv6Address round-trips random addresses through text and bytes", () => {
  const rng = new Rng(42);
  const bytes = new Uint8Array(20);
  for (let i = 0; i < 2000; i++) {
    // Zero words often, so that compression is exercised.
    const w =
      () => (rng.below(3) === 0 ? 0 : rng.below(2) === 0 ? rng.nextU32() & 0xffff : rng.nextU32());
    const a = new Ipv6Address(w(), w(), w(), w());
    const b = Ipv6Address.parse(a.toString());
    assert.ok(a.equals(b), a.toString());
    a.write(bytes, 3);
    assert.ok(a.equalsAt(bytes, 3));
    assert.ok(Ipv6Address.read(bytes, 3).equals(a));
  }
});

Deno.test("Ipv6Address classifies addresses", () => {
  const p = Ipv6Address.parse;
  assert.ok(p("::").isUnspecified && !p("::1").isUnspecified);
  assert.ok(p("::1").isLoopback && !p("::2").isLoopback);
  assert.ok(p("fe80::1").isLinkLocal && p("febf::1").isLinkLocal && !p("fec0::1").isLinkLocal);
  assert.ok(p("ff02::1").isMulticast && !p("fe80::1").isMulticast);
  assert.equal(p("ff02::1").multicastScope, 2);
  assert.equal(p("ff05::2").multicastScope, 5);
  assert.equal(p("2001:db8::1").multicastScope, -1);
  assert.ok(p("ff02::1:ff12:3456").isSolicitedNode && !p("ff02::1:fe12:3456").isSolicitedNode);
  assert.ok(p("fd00::1").isUniqueLocal && !p("fe00::1").isUniqueLocal);
  assert.ok(p("::ffff:1.2.3.4").isIpv4Mapped);
  assert.ok(p("2001:db8::1").isUnicast && !p("ff02::1").isUnicast && !p("::").isUnicast);
});

Deno.test("Ipv6Address derives solicited-node groups, multicast MACs and EUI-64 addresses", () => {
  const a = Ipv6Address.parse("2001:db8::aabb:ccdd:ee12:3456");
  assert.equal(a.solicitedNode.toString(), "ff02::1:ff12:3456");
  assert.equal(a.solicitedNode.multicastMac, 0x3333ff123456);
  assert.equal(IPV6_ALL_NODES.multicastMac, 0x333300000001);
  // RFC 4291 App. A: 02:00:00:00:00:01 flips the U/L bit to 00 and inserts ff:fe.
  assert.equal(Ipv6Address.linkLocalFromMac(0x020000000001).toString(), "fe80::ff:fe00:1");
  assert.equal(Ipv6Address.linkLocalFromMac(0x001122334455).toString(), "fe80::211:22ff:fe33:4455");
  const prefix = Ipv6Address.parse("2001:db8:1::");
  assert.equal(prefix.withMacInterfaceId(0x020000000002).toString(), "2001:db8:1::ff:fe00:2");
  const bytes = Ipv6Address.parse("ff02::1:ff00:2").toBytes();
  assert.equal(multicastMacAt(bytes, 0), 0x3333ff000002);
  assert.ok(isMulticastAt(bytes, 0));
  assert.ok(isUnspecifiedAt(new Uint8Array(16), 0) && !isUnspecifiedAt(bytes, 0));
});

Deno.test("Ipv6Address prefixes and Ipv6Cidr", () => {
  const a = Ipv6Address.parse("2001:db8:1:2:3:4:5:6");
  assert.ok(a.hasPrefix(Ipv6Address.parse("2001:db8::"), 32));
  assert.ok(!a.hasPrefix(Ipv6Address.parse("2001:db9::"), 32));
  assert.ok(a.hasPrefix(Ipv6Address.parse("2001:db8:1:2::"), 64));
  assert.ok(a.hasPrefix(Ipv6Address.parse("::"), 0));
  assert.ok(a.hasPrefix(a, 128) && !a.hasPrefix(Ipv6Address.parse("2001:db8:1:2:3:4:5:7"), 128));
  assert.equal(a.commonPrefixLength(Ipv6Address.parse("2001:db8:1:2:3:4:5:7")), 127);
  assert.equal(a.commonPrefixLength(a), 128);
  assert.equal(a.commonPrefixLength(Ipv6Address.parse("2001:db8:1:3::")), 63);
  assert.equal(a.commonPrefixLength(Ipv6Address.parse("a001::")), 0);
  for (let bits = 0; bits <= 128; bits++) {
    assert.ok(a.hasPrefix(a.masked(bits), bits), `prefix /${bits}`);
  }
  assert.ok(!a.hasPrefix(Ipv6Address.parse("2001:db8:1:2:3:4:5:0"), 127));
  assert.ok(a.hasPrefix(Ipv6Address.parse("2001:db8:1:2:3:4:5:0"), 125));
  assert.equal(a.masked(48).toString(), "2001:db8:1::");
  assert.equal(a.masked(61).toString(), "2001:db8:1::");
  assert.equal(a.masked(62).toString(), "2001:db8:1::");
  assert.equal(a.masked(63).toString(), "2001:db8:1:2::");
  const cidr = Ipv6Cidr.parse("2001:db8:1::5/64");
  assert.equal(cidr.toString(), "2001:db8:1::5/64");
  assert.equal(cidr.network.toString(), "2001:db8:1::");
  assert.ok(cidr.contains(Ipv6Address.parse("2001:db8:1::ffff")));
  assert.ok(!cidr.contains(Ipv6Address.parse("2001:db8:2::1")));
  for (const bad of ["2001:db8::/129", "2001:db8::", "x/64", "::/064", "::/-1"]) {
    assert.throws(() => Ipv6Cidr.parse(bad), /Cannot parse IPv6 CIDR/, bad);
  }
});

Deno.test("host:port text brackets IPv6 addresses", () => {
  assert.equal(formatHostPort(Ipv6Address.parse("::1"), 80), "[::1]:80");
  assert.equal(formatHostPort("10.0.0.1", 80), "10.0.0.1:80");
  assert.deepEqual(parseHostPort("[fe80::1]:8080"), { host: "fe80::1", port: 8080 });
  assert.deepEqual(parseHostPort("10.0.0.1:53"), { host: "10.0.0.1", port: 53 });
  for (const bad of ["::1:80", "[::1]", "[::1]:", "[zz]:80", "[::1]:65536", "host", "a:b:c"]) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});
