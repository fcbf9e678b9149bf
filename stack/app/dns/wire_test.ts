import assert from "node:assert/strict";
import { parseIpv4 } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import { Rng } from "../../util/rng.ts";
import {
  DNS_CLASS_IN,
  DnsPacket,
  DnsRcode,
  DnsRepr,
  DnsType,
  nameLength,
  readName,
  writeName,
} from "./wire.ts";

const FIXTURES = new URL("../../../tests/fixtures/dns/", import.meta.url);
const fixture = (name: string) => Deno.readFileSync(new URL(name, FIXTURES));
const NAMES = ["a_example", "aaaa_ipv6", "cname_alias", "nxdomain", "truncated_many"];

function parse(bytes: Uint8Array): DnsRepr {
  const r = DnsRepr.parse(new DnsPacket(bytes));
  if (r instanceof WireError) throw r;
  return r;
}

function query(id: number, name: string, type: number): DnsRepr {
  const q = new DnsRepr();
  q.id = id;
  q.questions = [{ name, type, class: DNS_CLASS_IN }];
  return q;
}

function emit(r: DnsRepr): Uint8Array {
  const bytes = new Uint8Array(r.bufferLength);
  assert.equal(r.emit(new DnsPacket(bytes)), bytes.length);
  return bytes;
}

Deno.test("dns wire: queries emit byte for byte like scapy's", () => {
  const cases: [string, number, string, number][] = [
    ["a_example", 0x1001, "example.test", DnsType.A],
    ["aaaa_ipv6", 0x1002, "ipv6.test", DnsType.AAAA],
    ["cname_alias", 0x1003, "alias.test", DnsType.A],
  ];
  for (const [file, id, name, type] of cases) {
    const golden = fixture(`${file}_query.bin`);
    assert.deepEqual(emit(query(id, name, type)), golden);
    assert.deepEqual(emit(query(id, name + ".", type)), golden, "a trailing dot changes nothing");
  }
});

Deno.test("dns wire: parses dnsmasq's A, AAAA, CNAME and NXDOMAIN answers (compressed)", () => {
  const a = parse(fixture("a_example_response.bin"));
  assert.equal(a.id, 0x1001);
  assert.equal(a.response, true);
  assert.equal(a.authoritative, true);
  assert.equal(a.truncated, false);
  assert.equal(a.rcode, DnsRcode.NoError);
  assert.deepEqual(a.questions, [{ name: "example.test", type: DnsType.A, class: 1 }]);
  assert.equal(a.answers.length, 1);
  assert.equal(a.answers[0].name, "example.test");
  assert.equal(a.answers[0].address, parseIpv4("192.168.77.10"));

  const v6 = parse(fixture("aaaa_ipv6_response.bin"));
  const expected = new Uint8Array(16);
  expected.set([0xfd, 0], 0);
  expected[15] = 0x10;
  assert.deepEqual(v6.answers[0].address6, expected);

  const c = parse(fixture("cname_alias_response.bin"));
  assert.deepEqual(c.answers.map((r) => [r.name, r.type]), [
    ["alias.test", DnsType.CNAME],
    ["host.test", DnsType.A],
  ]);
  assert.equal(c.answers[0].target, "host.test");
  assert.equal(c.answers[1].address, parseIpv4("192.168.77.20"));

  const nx = parse(fixture("nxdomain_response.bin"));
  assert.equal(nx.rcode, DnsRcode.NxDomain);
  assert.equal(nx.answers.length, 0);
});

Deno.test("dns wire: a truncated UDP answer has TC set and the TCP one has all 40 records", () => {
  const udp = parse(fixture("truncated_many_response.bin"));
  assert.equal(udp.truncated, true);
  assert.ok(udp.answers.length < 40);
  const tcp = parse(fixture("tcp_many_response.bin"));
  assert.equal(tcp.truncated, false);
  assert.equal(tcp.answers.length, 40);
  const addresses = new Set(tcp.answers.map((r) => r.address));
  for (let i = 1; i <= 40; i++) assert.ok(addresses.has(parseIpv4(`10.1.0.${i}`)));
});

