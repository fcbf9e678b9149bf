import assert from "node:assert/strict";
import { parseIpv4, parseMac } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import { Rng } from "../../util/rng.ts";
import {
  DHCP_FIXED_LENGTH,
  DHCP_MIN_LENGTH,
  DhcpMessageType,
  DhcpOption,
  DhcpPacket,
  DhcpRepr,
} from "./wire.ts";

const FIXTURES = new URL("../../../tests/fixtures/dhcp/", import.meta.url);
const fixture = (name: string) => Deno.readFileSync(new URL(name, FIXTURES));
const MAC = parseMac("02:00:00:00:00:01");

function parse(bytes: Uint8Array): DhcpRepr {
  const r = DhcpRepr.parse(new DhcpPacket(bytes));
  if (r instanceof WireError) throw r;
  return r;
}

Deno.test("dhcp wire: parses dnsmasq's OFFER", () => {
  const r = parse(fixture("offer.bin"));
  assert.equal(r.op, 2);
  assert.equal(r.xid, 0x12345678);
  assert.equal(r.chaddr, MAC);
  assert.equal(r.broadcast, true);
  assert.equal(r.messageType, DhcpMessageType.Offer);
  assert.equal(r.yiaddr, parseIpv4("192.168.77.63"));
  assert.equal(r.serverId, parseIpv4("192.168.77.1"));
  assert.equal(r.leaseTime, 3600);
  assert.equal(r.renewalTime, 1800);
  assert.equal(r.rebindingTime, 3150);
  assert.equal(r.subnetMask, parseIpv4("255.255.255.0"));
  assert.deepEqual(r.routers, [parseIpv4("192.168.77.1")]);
  assert.deepEqual(r.dnsServers, [parseIpv4("192.168.77.1")]);
});

Deno.test("dhcp wire: parses dnsmasq's ACK and NAK", () => {
  const ack = parse(fixture("ack.bin"));
  assert.equal(ack.messageType, DhcpMessageType.Ack);
  assert.equal(ack.xid, 0x12345679);
  assert.equal(ack.yiaddr, parseIpv4("192.168.77.63"));
  const nak = parse(fixture("nak.bin"));
  assert.equal(nak.messageType, DhcpMessageType.Nak);
  assert.equal(nak.yiaddr, 0);
  assert.equal(nak.serverId, parseIpv4("192.168.77.1"));
  assert.equal(nak.message, "wrong address");
});

Deno.test("dhcp wire: parses scapy's DISCOVER and REQUEST", () => {
  const d = parse(fixture("discover.bin"));
  assert.equal(d.op, 1);
  assert.equal(d.messageType, DhcpMessageType.Discover);
  assert.deepEqual(d.parameterRequestList, [1, 3, 6, 51, 58, 59]);
  assert.deepEqual(d.clientId, new Uint8Array([1, 2, 0, 0, 0, 0, 1]));
  assert.equal(d.hostname, "denovm");
  const q = parse(fixture("request.bin"));
  assert.equal(q.messageType, DhcpMessageType.Request);
  assert.equal(q.requestedIp, parseIpv4("192.168.77.63"));
  assert.equal(q.serverId, parseIpv4("192.168.77.1"));
});

Deno.test("dhcp wire: emit reproduces scapy's DISCOVER options byte for byte", () => {
  const golden = fixture("discover.bin");
  const r = parse(golden);
  const out = new Uint8Array(r.bufferLength);
  r.emit(new DhcpPacket(out));
  // scapy does not pad to the BOOTP minimum and orders options as given; ours puts the client id
  // second too, so the fixed part and the options up to End match exactly.
  const optionsEnd = DHCP_FIXED_LENGTH + r.optionsLength;
  assert.deepEqual(out.subarray(0, optionsEnd), golden.subarray(0, optionsEnd));
  assert.equal(out.length, DHCP_MIN_LENGTH);
  assert.ok(out.subarray(optionsEnd).every((b) => b === 0));
});

