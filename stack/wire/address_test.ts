import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import {
  formatIpv4,
  formatMac,
  Ipv4Cidr,
  isBroadcastIpv4,
  isBroadcastMac,
  isLinkLocalIpv4,
  isLocalMac,
  isLoopbackIpv4,
  isMulticastIpv4,
  isMulticastMac,
  isUnicastIpv4,
  isUnicastMac,
  isUnspecifiedIpv4,
  MAC_BROADCAST,
  multicastMacForIpv4,
  parseIpv4,
  parseMac,
  readIpv4,
  readMac,
  tryParseIpv4,
  tryParseMac,
  writeIpv4,
  writeMac,
} from "./address.ts";

Deno.test("parseIpv4 reads dotted quads as unsigned 32-bit numbers", () => {
  assert.equal(parseIpv4("10.0.0.1"), 0x0a000001);
  assert.equal(parseIpv4("0.0.0.0"), 0);
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
  assert.equal(parseIpv4("192.168.100.200"), 0xc0a864c8);
  assert.equal(parseIpv4("1.2.3.4"), 0x01020304);
});

Deno.test("parseIpv4 refuses anything but a strict dotted quad", () => {
  // deno-fmt-ignore
  const bad = [
    "", "1", "1.2.3", "1.2.3.4.5", "1.2.3.256", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1..3.4",
    ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.-4", "0x1.2.3.4", "1.2.3.4/24",
    "1.2.3.1000", "١.2.3.4",
  ];
  for (const text of bad) {
    assert.equal(tryParseIpv4(text), undefined, text);
    assert.throws(() => parseIpv4(text), /Cannot parse IPv4 address/, text);
  }
});

Deno.test("formatIpv4 inverts parseIpv4", () => {
  const rng = new Rng(1);
  for (let i = 0; i < 1000; i++) {
    const a = rng.nextU32();
    assert.equal(parseIpv4(formatIpv4(a)), a);
  }
  assert.equal(formatIpv4(0x0a000001), "10.0.0.1");
  assert.equal(formatIpv4(-1), "255.255.255.255");
});

Deno.test("parseMac and formatMac round-trip 48-bit values", () => {
  assert.equal(parseMac("02:00:00:00:00:01"), 0x020000000001);
  assert.equal(parseMac("FF:ff:fF:ff:ff:ff"), MAC_BROADCAST);
  assert.equal(formatMac(0x0a1b2c3d4e5f), "0a:1b:2c:3d:4e:5f");
  const rng = new Rng(2);
  for (let i = 0; i < 1000; i++) {
    const mac = rng.below(0x10000) * 0x1_0000_0000 + rng.nextU32();
    assert.equal(parseMac(formatMac(mac)), mac);
  }
  for (
    const text of ["", "02:00:00:00:00", "02-00-00-00-00-01", "02:00:00:00:00:0g", "2:0:0:0:0:1"]
  ) {
    assert.equal(tryParseMac(text), undefined, text);
    assert.throws(() => parseMac(text), /Cannot parse MAC address/);
  }
});

Deno.test("read and write helpers use network byte order at any offset", () => {
  const bytes = new Uint8Array(12);
  writeIpv4(bytes, 1, 0xc0a80001);
  assert.deepEqual([...bytes.subarray(1, 5)], [192, 168, 0, 1]);
  assert.equal(readIpv4(bytes, 1), 0xc0a80001);
  writeMac(bytes, 5, 0xfedcba987654);
  assert.deepEqual([...bytes.subarray(5, 11)], [0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54]);
  assert.equal(readMac(bytes, 5), 0xfedcba987654);
  writeIpv4(bytes, 0, 0xffffffff);
  assert.equal(readIpv4(bytes, 0), 0xffffffff);
});

Deno.test("MAC classification", () => {
  assert.ok(isBroadcastMac(MAC_BROADCAST));
  assert.ok(isMulticastMac(MAC_BROADCAST));
  assert.ok(!isUnicastMac(MAC_BROADCAST));
  assert.ok(isMulticastMac(parseMac("01:00:5e:00:00:01")));
  assert.ok(isMulticastMac(parseMac("33:33:00:00:00:01")));
  assert.ok(isUnicastMac(parseMac("02:00:00:00:00:01")));
  assert.ok(!isBroadcastMac(parseMac("02:00:00:00:00:01")));
  assert.ok(isLocalMac(parseMac("02:00:00:00:00:01")));
  assert.ok(!isLocalMac(parseMac("00:1b:21:00:00:01")));
});

