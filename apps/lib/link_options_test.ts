import assert from "node:assert/strict";
import { Ipv4Cidr, parseIpv4, parseMac } from "../../stack/wire/address.ts";
import { parseLinkArgs } from "./link.ts";
import {
  LINK_HELP,
  LINK_OPTIONS,
  parseAddressArgument,
  parseCommandLine,
  parseIntegerOption,
  parseLinkValues,
  UsageError,
} from "./link_options.ts";

/** Asserts that `fn` throws a one-line `UsageError` matching `message`. */
function assertUsageError(fn: () => unknown, message: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UsageError);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

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
    assertUsageError(() => parseLinkValues(values), message);
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

Deno.test("link options: --ip dhcp takes no static address, a timeout and a host name", () => {
  const config = parseLinkArgs(["--nic", "tap:t0", "--ip", "dhcp", "--dhcp-hostname", "denovm"]);
  assert.deepEqual(config.addresses, []);
  assert.deepEqual(config.dhcp, { timeoutMs: 10_000, hostname: "denovm" });
  assert.deepEqual(config.dns, []);
  assert.deepEqual(parseLinkArgs(["--ip=dhcp", "--dhcp-timeout", "2500"]).dhcp, {
    timeoutMs: 2500,
  });
  assert.equal(parseLinkArgs([]).dhcp, undefined);
});

Deno.test("link options: --dns is repeatable, with static addresses or with DHCP", () => {
  const servers = ["--dns", "10.0.2.3", "--dns=1.1.1.1"];
  assert.deepEqual(parseLinkArgs(servers).dns, [parseIpv4("10.0.2.3"), parseIpv4("1.1.1.1")]);
  const config = parseLinkArgs(["--ip", "dhcp", ...servers]);
  assert.deepEqual(config.dns, [parseIpv4("10.0.2.3"), parseIpv4("1.1.1.1")]);
  assert.ok(config.dhcp);
});

Deno.test("link options: DHCP misuse throws one-line usage errors", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ip: ["dhcp", "10.0.0.2/24"] }, /^Bad --ip dhcp: it cannot be combined with static/],
    [{ ip: ["dhcp"], gateway: "10.0.0.1" }, /^Bad --gateway: with --ip dhcp/],
    [{ ip: ["dhcp"], "dhcp-timeout": "0" }, /^Bad --dhcp-timeout '0'/],
    [{ ip: ["dhcp"], "dhcp-timeout": "10s" }, /^Bad --dhcp-timeout/],
    [{ ip: ["dhcp"], "dhcp-hostname": "no spaces" }, /^Bad --dhcp-hostname/],
    [{ "dhcp-timeout": "100" }, /need --ip dhcp/],
    [{ "dhcp-hostname": "vm" }, /need --ip dhcp/],
    [{ dns: ["dns.google"] }, /^Bad --dns 'dns\.google': expected an IPv4 address/],
    [{ dns: [true] }, /^Missing value for --dns/],
    [{ ip: [true] }, /^Missing value for --ip/],
  ];
  for (const [values, message] of bad) {
    assertUsageError(() => parseLinkValues(values), message);
  }
});

Deno.test("parseCommandLine parses, and turns parseArgs errors into a one-line UsageError", () => {
  const options = { count: { type: "string", short: "c" } } as const;
  const { values } = parseCommandLine({ args: ["-c", "3"], options, strict: true });
  assert.equal(values.count, "3");
  assertUsageError(() => parseCommandLine({ args: ["--bogus"], options, strict: true }), /bogus/);
});

Deno.test("--offload is the default on TAP, --no-offload turns it off, other links have none", () => {
  assert.equal(parseLinkValues({ nic: "tap:tap0", offload: true }).offload, true);
  assert.equal(parseLinkValues({ nic: "tap:tap0" }).offload, true);
  assert.equal(parseLinkValues({ nic: "tap:tap0", "no-offload": true }).offload, false);
  assert.equal(parseLinkValues({ nic: "packet:eth0" }).offload, false);
  assert.equal(parseLinkValues({}).offload, false);
  assertUsageError(
    () => parseLinkValues({ nic: "memory", offload: true }),
    "Bad --offload: only tap:NAME links have offloads, not 'memory'",
  );
  assertUsageError(
    () => parseLinkValues({ nic: "packet:eth0", "no-offload": true }),
    "Bad --no-offload: only tap:NAME links have offloads, not 'packet:eth0'",
  );
  assertUsageError(
    () => parseLinkValues({ nic: "tap:tap0", offload: true, "no-offload": true }),
    "Bad --offload: it cannot be combined with --no-offload",
  );
});

Deno.test("the app command line takes --no-offload through LINK_OPTIONS", () => {
  const parse = (args: string[]) =>
    parseLinkValues(parseCommandLine({ args, options: LINK_OPTIONS, strict: true }).values);
  assert.equal(parse(["--nic", "tap:tap0"]).offload, true);
  assert.equal(parse(["--nic", "tap:tap0", "--no-offload"]).offload, false);
  assert.equal(parse(["--nic", "tap:tap0", "--offload"]).offload, true);
  assert.match(LINK_HELP, /--no-offload/);
});
