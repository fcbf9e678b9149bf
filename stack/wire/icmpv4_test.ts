import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import { parseIpv4 } from "./address.ts";
import { WireError } from "./error.ts";
import {
  ICMPV4_HEADER_LENGTH,
  Icmpv4Packet,
  Icmpv4Repr,
  Icmpv4TimeExceeded,
  Icmpv4Type,
  Icmpv4Unreachable,
  isIcmpv4Error,
} from "./icmpv4.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "./ipv4.ts";

function repr(fields: Partial<Icmpv4Repr>): Icmpv4Repr {
  return Object.assign(new Icmpv4Repr(), fields);
}

/** Writes an IPv4 header + 8 bytes of UDP as an error's quote at `at`; returns its length. */
function writeQuote(bytes: Uint8Array, at: number, ihl = 5): number {
  const ip = Object.assign(new Ipv4Repr(), {
    src: parseIpv4("10.0.0.1"),
    dst: parseIpv4("10.0.0.2"),
    protocol: IpProtocol.Udp,
    payloadLength: 500, // the original datagram was longer than what is quoted
  });
  const view = new Ipv4Packet(bytes, at, ihl * 4 + 8);
  ip.emit(view);
  view.headerLength = ihl * 4;
  bytes.set([0x13, 0x88, 0x00, 0x35, 0x01, 0xfc, 0, 0], at + ihl * 4);
  return ihl * 4 + 8;
}

Deno.test("echo request round-trips with its data in place", () => {
  const data = new Uint8Array(56);
  new Rng(8).fill(data);
  const original = repr({
    type: Icmpv4Type.EchoRequest,
    ident: 0x1234,
    seq: 0xfffe,
    dataLength: 56,
  });
  const bytes = new Uint8Array(original.bufferLength());
  const view = new Icmpv4Packet(bytes);
  bytes.set(data, view.payloadOffset);
  original.emit(view);
  assert.ok(view.verifyChecksum());
  assert.deepEqual([...bytes.subarray(0, 2)], [8, 0]);
  assert.deepEqual([...bytes.subarray(4, 8)], [0x12, 0x34, 0xff, 0xfe]);
  const parsed = Icmpv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.type, Icmpv4Type.EchoRequest);
  assert.equal(parsed.ident, 0x1234);
  assert.equal(parsed.seq, 0xfffe);
  assert.equal(parsed.dataOffset, 8);
  assert.equal(parsed.dataLength, 56);
  assert.deepEqual(bytes.subarray(parsed.dataOffset, parsed.dataOffset + 56), data);
});

Deno.test("echo reply with no data round-trips", () => {
  const view = new Icmpv4Packet(new Uint8Array(ICMPV4_HEADER_LENGTH));
  repr({ type: Icmpv4Type.EchoReply, ident: 1, seq: 2 }).emit(view);
  const parsed = Icmpv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.ident, 1);
  assert.equal(parsed.seq, 2);
  assert.equal(parsed.dataLength, 0);
});

Deno.test("fragmentation needed carries the next-hop MTU and exposes the quote", () => {
  const bytes = new Uint8Array(8 + 28);
  const quoteLength = writeQuote(bytes, 8);
  const original = repr({
    type: Icmpv4Type.DestinationUnreachable,
    code: Icmpv4Unreachable.FragmentationNeeded,
    nextHopMtu: 1400,
    dataLength: quoteLength,
  });
  const view = new Icmpv4Packet(bytes);
  original.emit(view);
  assert.deepEqual([...bytes.subarray(4, 8)], [0, 0, 0x05, 0x78]);
  const parsed = Icmpv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.nextHopMtu, 1400);
  assert.equal(parsed.dataOffset, 8);
  assert.equal(parsed.dataLength, 28);
  assert.equal(parsed.quotedHeaderLength, 20);
  assert.equal(parsed.quotedSrc, parseIpv4("10.0.0.1"));
  assert.equal(parsed.quotedDst, parseIpv4("10.0.0.2"));
  assert.equal(parsed.quotedProtocol, IpProtocol.Udp);
  assert.equal(parsed.quotedSrcPort, 5000);
  assert.equal(parsed.quotedDstPort, 53);
  const quoted = new Ipv4Packet(bytes, parsed.dataOffset, parsed.dataLength);
  assert.equal(quoted.protocol, IpProtocol.Udp);
  assert.equal(quoted.dst, parseIpv4("10.0.0.2"));
});

Deno.test("the next-hop MTU is only read for code 4 and only written for code 4", () => {
  const bytes = new Uint8Array(8 + 28);
  writeQuote(bytes, 8);
  const view = new Icmpv4Packet(bytes);
  repr({
    type: Icmpv4Type.DestinationUnreachable,
    code: Icmpv4Unreachable.PortUnreachable,
    nextHopMtu: 1400,
    dataLength: 28,
  }).emit(view);
  assert.equal(view.rest, 0);
  view.nextHopMtu = 576;
  view.fillChecksum();
  const parsed = Icmpv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.code, Icmpv4Unreachable.PortUnreachable);
  assert.equal(parsed.nextHopMtu, 0);
});

