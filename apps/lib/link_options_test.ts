import assert from "node:assert/strict";
import { Ipv4Cidr, parseIpv4, parseMac } from "../../stack/wire/address.ts";
import { parseLinkArgs } from "./link.ts";
import {
  parseAddressArgument,
  parseIntegerOption,
  parseLinkValues,
  UsageError,
} from "./link_options.ts";

Deno.test("link options: defaults", () => {
  const config = parseLinkArgs([]);
  assert.equal(config.nic, "memory");
  assert.deepEqual(config.addresses.map(String), ["10.0.0.2/24"]);
  assert.equal(config.gateway, undefined);
  assert.equal(config.verbose, false);
});

Deno.test("link options: every option, repeated --ip, other options and positionals ignored", () => {
  const config = parseLinkArgs([
    "--nic",
    "tap:tap7",
    "--ip",
    "10.1.0.2/16",
    "--ip=192.168.5.9/24",
    "--gateway",
    "10.1.0.1",
    "--mac",
    "02:aa:bb:cc:dd:ee",
    "--mtu",
    "9000",
    "--pcap",
    "x.pcap",
    "--verbose",
    "--count",
    "3",
    "10.9.9.9",
  ]);
  assert.equal(config.nic, "tap:tap7");
  assert.deepEqual(config.addresses, [
    Ipv4Cidr.parse("10.1.0.2/16"),
    Ipv4Cidr.parse("192.168.5.9/24"),
  ]);
  assert.equal(config.gateway, parseIpv4("10.1.0.1"));
  assert.equal(config.mac, parseMac("02:aa:bb:cc:dd:ee"));
  assert.equal(config.mtu, 9000);
  assert.equal(config.pcap, "x.pcap");
  assert.equal(config.verbose, true);
});

Deno.test("link options: bad values throw one-line usage errors", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ip: ["10.0.0.2"] }, /^Bad --ip '10\.0\.0\.2': expected an address with a prefix/],
    [{ ip: ["10.0.0.2/40"] }, /^Bad --ip/],
    [{ gateway: "10.0.0" }, /^Bad --gateway '10\.0\.0'/],
    [{ mac: "zz:00:00:00:00:00" }, /^Bad --mac/],
    [{ mtu: "67" }, /^Bad --mtu '67'/],
    [{ mtu: "1500.5" }, /^Bad --mtu/],
    [{ mtu: true }, /^Missing value for --mtu/],
    [{ nic: "" }, /^Bad --nic/],
    [{ pcap: "" }, /^Bad --pcap/],
  ];
  for (const [values, message] of bad) {
    assert.throws(() => parseLinkValues(values), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, message);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  }
});

Deno.test("link options: address and integer arguments", () => {
  assert.equal(parseAddressArgument("target", "10.0.0.1"), parseIpv4("10.0.0.1"));
  assert.throws(() => parseAddressArgument("target", "example.com"), UsageError);
  assert.equal(parseIntegerOption("count", undefined, 4, 1, 10), 4);
  assert.equal(parseIntegerOption("count", "7", 4, 1, 10), 7);
  assert.throws(() => parseIntegerOption("count", "0", 4, 1, 10), /from 1 to 10/);
  assert.throws(() => parseIntegerOption("count", "1e3", 4, 1, 10_000), UsageError);
});
