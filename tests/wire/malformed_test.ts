/**
 * Malformed input: every golden frame truncated at every length, corrupted length fields, and seeded
 * random mutations. Bad input must come back as a WireError, never as an exception, and whatever parses
 * must stay inside the buffer.
 */
import assert from "node:assert/strict";
import scapyFixtures from "../fixtures/wire/packets.json" with { type: "json" };
import linuxFixtures from "../fixtures/wire/linux_packets.json" with { type: "json" };
import { Rng } from "../../stack/util/rng.ts";
import { ArpPacket, ArpRepr } from "../../stack/wire/arp.ts";
import { WireError } from "../../stack/wire/error.ts";
import { EthernetFrame, EthernetRepr } from "../../stack/wire/ethernet.ts";
import { Icmpv4Packet, Icmpv4Repr } from "../../stack/wire/icmpv4.ts";
import { Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { UdpPacket, UdpRepr } from "../../stack/wire/udp.ts";
import { type Decoded, decodeFrame } from "./decode.ts";

function hex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

// Frames with offloaded (pseudo-sum) checksums would fail verification whole; they are left out.
const frames = [...scapyFixtures.packets, ...linuxFixtures.packets]
  .filter((p) => !("txChecksumPartial" in p))
  .map((p) => ({ name: p.name, bytes: hex(p.hex) }));

/** The bytes the headers and length fields of a decoded frame say it needs. */
function neededLength(d: Decoded): number {
  if (d.arp) return d.regions.arp[0] + 28;
  if (d.ip) return d.ip.payloadOffset + d.ip.payloadLength;
  return d.eth.headerLength;
}

/** Every region a decode reports lies inside the buffer. */
function assertInside(d: Decoded, size: number, label: string): void {
  for (const [layer, [offset, length]] of Object.entries(d.regions)) {
    assert.ok(offset >= 0 && length >= 0 && offset + length <= size, `${label}: ${layer}`);
  }
  if (d.ip) assert.ok(d.ip.payloadOffset + d.ip.payloadLength <= size, `${label}: ip payload`);
  if (d.udp) assert.ok(d.udp.payloadOffset + d.udp.payloadLength <= size, `${label}: udp payload`);
  if (d.icmp) assert.ok(d.icmp.dataOffset + d.icmp.dataLength <= size, `${label}: icmp data`);
}

Deno.test("every golden frame truncated at every length gives a truncated WireError", () => {
  let checked = 0;
  for (const { name, bytes } of frames) {
    const whole = decodeFrame(bytes);
    assert.ok(!(whole instanceof WireError), name);
    const needed = neededLength(whole);
    for (let length = 0; length < bytes.length; length++) {
      // A fresh copy of exactly `length` bytes: nothing past the end can be read by accident.
      const cut = bytes.slice(0, length);
      const result = decodeFrame(cut);
      if (length < needed) {
        assert.ok(result instanceof WireError, `${name} cut at ${length} of ${needed}`);
        assert.equal(result.code, "truncated", `${name} cut at ${length}: ${result.message}`);
      } else {
        // Only Ethernet padding was cut.
        assert.ok(!(result instanceof WireError), `${name} cut at ${length}`);
      }
      checked++;
    }
  }
  assert.ok(checked > 2000);
});

Deno.test("each view alone refuses every truncation of its own header", () => {
  const bytes = new Uint8Array(64);
  const cases: [string, number, (length: number) => WireError | undefined][] = [
    ["ethernet", 14, (n) => new EthernetFrame(bytes, 0, n).check()],
    ["arp", 28, (n) => new ArpPacket(bytes, 0, n).check()],
    ["ipv4", 20, (n) => new Ipv4Packet(bytes, 0, n).check()],
    ["icmpv4", 8, (n) => new Icmpv4Packet(bytes, 0, n).check()],
    ["udp", 8, (n) => new UdpPacket(bytes, 0, n).check()],
  ];
  // Headers that would be valid if long enough.
  bytes.set([0, 1, 8, 0, 6, 4, 0, 1]);
  for (const [name, minimum, check] of cases) {
    for (let length = 0; length < minimum; length++) {
      assert.equal(check(length)?.code, "truncated", `${name} ${length}`);
    }
  }
});

Deno.test("IPv4 length fields that lie are refused", () => {
  const { bytes } = frames.find((f) => f.name === "udp_dns_query")!;
  const ip = new Ipv4Packet();
  const cases: [string, (v: Ipv4Packet) => void, string][] = [
    ["IHL 0", (v) => (v.headerLength = 0), "malformed"],
    ["IHL 4", (v) => (v.headerLength = 16), "malformed"],
    ["IHL 15 beyond total length", (v) => (v.headerLength = 60), "malformed"],
    ["total length 0", (v) => (v.totalLength = 0), "malformed"],
    ["total length 19", (v) => (v.totalLength = 19), "malformed"],
    ["total length beyond the frame", (v) => (v.totalLength = 58), "truncated"],
    ["total length 65535", (v) => (v.totalLength = 65535), "truncated"],
    ["version 6", (v) => (v.version = 6), "malformed"],
  ];
  for (const [label, corrupt, code] of cases) {
    const copy = bytes.slice();
    ip.wrap(copy, 14, copy.length - 14);
    corrupt(ip);
    // Keep the header checksum right, so that the length check itself must catch it.
    if (ip.headerLength >= 20 && ip.headerLength <= ip.length) ip.fillChecksum();
    const result = decodeFrame(copy);
    assert.ok(result instanceof WireError, label);
    assert.equal(result.code, code, `${label}: ${result.message}`);
  }
});

Deno.test("a bad IPv4 header checksum is refused with code checksum", () => {
  const { bytes } = frames.find((f) => f.name === "icmp_echo_request")!;
  const copy = bytes.slice();
  copy[14 + 10] ^= 0x01;
  const result = decodeFrame(copy);
  assert.ok(result instanceof WireError);
  assert.equal(result.code, "checksum");
});

Deno.test("UDP and ICMP checksum corruption is refused with code checksum", () => {
  for (const name of ["udp_dns_query", "udp_zero_sum", "icmp_echo_request", "icmp_frag_needed"]) {
    const { bytes } = frames.find((f) => f.name === name)!;
    const copy = bytes.slice();
    copy[copy.length - 1] ^= 0x80;
    const result = decodeFrame(copy);
    assert.ok(result instanceof WireError, name);
    assert.equal(result.code, "checksum", name);
  }
});

Deno.test("seeded random mutations never throw and never escape the buffer", () => {
  const rng = new Rng(0xbad);
  let errors = 0;
  let parsed = 0;
  for (let round = 0; round < 20000; round++) {
    const { bytes } = frames[rng.below(frames.length)];
    const copy = bytes.slice(0, rng.below(4) === 0 ? rng.below(bytes.length + 1) : bytes.length);
    const flips = 1 + rng.below(4);
    for (let i = 0; i < flips && copy.length > 0; i++) {
      copy[rng.below(copy.length)] = rng.below(256);
    }
    const result = decodeFrame(copy);
    if (result instanceof WireError) {
      errors++;
      assert.ok(["truncated", "malformed", "checksum", "unsupported"].includes(result.code));
      assert.match(result.message, /^Cannot parse [A-Za-z0-9 ]+: /);
    } else {
      parsed++;
      assertInside(result, copy.length, `round ${round}`);
    }
  }
  // Both outcomes must occur, or the mutations are not exercising anything.
  assert.ok(errors > 1000 && parsed > 1000, `${errors} errors, ${parsed} parsed`);
});

Deno.test("random bytes of every length never throw from any repr", () => {
  const rng = new Rng(42);
  const views = {
    eth: new EthernetFrame(),
    arp: new ArpPacket(),
    ip: new Ipv4Packet(),
    icmp: new Icmpv4Packet(),
    udp: new UdpPacket(),
  };
  for (let length = 0; length < 120; length++) {
    for (let round = 0; round < 50; round++) {
      const bytes = new Uint8Array(length);
      rng.fill(bytes);
      // Make the interesting branches likely: a plausible version/IHL byte half the time.
      if (length > 0 && round % 2 === 0) bytes[0] = 0x45;
      const results = [
        EthernetRepr.parse(views.eth.wrap(bytes)),
        ArpRepr.parse(views.arp.wrap(bytes)),
        Ipv4Repr.parse(views.ip.wrap(bytes), undefined, round % 3 !== 0),
        Icmpv4Repr.parse(views.icmp.wrap(bytes), undefined, round % 3 !== 0),
        UdpRepr.parse(views.udp.wrap(bytes), 1, 2, round % 3 !== 0),
      ];
      for (const result of results) {
        if (result instanceof WireError) continue;
        if ("payloadOffset" in result && "payloadLength" in result) {
          assert.ok(result.payloadOffset + result.payloadLength <= length);
        }
        if (result instanceof Icmpv4Repr) {
          assert.ok(result.dataOffset + result.dataLength <= length);
        }
      }
    }
  }
});
