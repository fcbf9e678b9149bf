import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import { parseIpv4 } from "./address.ts";
import { foldSum, internetChecksum, pseudoHeaderSum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { UDP_HEADER_LENGTH, UDP_PROTOCOL, UdpPacket, UdpRepr } from "./udp.ts";

const SRC = parseIpv4("10.0.0.1");
const DST = parseIpv4("10.0.0.2");

function datagram(payload: Uint8Array, srcPort = 5353, dstPort = 53): UdpPacket {
  const repr = Object.assign(new UdpRepr(), { srcPort, dstPort, payloadLength: payload.length });
  const view = new UdpPacket(new Uint8Array(repr.bufferLength()));
  view.bytes.set(payload, UDP_HEADER_LENGTH);
  repr.emit(view, SRC, DST, "full");
  return view;
}

Deno.test("UdpRepr round-trips ports and payload with a full checksum", () => {
  const rng = new Rng(768);
  const into = new UdpRepr();
  for (let length = 0; length < 200; length++) {
    const payload = new Uint8Array(length);
    rng.fill(payload);
    const view = datagram(payload, rng.below(65536), 1 + rng.below(65535));
    assert.ok(view.verifyChecksum(SRC, DST));
    assert.notEqual(view.checksum, 0);
    assert.equal(UdpRepr.parse(view, SRC, DST, true, into), into);
    assert.equal(into.srcPort, view.srcPort);
    assert.equal(into.dstPort, view.dstPort);
    assert.equal(into.payloadOffset, 8);
    assert.equal(into.payloadLength, length);
    assert.equal(view.datagramLength, 8 + length);
  }
});

Deno.test("the checksum covers the pseudo-header: other addresses fail", () => {
  const view = datagram(new TextEncoder().encode("hello"));
  const result = UdpRepr.parse(view, SRC, parseIpv4("10.0.0.3"), true);
  assert.ok(result instanceof WireError);
  assert.equal(result.code, "checksum");
  assert.ok(!(UdpRepr.parse(view, SRC, parseIpv4("10.0.0.3"), false) instanceof WireError));
});

Deno.test("a zero checksum means none and is accepted on receive", () => {
  const repr = Object.assign(new UdpRepr(), { srcPort: 1, dstPort: 2, payloadLength: 4 });
  const view = new UdpPacket(new Uint8Array(12));
  view.bytes.set([1, 2, 3, 4], 8);
  repr.emit(view, SRC, DST, "none");
  assert.equal(view.checksum, 0);
  assert.ok(view.verifyChecksum(SRC, DST));
  assert.ok(!(UdpRepr.parse(view, SRC, DST, true) instanceof WireError));
});

Deno.test("a computed zero checksum is sent as 0xffff and verifies", () => {
  // Find a 2-byte payload whose checksum is zero: the checksum of a datagram with payload 0000 is
  // C = ~S, and putting C into the payload makes the sum 0xffff, whose complement is zero.
  const view = datagram(new Uint8Array(2), 1000, 2000);
  const c = view.checksum;
  view.bytes[8] = c >>> 8;
  view.bytes[9] = c & 0xff;
  view.fillChecksum(SRC, DST);
  assert.equal(view.checksum, 0xffff);
  assert.ok(view.verifyChecksum(SRC, DST));
  view.checksum = 0x0000;
  assert.ok(view.verifyChecksum(SRC, DST), "zero is 'none'");
});

Deno.test("pseudo mode writes the folded pseudo-header sum for the NIC to complete", () => {
  const payload = new Uint8Array([9, 8, 7, 6, 5]);
  const repr = Object.assign(new UdpRepr(), { srcPort: 7, dstPort: 9, payloadLength: 5 });
  const view = new UdpPacket(new Uint8Array(13));
  view.bytes.set(payload, 8);
  repr.emit(view, SRC, DST, "pseudo");
  assert.equal(view.checksum, foldSum(pseudoHeaderSum(SRC, DST, UDP_PROTOCOL, 13)));
  // What virtio does with NEEDS_CSUM: checksum the datagram from the header on, pseudo sum included.
  const completed = internetChecksum(view.bytes, 0, 13);
  view.checksum = completed;
  assert.ok(view.verifyChecksum(SRC, DST));
});

Deno.test("bytes beyond the length field are ignored", () => {
  const view = datagram(new Uint8Array([1, 2, 3]));
  const padded = new Uint8Array(30);
  padded.set(view.bytes);
  padded.fill(0xee, 11);
  const parsed = UdpRepr.parse(new UdpPacket(padded), SRC, DST, true);
  assert.ok(!(parsed instanceof WireError));
  assert.equal(parsed.payloadLength, 3);
});

Deno.test("length fields below 8 or beyond the buffer are refused", () => {
  const view = datagram(new Uint8Array(10));
  for (let length = 0; length < 8; length++) {
    view.datagramLength = length;
    const result = UdpRepr.parse(view, SRC, DST, false);
    assert.ok(result instanceof WireError);
    assert.equal(result.code, "malformed");
  }
  for (const length of [19, 0xffff]) {
    view.datagramLength = length;
    const result = UdpRepr.parse(view, SRC, DST, false);
    assert.ok(result instanceof WireError);
    assert.equal(result.code, "truncated");
  }
});

Deno.test("truncated at every length and destination port 0 are refused", () => {
  const view = datagram(new Uint8Array(4));
  for (let length = 0; length < 12; length++) {
    const result = UdpRepr.parse(new UdpPacket(view.bytes, 0, length), SRC, DST, true);
    assert.ok(result instanceof WireError, `length ${length}`);
    assert.equal(result.code, "truncated");
  }
  const zero = datagram(new Uint8Array(4), 1234, 0);
  const result = UdpRepr.parse(zero, SRC, DST, true);
  assert.ok(result instanceof WireError);
  assert.equal(result.code, "malformed");
});
