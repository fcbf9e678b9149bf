import assert from "node:assert/strict";
import { Rng } from "../util/rng.ts";
import { parseIpv4 } from "./address.ts";
import { internetChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";
import { IpProtocol, IPV4_HEADER_LENGTH, Ipv4Packet, Ipv4Repr } from "./ipv4.ts";

function sample(): Ipv4Repr {
  return Object.assign(new Ipv4Repr(), {
    src: parseIpv4("10.0.0.1"),
    dst: parseIpv4("192.168.1.200"),
    protocol: IpProtocol.Udp,
    payloadLength: 100,
    ttl: 17,
    dscp: 46,
    ecn: 2,
    ident: 0xbeef,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
  });
}

Deno.test("Ipv4Repr round-trips every field", () => {
  const original = sample();
  const bytes = new Uint8Array(original.bufferLength());
  const view = new Ipv4Packet(bytes);
  original.emit(view);
  assert.deepEqual([...bytes.subarray(0, 12)], [
    0x45,
    46 << 2 | 2,
    0,
    120,
    0xbe,
    0xef,
    0x40,
    0,
    17,
    17,
    bytes[10],
    bytes[11],
  ]);
  assert.ok(view.verifyChecksum());
  const parsed = Ipv4Repr.parse(view);
  assert.ok(!(parsed instanceof WireError));
  original.payloadOffset = IPV4_HEADER_LENGTH;
  assert.deepEqual(parsed, original);
});

Deno.test("Ipv4Repr round-trips random headers, fragments included", () => {
  const rng = new Rng(791);
  const bytes = new Uint8Array(20 + 64);
  const view = new Ipv4Packet(bytes);
  const into = new Ipv4Repr();
  for (let i = 0; i < 2000; i++) {
    const original = Object.assign(new Ipv4Repr(), {
      src: rng.nextU32(),
      dst: rng.nextU32(),
      protocol: rng.below(256),
      payloadLength: rng.below(65),
      ttl: rng.below(256),
      dscp: rng.below(64),
      ecn: rng.below(4),
      ident: rng.below(65536),
      dontFragment: rng.below(2) === 1,
      moreFragments: rng.below(2) === 1,
      fragmentOffset: rng.below(8192) * 8,
      payloadOffset: 20,
    });
    view.wrap(bytes, 0, original.bufferLength());
    original.emit(view);
    assert.equal(Ipv4Repr.parse(view, into), into);
    assert.deepEqual(into, original);
    assert.equal(view.isFragment, original.moreFragments || original.fragmentOffset !== 0);
  }
});

Deno.test("the payload is bounded by the total length, not by Ethernet padding", () => {
  const repr = Object.assign(sample(), { payloadLength: 3 });
  const bytes = new Uint8Array(46); // the smallest Ethernet payload
  const view = new Ipv4Packet(bytes);
  repr.emit(view);
  assert.equal(view.check(), undefined);
  assert.equal(view.length, 46);
  assert.equal(view.payloadOffset, 20);
  assert.equal(view.payloadLength, 3);
});

Deno.test("options are skipped: the payload starts after IHL × 4 bytes", () => {
  for (let ihl = 5; ihl <= 15; ihl++) {
    const bytes = new Uint8Array(ihl * 4 + 8);
    const view = new Ipv4Packet(bytes, 0, bytes.length);
    sample().emit(view);
    view.headerLength = ihl * 4;
    view.totalLength = ihl * 4 + 8;
    bytes.fill(1, 20, ihl * 4); // options: NOPs
    view.fillChecksum();
    const parsed = Ipv4Repr.parse(view);
    assert.ok(!(parsed instanceof WireError), `ihl ${ihl}`);
    assert.equal(view.optionsLength, ihl * 4 - 20);
    assert.equal(view.optionsOffset, 20);
    assert.equal(parsed.payloadOffset, ihl * 4);
    assert.equal(parsed.payloadLength, 8);
  }
});

Deno.test("fillChecksum covers options and verifyChecksum catches any flipped bit", () => {
  const bytes = new Uint8Array(24 + 4);
  const view = new Ipv4Packet(bytes);
  sample().emit(view);
  view.headerLength = 24;
  view.totalLength = 28;
  bytes[20] = 0x94; // Router Alert (RFC 2113)
  bytes[21] = 4;
  view.fillChecksum();
  assert.ok(view.verifyChecksum());
  assert.equal(internetChecksum(bytes, 0, 24), 0);
  for (let bit = 0; bit < 24 * 8; bit++) {
    bytes[bit >>> 3] ^= 1 << (bit & 7);
    assert.ok(!view.verifyChecksum(), `bit ${bit}`);
    bytes[bit >>> 3] ^= 1 << (bit & 7);
  }
});

Deno.test("emit without fillChecksum leaves the checksum zero (for a later fill)", () => {
  const view = new Ipv4Packet(new Uint8Array(120));
  sample().emit(view, false);
  assert.equal(view.checksum, 0);
  const result = Ipv4Repr.parse(view);
  assert.ok(result instanceof WireError);
  assert.equal(result.code, "checksum");
  assert.ok(!(Ipv4Repr.parse(view, undefined, false) instanceof WireError));
});

Deno.test("flag and field setters change only their own bits", () => {
  const view = new Ipv4Packet(new Uint8Array(20));
  view.version = 4;
  view.headerLength = 20;
  view.dscp = 0x3f;
  view.ecn = 0;
  assert.equal(view.dscp, 0x3f);
  view.ecn = 3;
  assert.equal(view.dscp, 0x3f);
  view.dscp = 0;
  assert.equal(view.ecn, 3);
  view.fragmentOffset = 8191 * 8;
  view.dontFragment = true;
  view.moreFragments = true;
  assert.equal(view.fragmentOffset, 8191 * 8);
  view.dontFragment = false;
  assert.ok(view.moreFragments && !view.dontFragment && !view.reservedFlag);
  view.fragmentOffset = 16;
  assert.ok(view.moreFragments);
  assert.equal(view.fragmentOffset, 16);
  view.moreFragments = false;
  assert.equal(view.fragmentOffset, 16);
  assert.equal(view.version, 4);
  assert.equal(view.headerLength, 20);
});

Deno.test("check refuses bad version, IHL below 5, and total lengths outside header..buffer", () => {
  const bytes = new Uint8Array(60);
  const view = new Ipv4Packet(bytes, 0, 40);
  const fresh = () => {
    Object.assign(sample(), { payloadLength: 20 }).emit(view);
  };
  fresh();
  assert.equal(view.check(), undefined);

  for (const version of [0, 6, 15]) {
    fresh();
    view.version = version;
    assert.equal(view.check()?.code, "malformed", `version ${version}`);
  }
  for (let ihl = 0; ihl < 5; ihl++) {
    fresh();
    view.headerLength = ihl * 4;
    const error = view.check();
    assert.equal(error?.code, "malformed", `ihl ${ihl}`);
    assert.match(error!.message, new RegExp(`header length ${ihl * 4} is below 20`));
  }
  for (const total of [0, 19]) {
    fresh();
    view.totalLength = total;
    assert.equal(view.check()?.code, "malformed", `total ${total}`);
  }
  fresh();
  view.headerLength = 60; // options longer than the datagram
  assert.equal(view.check()?.code, "malformed");
  fresh();
  view.totalLength = 41;
  assert.equal(view.check()?.code, "truncated");
  view.totalLength = 0xffff;
  assert.equal(view.check()?.code, "truncated");
});
