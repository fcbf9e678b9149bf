import assert from "node:assert/strict";
import { internetChecksum, pseudoHeaderSum } from "../wire/checksum.ts";
import { ipv6PseudoHeaderSum } from "../wire/ipv6.ts";
import { Ipv6Address } from "../wire/ipv6_address.ts";
import {
  completeTransportChecksum,
  transportChecksumPlace,
  verifyTransportChecksum,
} from "./checksum_fixup.ts";

/** An Ethernet + IPv4 frame 10.0.0.2 → 10.0.0.1 carrying `segment` as `protocol`, at offset 3. */
function frame(protocol: number, segment: Uint8Array, fragment = 0): Uint8Array {
  const total = 20 + segment.length;
  const b = new Uint8Array(3 + 14 + total + 5);
  const o = 3;
  b[o + 12] = 0x08;
  b.set(
    [0x45, 0, total >> 8, total & 0xff, 0, 1, fragment >> 8, fragment & 0xff, 64, protocol],
    o + 14,
  );
  b.set([10, 0, 0, 2, 10, 0, 0, 1], o + 26);
  b.set(segment, o + 34);
  return b;
}

function verifies(b: Uint8Array, protocol: number, length: number): boolean {
  const sum = pseudoHeaderSum(0x0a000002, 0x0a000001, protocol, length);
  return internetChecksum(b, 3 + 34, length, sum) === 0;
}

Deno.test("completeTransportChecksum finishes a partial UDP checksum", () => {
  const udp = new Uint8Array([0x30, 0x39, 0, 7, 0, 13, 0x12, 0x34, 104, 101, 108, 108, 111]);
  const b = frame(17, udp);
  assert.equal(verifies(b, 17, 13), false);
  assert.equal(completeTransportChecksum(b, 3, 14 + 20 + 13), true);
  assert.equal(verifies(b, 17, 13), true);
});

Deno.test("completeTransportChecksum finishes a partial TCP checksum of odd length", () => {
  const tcp = new Uint8Array(20 + 7).fill(0x41);
  tcp[12] = 0x50;
  const b = frame(6, tcp);
  assert.equal(completeTransportChecksum(b, 3, 14 + 20 + 27), true);
  assert.equal(verifies(b, 6, 27), true);
});

Deno.test("completeTransportChecksum writes all ones when UDP sums to zero", () => {
  // Find a payload word that makes the checksum come out zero, then check it is sent as 0xffff.
  const udp = new Uint8Array([0, 1, 0, 2, 0, 10, 0, 0, 0, 0]);
  const b = frame(17, udp);
  completeTransportChecksum(b, 3, 14 + 30);
  const field = 3 + 34 + 6;
  const sum = (b[field] << 8) | b[field + 1];
  b[3 + 34 + 8] = sum >> 8;
  b[3 + 34 + 9] = sum & 0xff;
  assert.equal(completeTransportChecksum(b, 3, 14 + 30), true);
  assert.equal((b[field] << 8) | b[field + 1], 0xffff);
});

Deno.test("completeTransportChecksum leaves other frames alone", () => {
  const icmp = frame(1, new Uint8Array(8));
  assert.equal(completeTransportChecksum(icmp, 3, 14 + 28), false);
  const fragment = frame(17, new Uint8Array(16), 0x2000);
  const before = fragment.slice();
  assert.equal(completeTransportChecksum(fragment, 3, 14 + 36), false);
  assert.deepEqual(fragment, before);
  const short = frame(17, new Uint8Array(16));
  assert.equal(completeTransportChecksum(short, 3, 14 + 30), false, "IP length beyond the frame");
  const arp = new Uint8Array(60);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.equal(completeTransportChecksum(arp, 0, 60), false);
});

Deno.test("transportChecksumPlace finds the TCP and UDP checksum fields", () => {
  const place = { start: 0, offset: 0 };
  const tcp = frame(6, new Uint8Array(20));
  assert.equal(transportChecksumPlace(tcp, 3, 14 + 40, place), true);
  assert.deepEqual(place, { start: 34, offset: 16 });
  const udp = frame(17, new Uint8Array(8));
  assert.equal(transportChecksumPlace(udp, 3, 14 + 28, place), true);
  assert.deepEqual(place, { start: 34, offset: 6 });
  // IP options move the transport header.
  const withOptions = frame(17, new Uint8Array(12));
  withOptions[3 + 14] = 0x46;
  assert.equal(transportChecksumPlace(withOptions, 3, 14 + 32, place), true);
  assert.equal(place.start, 38);
  assert.equal(transportChecksumPlace(frame(1, new Uint8Array(8)), 3, 42, place), false);
  assert.equal(transportChecksumPlace(frame(17, new Uint8Array(8), 0x2000), 3, 42, place), false);
  assert.equal(
    transportChecksumPlace(frame(6, new Uint8Array(8)), 3, 42, place),
    false,
    "short TCP",
  );
});