Deno.test("time exceeded and parameter problem round-trip; quotes with options are accepted", () => {
  const bytes = new Uint8Array(8 + 32);
  const view = new Icmpv4Packet(bytes);
  const quoteLength = writeQuote(bytes, 8, 6);
  repr({
    type: Icmpv4Type.TimeExceeded,
    code: Icmpv4TimeExceeded.FragmentReassembly,
    dataLength: quoteLength,
  }).emit(view);
  let parsed = Icmpv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.type, Icmpv4Type.TimeExceeded);
  assert.equal(parsed.code, 1);
  assert.equal(parsed.quotedHeaderLength, 24);
  assert.equal(parsed.quotedDstPort, 53, "ports are read after the quoted options");

  repr({ type: Icmpv4Type.ParameterProblem, pointer: 9, dataLength: quoteLength }).emit(view);
  assert.deepEqual([...bytes.subarray(4, 8)], [9, 0, 0, 0]);
  parsed = Icmpv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.pointer, 9);
});

Deno.test("unknown and generic types pass through with their rest-of-header word", () => {
  const bytes = new Uint8Array(8 + 12);
  const view = new Icmpv4Packet(bytes);
  for (const type of [Icmpv4Type.Timestamp, 42, 255]) {
    repr({ type, code: 7, rest: 0xdeadbeef, dataLength: 12 }).emit(view);
    const parsed = Icmpv4Repr.parse(view);
    assert.ok(!(parsed instanceof WireError), `type ${type}`);
    assert.equal(parsed.type, type);
    assert.equal(parsed.code, 7);
    assert.equal(parsed.rest, 0xdeadbeef);
    assert.equal(parsed.ident, 0);
    assert.equal(parsed.dataLength, 12);
    assert.equal(parsed.quotedProtocol, 0);
  }
});

Deno.test("a bad checksum is refused unless verification is off", () => {
  const view = new Icmpv4Packet(new Uint8Array(16));
  repr({ type: Icmpv4Type.EchoRequest, ident: 3, seq: 4, dataLength: 8 }).emit(view);
  view.bytes[12] ^= 0x40;
  const result = Icmpv4Repr.parse(view);
  assert.ok(result instanceof WireError);
  assert.equal(result.code, "checksum");
  assert.ok(!(Icmpv4Repr.parse(view, undefined, false) instanceof WireError));
});

Deno.test("errors with short or broken quotes are refused", () => {
  for (let quoteLength = 0; quoteLength < 28; quoteLength++) {
    const bytes = new Uint8Array(8 + 28);
    writeQuote(bytes, 8);
    const view = new Icmpv4Packet(bytes, 0, 8 + quoteLength);
    repr({ type: Icmpv4Type.DestinationUnreachable, code: 3, dataLength: quoteLength }).emit(view);
    const result = Icmpv4Repr.parse(view);
    assert.ok(result instanceof WireError, `quote ${quoteLength}`);
    assert.equal(result.code, "truncated");
  }
  const bytes = new Uint8Array(8 + 28);
  const view = new Icmpv4Packet(bytes);
  const cases: [number, string][] = [[0x44, "malformed"], [0x65, "malformed"], [0x46, "truncated"]];
  for (const [versionIhl, code] of cases) {
    writeQuote(bytes, 8);
    bytes[8] = versionIhl;
    repr({ type: Icmpv4Type.TimeExceeded, dataLength: 28 }).emit(view);
    const result = Icmpv4Repr.parse(view);
    assert.ok(result instanceof WireError, versionIhl.toString(16));
    assert.equal(result.code, code);
  }
});

Deno.test("messages shorter than the header are truncated", () => {
  const bytes = new Uint8Array(8);
  for (let length = 0; length < 8; length++) {
    const result = Icmpv4Repr.parse(new Icmpv4Packet(bytes, 0, length));
    assert.ok(result instanceof WireError);
    assert.equal(result.code, "truncated");
  }
});

Deno.test("isIcmpv4Error names the types that quote a datagram", () => {
  assert.ok(isIcmpv4Error(Icmpv4Type.DestinationUnreachable));
  assert.ok(isIcmpv4Error(Icmpv4Type.TimeExceeded));
  assert.ok(isIcmpv4Error(Icmpv4Type.ParameterProblem));
  assert.ok(!isIcmpv4Error(Icmpv4Type.EchoRequest));
  assert.ok(!isIcmpv4Error(Icmpv4Type.EchoReply));
  assert.ok(!isIcmpv4Error(Icmpv4Type.Timestamp));
});