Deno.test("IPv4 classification", () => {
  assert.ok(isUnspecifiedIpv4(0));
  assert.ok(!isUnspecifiedIpv4(parseIpv4("0.0.0.1")));
  assert.ok(isBroadcastIpv4(0xffffffff));
  assert.ok(isBroadcastIpv4(-1));
  assert.ok(!isBroadcastIpv4(parseIpv4("10.0.0.255")));
  assert.ok(isMulticastIpv4(parseIpv4("224.0.0.1")));
  assert.ok(isMulticastIpv4(parseIpv4("239.255.255.255")));
  assert.ok(!isMulticastIpv4(parseIpv4("240.0.0.0")));
  assert.ok(!isMulticastIpv4(parseIpv4("223.255.255.255")));
  assert.ok(isLoopbackIpv4(parseIpv4("127.0.0.1")));
  assert.ok(isLoopbackIpv4(parseIpv4("127.255.0.9")));
  assert.ok(!isLoopbackIpv4(parseIpv4("128.0.0.1")));
  assert.ok(isLinkLocalIpv4(parseIpv4("169.254.1.1")));
  assert.ok(!isLinkLocalIpv4(parseIpv4("169.253.1.1")));
  assert.ok(isUnicastIpv4(parseIpv4("10.0.0.1")));
  assert.ok(!isUnicastIpv4(0));
  assert.ok(!isUnicastIpv4(parseIpv4("224.0.0.1")));
  assert.ok(!isUnicastIpv4(parseIpv4("255.255.255.255")));
});

Deno.test("multicastMacForIpv4 maps the low 23 bits (RFC 1112 §6.4)", () => {
  assert.equal(formatMac(multicastMacForIpv4(parseIpv4("224.0.0.1"))), "01:00:5e:00:00:01");
  assert.equal(formatMac(multicastMacForIpv4(parseIpv4("239.255.255.250"))), "01:00:5e:7f:ff:fa");
  // The 24th bit is dropped, so these two groups share one MAC.
  assert.equal(
    multicastMacForIpv4(parseIpv4("224.128.1.2")),
    multicastMacForIpv4(parseIpv4("224.0.1.2")),
  );
});

Deno.test("Ipv4Cidr parses and derives netmask, network and broadcast", () => {
  const cidr = Ipv4Cidr.parse("10.0.0.1/24");
  assert.equal(cidr.address, parseIpv4("10.0.0.1"));
  assert.equal(cidr.prefixLength, 24);
  assert.equal(cidr.netmask, parseIpv4("255.255.255.0"));
  assert.equal(cidr.network, parseIpv4("10.0.0.0"));
  assert.equal(cidr.broadcast, parseIpv4("10.0.0.255"));
  assert.ok(cidr.contains(parseIpv4("10.0.0.200")));
  assert.ok(!cidr.contains(parseIpv4("10.0.1.1")));
  assert.equal(cidr.toString(), "10.0.0.1/24");

  const all = Ipv4Cidr.parse("0.0.0.0/0");
  assert.equal(all.netmask, 0);
  assert.ok(all.contains(0xffffffff) && all.contains(0));
  assert.equal(all.broadcast, 0xffffffff);

  const host = Ipv4Cidr.parse("192.168.1.7/32");
  assert.equal(host.netmask, 0xffffffff);
  assert.equal(host.broadcast, undefined);
  assert.ok(host.contains(parseIpv4("192.168.1.7")) && !host.contains(parseIpv4("192.168.1.6")));

  assert.equal(Ipv4Cidr.parse("10.0.0.0/31").broadcast, undefined);
  assert.equal(Ipv4Cidr.parse("172.16.5.4/12").network, parseIpv4("172.16.0.0"));
  assert.equal(Ipv4Cidr.parse("172.16.5.4/12").broadcast, parseIpv4("172.31.255.255"));
  assert.equal(Ipv4Cidr.parse("128.0.0.0/1").netmask, 0x80000000);
});

Deno.test("Ipv4Cidr refuses bad input with a reason", () => {
  const cases: [string, RegExp][] = [
    ["10.0.0.1", /missing the \/prefix length/],
    ["10.0.0/24", /is not a dotted quad/],
    ["10.0.0.1/33", /prefix length "33"/],
    ["10.0.0.1/", /prefix length ""/],
    ["10.0.0.1/024", /prefix length "024"/],
    ["10.0.0.1/-1", /prefix length/],
    ["10.0.0.1/24/8", /prefix length/],
  ];
  for (const [text, reason] of cases) {
    assert.throws(() => Ipv4Cidr.parse(text), reason, text);
    assert.equal(Ipv4Cidr.tryParse(text), undefined);
  }
  assert.throws(() => new Ipv4Cidr(1, 33), /prefix length 33 is not in 0..32/);
  assert.throws(() => new Ipv4Cidr(2 ** 32, 8), /not a 32-bit value/);
});