Deno.test("dhcp wire: emit then parse round trips every field", () => {
  const r = new DhcpRepr();
  r.op = 2;
  r.xid = 0xdeadbeef;
  r.secs = 7;
  r.broadcast = true;
  r.ciaddr = parseIpv4("10.0.0.9");
  r.yiaddr = parseIpv4("10.0.0.10");
  r.siaddr = parseIpv4("10.0.0.11");
  r.giaddr = parseIpv4("10.0.0.12");
  r.chaddr = parseMac("52:54:00:12:34:56");
  r.messageType = DhcpMessageType.Ack;
  r.serverId = parseIpv4("10.0.0.1");
  r.requestedIp = parseIpv4("10.0.0.10");
  r.leaseTime = 0xffffffff;
  r.renewalTime = 100;
  r.rebindingTime = 175;
  r.subnetMask = parseIpv4("255.255.0.0");
  r.routers = [parseIpv4("10.0.0.1"), parseIpv4("10.0.0.2")];
  r.dnsServers = [parseIpv4("8.8.8.8")];
  r.parameterRequestList = [1, 3, 6];
  r.clientId = new Uint8Array([1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
  r.hostname = "guest";
  r.maxMessageSize = 1500;
  r.message = "hello";
  const bytes = new Uint8Array(r.bufferLength + 5).fill(0xaa);
  r.emit(new DhcpPacket(bytes, 5, r.bufferLength));
  const back = parse(bytes.subarray(5));
  assert.deepEqual(back, r);
});

Deno.test("dhcp wire: every truncation of real messages is rejected, never thrown", () => {
  for (const name of ["discover.bin", "offer.bin", "ack.bin", "nak.bin", "request.bin"]) {
    const bytes = fixture(name);
    const view = new DhcpPacket(bytes);
    const endAt = view.findOption(DhcpOption.End);
    assert.equal(endAt, -1, "findOption never reports End itself");
    let lastOption = DHCP_FIXED_LENGTH;
    while (bytes[lastOption] !== DhcpOption.End) {
      lastOption += bytes[lastOption] === 0 ? 1 : 2 + bytes[lastOption + 1];
    }
    for (let n = 0; n < bytes.length; n++) {
      const r = DhcpRepr.parse(new DhcpPacket(bytes, 0, n));
      if (n <= lastOption) {
        assert.ok(r instanceof WireError, `${name} cut at ${n} must be rejected`);
        assert.equal(r.code, "truncated");
      } else {
        assert.ok(!(r instanceof WireError), `${name} cut at ${n} keeps End and parses`);
      }
    }
  }
});

Deno.test("dhcp wire: rejects a bad cookie, bad option lengths and non-Ethernet", () => {
  const base = fixture("offer.bin");
  const cookie = base.slice();
  cookie[236] = 0;
  assert.equal((DhcpRepr.parse(new DhcpPacket(cookie)) as WireError).code, "malformed");

  const at = new DhcpPacket(base).findOption(DhcpOption.MessageType);
  const badType = base.slice();
  badType[at - 1] = 2; // the length byte; the next option's code becomes part of the value
  const r = DhcpRepr.parse(new DhcpPacket(badType));
  assert.ok(r instanceof WireError);

  for (const code of [DhcpOption.SubnetMask, DhcpOption.Router, DhcpOption.LeaseTime]) {
    const bytes = new Uint8Array(DHCP_FIXED_LENGTH + 6);
    bytes.set(base.subarray(0, DHCP_FIXED_LENGTH));
    bytes.set([code, 3, 1, 2, 3, DhcpOption.End], DHCP_FIXED_LENGTH);
    const e = DhcpRepr.parse(new DhcpPacket(bytes));
    assert.ok(e instanceof WireError);
    assert.equal(e.code, "malformed");
    assert.match(e.message, new RegExp(`option ${code}: length 3`));
  }

  const token = base.slice();
  token[1] = 6;
  assert.equal((DhcpRepr.parse(new DhcpPacket(token)) as WireError).code, "unsupported");
  const hlen = base.slice();
  hlen[2] = 17;
  assert.equal((DhcpRepr.parse(new DhcpPacket(hlen)) as WireError).code, "malformed");
});

Deno.test("dhcp wire: pads are skipped and unknown options ignored", () => {
  const bytes = new Uint8Array(DHCP_FIXED_LENGTH + 12);
  bytes.set(fixture("offer.bin").subarray(0, DHCP_FIXED_LENGTH));
  bytes.set([0, 0, 200, 2, 9, 9, 53, 1, 5, 0, 255, 7], DHCP_FIXED_LENGTH);
  const r = parse(bytes);
  assert.equal(r.messageType, DhcpMessageType.Ack);
  assert.equal(new DhcpPacket(bytes).findOption(200), DHCP_FIXED_LENGTH + 4);
});

Deno.test("dhcp wire: parses QEMU user-mode network's OFFER and ACK", () => {
  for (const [name, type] of [["slirp_offer.bin", 2], ["slirp_ack.bin", 5]] as const) {
    const r = parse(fixture(name));
    assert.equal(r.messageType, type);
    assert.equal(r.yiaddr, parseIpv4("10.0.2.15"));
    assert.equal(r.serverId, parseIpv4("10.0.2.2"));
    assert.equal(r.subnetMask, parseIpv4("255.255.255.0"));
    assert.equal(r.leaseTime, 86400);
    assert.equal(r.chaddr, MAC);
  }
});

Deno.test("dhcp wire: seeded mutations of real messages never throw", () => {
  const rng = new Rng(2131);
  const sources = ["discover.bin", "offer.bin", "ack.bin", "nak.bin", "slirp_ack.bin"].map(fixture);
  let rejected = 0;
  for (let i = 0; i < 5000; i++) {
    const bytes = sources[i % sources.length].slice();
    const flips = 1 + rng.below(8);
    // Mostly hit the options area, where the framing lives.
    for (let f = 0; f < flips; f++) {
      const at = rng.next() < 0.8
        ? DHCP_FIXED_LENGTH + rng.below(bytes.length - DHCP_FIXED_LENGTH)
        : rng.below(bytes.length);
      bytes[at] = rng.nextU32() & 0xff;
    }
    const r = DhcpRepr.parse(new DhcpPacket(bytes, 0, rng.below(bytes.length + 1)));
    if (r instanceof WireError) rejected++;
  }
  assert.ok(rejected > 0 && rejected < 5000, `rejected ${rejected}`);
});
