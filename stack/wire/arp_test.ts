import assert from "node:assert/strict";
import { parseIpv4, parseMac } from "./address.ts";
import { ARP_PACKET_LENGTH, ArpOperation, ArpPacket, ArpRepr } from "./arp.ts";
import { WireError } from "./error.ts";

function request(): ArpRepr {
  return Object.assign(new ArpRepr(), {
    operation: ArpOperation.Request,
    senderMac: parseMac("02:00:00:00:00:01"),
    senderIp: parseIpv4("10.0.0.1"),
    targetMac: 0,
    targetIp: parseIpv4("10.0.0.2"),
  });
}

Deno.test("ArpRepr round-trips a request and writes RFC 826 bytes", () => {
  const original = request();
  assert.equal(original.bufferLength(), ARP_PACKET_LENGTH);
  const bytes = new Uint8Array(28);
  const view = new ArpPacket(bytes);
  original.emit(view);
  // deno-fmt-ignore
  assert.deepEqual([...bytes], [
    0, 1, 8, 0, 6, 4, 0, 1,
    2, 0, 0, 0, 0, 1, 10, 0, 0, 1,
    0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
  ]);
  const parsed = ArpRepr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.deepEqual(parsed, original);
});

Deno.test("ArpRepr round-trips a reply into a reused repr", () => {
  const reply = Object.assign(new ArpRepr(), {
    operation: ArpOperation.Reply,
    senderMac: parseMac("fe:dc:ba:98:76:54"),
    senderIp: parseIpv4("192.168.255.254"),
    targetMac: parseMac("02:00:00:00:00:01"),
    targetIp: parseIpv4("192.168.0.1"),
  });
  const bytes = new Uint8Array(60);
  reply.emit(new ArpPacket(bytes, 3, 28));
  const into = request();
  assert.equal(ArpRepr.parse(new ArpPacket(bytes, 3, 57), into), into);
  assert.deepEqual(into, reply);
});

Deno.test("ARP with other hardware or protocol types is unsupported", () => {
  const bytes = new Uint8Array(28);
  const view = new ArpPacket(bytes);
  const fields: [keyof ArpPacket, number][] = [
    ["hardwareType", 6],
    ["protocolType", 0x86dd],
    ["hardwareLength", 8],
    ["protocolLength", 16],
  ];
  for (const [field, value] of fields) {
    request().emit(view);
    (view as unknown as Record<string, number>)[field] = value;
    const result = ArpRepr.parse(view);
    assert.ok(result instanceof WireError, field);
    assert.equal(result.code, "unsupported");
  }
});

Deno.test("ARP operations other than request and reply are unsupported", () => {
  const view = new ArpPacket(new Uint8Array(28));
  request().emit(view);
  for (const op of [0, 3, 4, 8, 0xffff]) {
    view.operation = op;
    const result = ArpRepr.parse(view);
    assert.ok(result instanceof WireError);
    assert.equal(result.code, "unsupported");
    assert.match(result.message, new RegExp(`operation ${op}`));
  }
});

Deno.test("ARP truncated at every length is refused", () => {
  const bytes = new Uint8Array(28);
  request().emit(new ArpPacket(bytes));
  for (let length = 0; length < 28; length++) {
    const result = ArpRepr.parse(new ArpPacket(bytes, 0, length));
    assert.ok(result instanceof WireError, `length ${length}`);
    assert.equal(result.code, "truncated");
  }
  assert.ok(ArpPacket.checked(bytes) instanceof ArpPacket);
  assert.ok(ArpPacket.checked(bytes, 1) instanceof WireError);
});
