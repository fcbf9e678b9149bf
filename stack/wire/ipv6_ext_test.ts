import assert from "node:assert/strict";
import fixtures from "../../tests/fixtures/ipv6/packets.json" with { type: "json" };
import { isWireError } from "./error.ts";
import {
  checkExtHeader,
  emitRouterAlertHeader,
  Ipv6FragmentHeader,
  Ipv6FragmentRepr,
  Ipv6RoutingHeader,
  scanOptions,
} from "./ipv6_ext.ts";

function fixture(name: string): { bytes: Uint8Array; fields: Record<string, unknown> } {
  const p = fixtures.packets.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no fixture ${name}`);
  return {
    bytes: Uint8Array.from(p.hex.match(/../g)!.map((h) => parseInt(h, 16))),
    fields: p.fields,
  };
}

Deno.test("the fragment header of scapy's fragment decodes and re-emits", () => {
  const { bytes, fields } = fixture("fragment");
  assert.equal(checkExtHeader(bytes, 40, bytes.length, 44), 8);
  const repr = Ipv6FragmentRepr.parse(new Ipv6FragmentHeader(bytes, 40));
  assert.equal(repr.nextHeader, fields.fragNh);
  assert.equal(repr.fragmentOffset, fields.fragOffset);
  assert.equal(repr.moreFragments, fields.more);
  assert.equal(repr.ident, fields.ident);
  const out = new Uint8Array(8);
  repr.emit(new Ipv6FragmentHeader(out, 0));
  assert.deepEqual(out, bytes.subarray(40, 48));
});

Deno.test("scanOptions skips action-00 options and reports the others with a pointer", () => {
  const skip = fixture("destopt_skip").bytes;
  const length = checkExtHeader(skip, 40, skip.length, 60) as number;
  assert.equal(length, 8);
  assert.deepEqual(scanOptions(skip, 40, length), { kind: "ok", routerAlert: -1 });
  const report = fixture("destopt_report").bytes;
  assert.deepEqual(scanOptions(report, 40, 8), { kind: "unknown", action: 2, pointer: 42 });
  const mld = fixture("mld_report").bytes;
  assert.deepEqual(scanOptions(mld, 40, 8), { kind: "ok", routerAlert: 0 });
});

Deno.test("scanOptions finds options that overrun their header malformed", () => {
  const b = new Uint8Array([17, 0, 1, 9, 0, 0, 0, 0]); // PadN claiming 9 bytes in a 6-byte area
  assert.deepEqual(scanOptions(b, 0, 8), { kind: "malformed" });
  const ra = new Uint8Array([17, 0, 5, 3, 0, 0, 0, 1]); // router alert with length 3
  assert.deepEqual(scanOptions(ra, 0, 8), { kind: "malformed" });
  const pad1 = new Uint8Array([17, 0, 0, 0, 0, 0, 0, 0]); // six Pad1
  assert.deepEqual(scanOptions(pad1, 0, 8), { kind: "ok", routerAlert: -1 });
});

Deno.test("emitRouterAlertHeader writes what scapy's RouterAlert hop-by-hop header holds", () => {
  const mld = fixture("mld_report").bytes;
  const out = new Uint8Array(8);
  emitRouterAlertHeader(out, 0, 58);
  assert.deepEqual(out, mld.subarray(40, 48));
});

Deno.test("routing headers expose type and segments left", () => {
  const done = fixture("routing_done").bytes;
  assert.equal(checkExtHeader(done, 40, done.length, 43), 8);
  const rh = new Ipv6RoutingHeader(done, 40);
  assert.equal(rh.routingType, 0);
  assert.equal(rh.segmentsLeft, 0);
  assert.equal(rh.nextHeader, 17);
  const left = fixture("routing_left").bytes;
  assert.equal(checkExtHeader(left, 40, left.length, 43), 24);
  assert.equal(new Ipv6RoutingHeader(left, 40).segmentsLeft, 1);
});

Deno.test("checkExtHeader rejects headers past the packet's end", () => {
  const left = fixture("routing_left").bytes;
  const short = checkExtHeader(left, 40, 60, 43);
  assert.ok(isWireError(short) && short.code === "truncated");
  const tiny = checkExtHeader(left, 40, 45, 0);
  assert.ok(isWireError(tiny) && tiny.code === "truncated");
  // AH counts 4-byte units plus two.
  const ah = new Uint8Array(16);
  ah[1] = 2;
  assert.equal(checkExtHeader(ah, 0, 16, 51), 16);
});