Deno.test("dns wire: every truncation of every fixture is rejected, never thrown", () => {
  for (const name of NAMES) {
    for (const kind of ["query", "response"]) {
      const bytes = fixture(`${name}_${kind}.bin`);
      for (let n = 0; n < bytes.length; n++) {
        const r = DnsRepr.parse(new DnsPacket(bytes, 0, n));
        assert.ok(r instanceof WireError, `${name}_${kind} cut at ${n}`);
        assert.equal(r.code, "truncated");
      }
      assert.ok(!(DnsRepr.parse(new DnsPacket(bytes)) instanceof WireError));
    }
  }
});

Deno.test("dns wire: emit then parse round trips every section", () => {
  const r = query(0xbeef, "www.example.test", DnsType.A);
  r.response = true;
  r.authoritative = true;
  r.recursionAvailable = true;
  r.rcode = DnsRcode.Refused;
  r.opcode = 2;
  const v6 = new Uint8Array(16).fill(7);
  r.answers = [
    {
      name: "www.example.test",
      type: DnsType.CNAME,
      class: 1,
      ttl: 60,
      data: new Uint8Array(0),
      target: "x.test",
    },
    {
      name: "x.test",
      type: DnsType.A,
      class: 1,
      ttl: 0xffffffff,
      data: new Uint8Array(0),
      address: 0x01020304,
    },
  ];
  r.authorities = [{
    name: "",
    type: DnsType.TXT,
    class: 1,
    ttl: 1,
    data: new Uint8Array([3, 97, 98, 99]),
  }];
  r.additionals = [{
    name: "x.test",
    type: DnsType.AAAA,
    class: 1,
    ttl: 5,
    data: v6,
    address6: v6,
  }];
  const back = parse(emit(r));
  assert.equal(back.id, 0xbeef);
  assert.equal(back.opcode, 2);
  assert.equal(back.rcode, DnsRcode.Refused);
  assert.equal(back.recursionAvailable, true);
  assert.equal(back.answers[0].target, "x.test");
  assert.equal(back.answers[1].address, 0x01020304);
  assert.equal(back.answers[1].ttl, 0xffffffff);
  assert.deepEqual(back.authorities[0].data, new Uint8Array([3, 97, 98, 99]));
  assert.equal(back.authorities[0].name, "");
  assert.deepEqual(back.additionals[0].address6, v6);
});

/** A message with one question whose name is `nameBytes`, placed after the header. */
function withName(nameBytes: number[]): Uint8Array {
  const bytes = new Uint8Array(12 + nameBytes.length + 4);
  bytes[5] = 1; // qdcount
  bytes.set(nameBytes, 12);
  bytes.set([0, 1, 0, 1], 12 + nameBytes.length);
  return bytes;
}

Deno.test("dns wire: compression loops and forward pointers are rejected", () => {
  const self = DnsRepr.parse(new DnsPacket(withName([0xc0, 12])));
  assert.ok(self instanceof WireError);
  assert.equal(self.code, "malformed");
  const forward = DnsRepr.parse(new DnsPacket(withName([0xc0, 14, 1, 97, 0])));
  assert.ok(forward instanceof WireError);
  // A label followed by a pointer back to that label: the label is before the pointer, but reading
  // it again would run into the pointer again; the bound after a jump stops it.
  const loop = DnsRepr.parse(new DnsPacket(withName([1, 97, 0xc0, 12])));
  assert.ok(loop instanceof WireError);
  assert.equal(loop.code, "malformed");
  const extended = DnsRepr.parse(new DnsPacket(withName([0x40, 0])));
  assert.ok(extended instanceof WireError);
  assert.equal(extended.code, "unsupported");
});

Deno.test("dns wire: names longer than 255 bytes are rejected both ways", () => {
  const label = "a".repeat(63);
  const long = [label, label, label, label].join(".");
  assert.throws(() => nameLength(long), WireError);
  assert.throws(() => nameLength("a".repeat(64)), WireError);
  assert.throws(() => nameLength("a..b"), WireError);
  assert.throws(() => nameLength("bücher.test"), WireError);
  assert.equal(nameLength(""), 1);
  assert.equal(nameLength("."), 1);
  const wire: number[] = [];
  for (let i = 0; i < 4; i++) wire.push(63, ...new Array(63).fill(97));
  wire.push(0);
  const r = DnsRepr.parse(new DnsPacket(withName(wire)));
  assert.ok(r instanceof WireError);
  assert.match(r.message, /255/);
});

