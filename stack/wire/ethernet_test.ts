import assert from "node:assert/strict";
import { parseMac } from "./address.ts";
import { WireError } from "./error.ts";
import {
  ETHERNET_HEADER_LENGTH,
  ETHERNET_VLAN_HEADER_LENGTH,
  EthernetFrame,
  EthernetRepr,
  EtherType,
} from "./ethernet.ts";

const A = parseMac("02:00:00:00:00:01");
const B = parseMac("ff:ff:ff:ff:ff:ff");

function repr(fields: Partial<EthernetRepr>): EthernetRepr {
  return Object.assign(new EthernetRepr(), fields);
}

Deno.test("EthernetRepr round-trips an untagged header", () => {
  const original = repr({ src: A, dst: B, etherType: EtherType.Arp });
  assert.equal(original.headerLength, ETHERNET_HEADER_LENGTH);
  const bytes = new Uint8Array(original.bufferLength(28));
  const view = new EthernetFrame(bytes);
  original.emit(view);
  assert.deepEqual([...bytes.subarray(0, 14)], [
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0x02,
    0,
    0,
    0,
    0,
    0x01,
    0x08,
    0x06,
  ]);
  const parsed = EthernetRepr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.deepEqual(parsed, original);
  assert.equal(view.payloadOffset, 14);
  assert.equal(view.payloadLength, 28);
  assert.equal(view.payloadType, EtherType.Arp);
  assert.equal(view.vlanTagged, false);
});

Deno.test("EthernetRepr round-trips an 802.1Q tag and the payload starts after it", () => {
  const original = repr({
    src: A,
    dst: B,
    etherType: EtherType.Ipv4,
    vlanId: 4094,
    vlanPcp: 6,
    vlanDei: true,
  });
  assert.equal(original.headerLength, ETHERNET_VLAN_HEADER_LENGTH);
  const bytes = new Uint8Array(4 + original.bufferLength(20));
  const view = new EthernetFrame(bytes, 4);
  original.emit(view);
  assert.deepEqual([...bytes.subarray(16, 22)], [0x81, 0x00, 0xdf, 0xfe, 0x08, 0x00]);
  const parsed = EthernetRepr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.deepEqual(parsed, original);
  assert.equal(view.etherType, EtherType.Vlan);
  assert.equal(view.payloadType, EtherType.Ipv4);
  assert.equal(view.payloadOffset, 4 + 18);
  assert.equal(view.payloadLength, 20);
});

Deno.test("parse into a reused repr clears the VLAN fields of an earlier frame", () => {
  const tagged = new Uint8Array(18);
  repr({ src: A, dst: B, etherType: 0x0800, vlanId: 5, vlanPcp: 3 }).emit(
    new EthernetFrame(tagged),
  );
  const plain = new Uint8Array(14);
  repr({ src: B, dst: A, etherType: 0x0806 }).emit(new EthernetFrame(plain));
  const into = new EthernetRepr();
  assert.equal(EthernetRepr.parse(new EthernetFrame(tagged), into), into);
  assert.equal(into.vlanId, 5);
  EthernetRepr.parse(new EthernetFrame(plain), into);
  assert.equal(into.vlanId, undefined);
  assert.equal(into.vlanPcp, 0);
  assert.equal(into.etherType, 0x0806);
});

Deno.test("VLAN setters change only their own bits", () => {
  const bytes = new Uint8Array(18);
  const view = new EthernetFrame(bytes);
  view.etherType = EtherType.Vlan;
  view.vlanId = 0xabc;
  view.vlanPcp = 7;
  view.vlanDei = true;
  assert.equal(view.vlanId, 0xabc);
  assert.equal(view.vlanPcp, 7);
  assert.equal(view.vlanDei, true);
  view.vlanDei = false;
  view.vlanPcp = 2;
  assert.equal(view.vlanId, 0xabc);
  assert.equal(view.vlanPcp, 2);
  assert.equal(view.vlanDei, false);
  view.vlanId = 1;
  assert.equal(view.vlanPcp, 2);
  assert.equal(bytes[14], 0x40);
  assert.equal(bytes[15], 0x01);
});

Deno.test("check refuses frames shorter than their header", () => {
  const bytes = new Uint8Array(18);
  repr({ src: A, dst: B, etherType: 0x0800, vlanId: 1 }).emit(new EthernetFrame(bytes));
  for (let length = 0; length < 18; length++) {
    const result = EthernetFrame.checked(bytes, 0, length);
    assert.ok(result instanceof WireError, `length ${length}`);
    assert.equal(result.code, "truncated");
  }
  assert.ok(EthernetFrame.checked(bytes, 0, 18) instanceof EthernetFrame);
  // An untagged header needs only 14 bytes.
  bytes[12] = 0x08;
  bytes[13] = 0x00;
  assert.ok(EthernetFrame.checked(bytes, 0, 14) instanceof EthernetFrame);
  assert.ok(EthernetFrame.checked(bytes, 0, 13) instanceof WireError);
});

Deno.test("check refuses a region outside the buffer", () => {
  const bytes = new Uint8Array(20);
  for (const [offset, length] of [[10, 14], [-1, 14], [0, 21], [0, -1]]) {
    const result = new EthernetFrame(bytes, offset, length).check();
    assert.ok(result instanceof WireError);
    assert.equal(result.code, "truncated");
  }
});

Deno.test("wrap re-targets a view without allocating a new one", () => {
  const view = new EthernetFrame();
  const a = new Uint8Array(14);
  a[5] = 9;
  assert.equal(view.wrap(a), view);
  assert.equal(view.dst, 9);
  assert.equal(view.length, 14);
  view.wrap(a, 2, 12);
  assert.equal(view.offset, 2);
  assert.equal(view.length, 12);
});