Deno.test("verifyTransportChecksum accepts good sums, rejects bad ones, ignores the rest", () => {
  const udp = frame(17, new Uint8Array([0, 1, 0, 2, 0, 12, 0, 0, 1, 2, 3, 4]));
  assert.equal(verifyTransportChecksum(udp, 3, 14 + 32), true, "UDP without a checksum");
  completeTransportChecksum(udp, 3, 14 + 32);
  assert.equal(verifyTransportChecksum(udp, 3, 14 + 32), true);
  udp[3 + 34 + 9] ^= 0x40;
  assert.equal(verifyTransportChecksum(udp, 3, 14 + 32), false);
  const tcp = frame(6, new Uint8Array(20).fill(7));
  completeTransportChecksum(tcp, 3, 14 + 40);
  assert.equal(verifyTransportChecksum(tcp, 3, 14 + 40), true);
  tcp[3 + 34 + 16] ^= 1;
  assert.equal(verifyTransportChecksum(tcp, 3, 14 + 40), false);
  assert.equal(verifyTransportChecksum(frame(1, new Uint8Array(8)), 3, 42), undefined);
});

/** An Ethernet + IPv6 frame fd00::2 → fd00::1 carrying `segment` as next header `protocol`, at offset 3. */
function frame6(protocol: number, segment: Uint8Array): Uint8Array {
  const b = new Uint8Array(3 + 14 + 40 + segment.length + 5);
  const o = 3;
  b[o + 12] = 0x86;
  b[o + 13] = 0xdd;
  b.set([0x60, 0, 0, 0, segment.length >> 8, segment.length & 0xff, protocol, 64], o + 14);
  SRC6.write(b, o + 22);
  DST6.write(b, o + 38);
  b.set(segment, o + 54);
  return b;
}

const SRC6 = Ipv6Address.parse("fd00::2");
const DST6 = Ipv6Address.parse("fd00::1");

function verifies6(b: Uint8Array, protocol: number, length: number): boolean {
  return internetChecksum(b, 3 + 54, length, ipv6PseudoHeaderSum(SRC6, DST6, protocol, length)) ===
    0;
}

Deno.test("completeTransportChecksum finishes partial TCP and UDP checksums over IPv6", () => {
  const udp = new Uint8Array([0x30, 0x39, 0, 7, 0, 13, 0x12, 0x34, 104, 101, 108, 108, 111]);
  const b = frame6(17, udp);
  assert.equal(verifies6(b, 17, 13), false);
  assert.equal(completeTransportChecksum(b, 3, 14 + 40 + 13), true);
  assert.equal(verifies6(b, 17, 13), true);
  assert.equal(verifyTransportChecksum(b, 3, 14 + 40 + 13), true);

  const tcp = new Uint8Array(20 + 7).fill(0x41);
  tcp[12] = 0x50;
  const t = frame6(6, tcp);
  assert.equal(completeTransportChecksum(t, 3, 14 + 40 + 27), true);
  assert.equal(verifies6(t, 6, 27), true);
  t[3 + 54 + 25] ^= 1;
  assert.equal(verifyTransportChecksum(t, 3, 14 + 40 + 27), false);
});

Deno.test("IPv6: a zero UDP checksum is wrong, and extension headers are left alone", () => {
  const udp = new Uint8Array([0x30, 0x39, 0, 7, 0, 9, 0, 0, 1]);
  assert.equal(verifyTransportChecksum(frame6(17, udp), 3, 14 + 40 + 9), false);
  // Next header 0 (hop-by-hop): the transport header is not where the fixed header ends.
  const hop = frame6(0, new Uint8Array(16));
  const place = { start: 0, offset: 0 };
  assert.equal(transportChecksumPlace(hop, 3, 14 + 40 + 16, place), false);
  assert.equal(completeTransportChecksum(hop, 3, 14 + 40 + 16), false);
});