Deno.test("dns wire: readName follows a chain of backward pointers and stops after the first", () => {
  const bytes = new Uint8Array(64);
  let at = writeName(bytes, 0, "example.test"); // 14 bytes at 0
  bytes.set([3, 119, 119, 119, 0xc0, 0], at); // www + ptr → 0, at 14
  const second = at;
  at += 6;
  bytes.set([0xc0, second], at); // ptr → "www.example.test"
  const cursor = { at };
  assert.equal(readName(bytes, 0, bytes.length, cursor), "www.example.test");
  assert.equal(cursor.at, at + 2);
});

Deno.test("dns wire: records with bad data lengths are malformed", () => {
  const r = query(1, "x.test", DnsType.A);
  r.answers = [{ name: "x.test", type: DnsType.A, class: 1, ttl: 0, data: new Uint8Array(3) }];
  const e = DnsRepr.parse(new DnsPacket(emit(r)));
  assert.ok(e instanceof WireError);
  assert.equal(e.code, "malformed");
  r.answers = [{ name: "x.test", type: DnsType.AAAA, class: 1, ttl: 0, data: new Uint8Array(4) }];
  assert.ok(DnsRepr.parse(new DnsPacket(emit(r))) instanceof WireError);
  r.answers = [{
    name: "x.test",
    type: DnsType.CNAME,
    class: 1,
    ttl: 0,
    data: new Uint8Array([1, 97, 0, 9]),
  }];
  assert.ok(DnsRepr.parse(new DnsPacket(emit(r))) instanceof WireError);
});

Deno.test("dns wire: seeded mutations of real messages never throw", () => {
  const rng = new Rng(1035);
  const sources = NAMES.map((n) => fixture(`${n}_response.bin`));
  sources.push(fixture("tcp_many_response.bin"));
  let rejected = 0;
  for (let i = 0; i < 5000; i++) {
    const bytes = sources[i % sources.length].slice();
    const flips = 1 + rng.below(6);
    for (let f = 0; f < flips; f++) bytes[rng.below(bytes.length)] = rng.nextU32() & 0xff;
    const r = DnsRepr.parse(new DnsPacket(bytes, 0, rng.below(bytes.length + 1)));
    if (r instanceof WireError) rejected++;
  }
  assert.ok(rejected > 0 && rejected < 5000, `rejected ${rejected}`);
});

Deno.test("dns wire: SOA records give their MINIMUM, through compressed names too", () => {
  const r = query(9, "gone.test", DnsType.A);
  r.response = true;
  const data = new Uint8Array(38);
  let at = writeName(data, 0, "ns.test");
  at = writeName(data, at, "me.test");
  const view = new DataView(data.buffer);
  [1, 2, 3, 4, 77].forEach((v, i) => view.setUint32(at + 4 * i, v));
  r.authorities = [{ name: "test", type: DnsType.SOA, class: 1, ttl: 5, data }];
  const bytes = emit(r);
  assert.equal(parse(bytes).authorities[0].soaMinimum, 77);
  // The same SOA with RNAME compressed to point at the question's "test".
  const question = 12 + 5; // "gone" label (5 bytes) then "test" at offset 17
  const compressed = new Uint8Array([
    ...data.subarray(0, 9),
    2,
    109,
    101,
    0xc0,
    question,
    ...data.subarray(18, 38),
  ]);
  r.authorities = [{ name: "test", type: DnsType.SOA, class: 1, ttl: 5, data: compressed }];
  const back = parse(emit(r));
  assert.equal(back.authorities[0].soaMinimum, 77);
  const short = compressed.slice(0, compressed.length - 1);
  r.authorities = [{ name: "test", type: DnsType.SOA, class: 1, ttl: 5, data: short }];
  const e = DnsRepr.parse(new DnsPacket(emit(r)));
  assert.ok(e instanceof WireError);
  assert.equal(e.code, "malformed");
});
