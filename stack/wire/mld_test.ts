import assert from "node:assert/strict";
import fixtures from "../../tests/fixtures/ipv6/packets.json" with { type: "json" };
import { isWireError } from "./error.ts";
import { Icmpv6Packet } from "./icmpv6.ts";
import { Ipv6Address } from "./ipv6_address.ts";
import { Ipv6Packet } from "./ipv6.ts";
import { MldQueryRepr, MldRecordType, MldReportRepr } from "./mld.ts";

function fixture(name: string): { bytes: Uint8Array; fields: Record<string, unknown> } {
  const p = fixtures.packets.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no fixture ${name}`);
  return {
    bytes: Uint8Array.from(p.hex.match(/../g)!.map((h) => parseInt(h, 16))),
    fields: p.fields,
  };
}

Deno.test("MldQueryRepr decodes scapy's v1 and v2 general queries", () => {
  for (const name of ["mld_query_v1", "mld_query_v2"]) {
    const { bytes, fields } = fixture(name);
    const ip = new Ipv6Packet(bytes);
    const view = new Icmpv6Packet(bytes, 48, ip.payloadLength - 8);
    assert.ok(view.verifyChecksum(ip.src, ip.dst), name);
    const repr = MldQueryRepr.parse(view);
    assert.ok(!isWireError(repr), name);
    assert.equal(repr.version, fields.version);
    assert.equal(repr.maxResponseMs, fields.maxResponseMs);
    assert.equal(repr.group.toString(), fields.group);
  }
});

Deno.test("MldQueryRepr decodes the exponential maximum response code and rejects odd lengths", () => {
  const bytes = new Uint8Array(28);
  bytes[0] = 130;
  bytes[4] = 0x80 | 0x10; // exp 1, mant 0x000 => (0x1000) << 4
  bytes[5] = 0x00;
  const repr = MldQueryRepr.parse(new Icmpv6Packet(bytes)) as MldQueryRepr;
  assert.equal(repr.maxResponseMs, 0x1000 << 4);
  const odd = MldQueryRepr.parse(new Icmpv6Packet(bytes, 0, 26));
  assert.ok(isWireError(odd) && odd.code === "malformed");
  bytes[27] = 2; // two sources that are not there
  const sources = MldQueryRepr.parse(new Icmpv6Packet(bytes));
  assert.ok(isWireError(sources) && sources.code === "truncated");
});

Deno.test("MldReportRepr emits scapy's MLDv2 report byte for byte", () => {
  const { bytes, fields } = fixture("mld_report");
  const ip = new Ipv6Packet(bytes);
  const report = new MldReportRepr();
  report.records.push({
    type: MldRecordType.ChangeToExclude,
    group: Ipv6Address.parse(String(fields.group)),
  });
  assert.equal(report.bufferLength, ip.payloadLength - 8);
  const out = bytes.slice();
  out.fill(0xee, 48);
  report.emit(new Icmpv6Packet(out, 48, report.bufferLength), ip.src, ip.dst);
  assert.deepEqual(out, bytes);
  const back = MldReportRepr.parse(new Icmpv6Packet(bytes, 48, report.bufferLength));
  assert.ok(!isWireError(back));
  assert.equal(back.records[0].group.toString(), fields.group);
  assert.equal(back.records[0].type, fields.recordType);
  const cut = MldReportRepr.parse(new Icmpv6Packet(bytes, 48, 20));
  assert.ok(isWireError(cut));
});
