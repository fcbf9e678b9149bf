import assert from "node:assert/strict";
import { WireError } from "./error.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "./tcp.ts";
import { Rng } from "../util/rng.ts";

const LOCALHOST = 0x7f000001;
const A = 0x0a000001;
const B = 0x0a000002;

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

// Captured on lo from Linux 6.x (python socket.create_connection to 127.0.0.1:40999). The checksum
// field holds the pseudo-header sum, as Linux leaves it on loopback (CHECKSUM_PARTIAL).
const LINUX_SYN = hex(
  "c7d6 a027 06712a85 00000000 a002 ffd7 fe30 0000" +
    "0204ffd7 0402 080a 95107a1a 00000000 01 03030a",
);
const LINUX_SYN_ACK = hex(
  "a027 c7d6 501a7d89 06712a86 a012 ffcb fe30 0000" +
    "0204ffd7 0402 080a ec6b8d63 95107a1a 01 03030a",
);
// The full checksums of the two segments above, computed by scapy 2.5.
const LINUX_SYN_CHECKSUM = 0xa7df;
const LINUX_SYN_ACK_CHECKSUM = 0x6067;
// Made by scapy: 10.0.0.1:80 -> 10.0.0.2:40000 PSH|ACK, NOP NOP TS(1,2) NOP NOP SACK(3000-4000,
// 5000-6000), payload "hello".
const SCAPY_SACK_SEGMENT = hex(
  "00509c40000003e8000007d0d01801f5d82300000101080a00000001000000020101051200000bb800000fa0" +
    "000013880000177068656c6c6f",
);

function parseOk(bytes: Uint8Array, src = A, dst = B, verify = false): TcpRepr {
  const result = TcpRepr.parse(new TcpPacket(bytes), src, dst, verify);
  if (result instanceof WireError) throw result;
  return result;
}

function parseErr(bytes: Uint8Array, src = A, dst = B, verify = false): WireError {
  const result = TcpRepr.parse(new TcpPacket(bytes), src, dst, verify);
  assert.ok(result instanceof WireError, "expected a WireError");
  return result;
}

function emitted(repr: TcpRepr, payload: Uint8Array, src = A, dst = B): Uint8Array {
  const bytes = new Uint8Array(repr.bufferLength(payload.length));
  bytes.set(payload, repr.headerLength);
  repr.emit(new TcpPacket(bytes), src, dst, "full");
  return bytes;
}

Deno.test("TcpPacket reads every field of a Linux SYN", () => {
  const view = TcpPacket.checked(LINUX_SYN);
  assert.ok(view instanceof TcpPacket);
  assert.equal(view.srcPort, 0xc7d6);
  assert.equal(view.dstPort, 40999);
  assert.equal(view.seq, 0x06712a85);
  assert.equal(view.ack, 0);
  assert.equal(view.dataOffset, 10);
  assert.equal(view.headerLength, 40);
  assert.equal(view.flags, TcpFlags.SYN);
  assert.equal(view.window, 0xffd7);
  assert.equal(view.checksum, 0xfe30);
  assert.equal(view.urgent, 0);
  assert.equal(view.optionsOffset, 20);
  assert.equal(view.optionsLength, 20);
  assert.equal(view.payloadOffset, 40);
  assert.equal(view.payloadLength, 0);
});

Deno.test("TcpRepr parses the options of a Linux SYN and SYN-ACK", () => {
  const syn = parseOk(LINUX_SYN);
  assert.equal(syn.mss, 65495);
  assert.equal(syn.sackPermitted, true);
  assert.equal(syn.tsVal, 0x95107a1a);
  assert.equal(syn.tsEcr, 0);
  assert.equal(syn.windowScale, 10);
  assert.deepEqual(syn.sackBlocks, []);
  const synAck = parseOk(LINUX_SYN_ACK);
  assert.equal(synAck.flags, TcpFlags.SYN | TcpFlags.ACK);
  assert.equal(synAck.ack, 0x06712a86);
  assert.equal(synAck.tsVal, 0xec6b8d63);
  assert.equal(synAck.tsEcr, 0x95107a1a);
});

Deno.test("TcpRepr emits a Linux SYN byte for byte, with the pseudo-header sum for offload", () => {
  for (const golden of [LINUX_SYN, LINUX_SYN_ACK]) {
    const repr = parseOk(golden);
    const bytes = new Uint8Array(repr.headerLength);
    repr.emit(new TcpPacket(bytes), LOCALHOST, LOCALHOST, "pseudo");
    assert.deepEqual(bytes, golden);
  }
});

Deno.test("TcpRepr full checksums match scapy's and verify", () => {
  const cases: [Uint8Array, number][] = [
    [LINUX_SYN, LINUX_SYN_CHECKSUM],
    [LINUX_SYN_ACK, LINUX_SYN_ACK_CHECKSUM],
  ];
  for (const [golden, checksum] of cases) {
    const repr = parseOk(golden);
    const bytes = new Uint8Array(repr.headerLength);
    const view = new TcpPacket(bytes);
    repr.emit(view, LOCALHOST, LOCALHOST, "full");
    assert.equal(view.checksum, checksum);
    assert.ok(view.verifyChecksum(LOCALHOST, LOCALHOST));
    assert.ok(!(TcpRepr.parse(view, LOCALHOST, LOCALHOST, true) instanceof WireError));
  }
});

Deno.test("TcpRepr matches scapy's segment with timestamps, SACK blocks and payload", () => {
  const repr = parseOk(SCAPY_SACK_SEGMENT, A, B, true);
  assert.equal(repr.flags, TcpFlags.PSH | TcpFlags.ACK);
  assert.deepEqual(repr.sackBlocks, [3000, 4000, 5000, 6000]);
  assert.equal(repr.tsVal, 1);
  assert.equal(repr.tsEcr, 2);
  assert.equal(repr.payloadOffset, 52);
  assert.equal(repr.payloadLength, 5);
  const payload = SCAPY_SACK_SEGMENT.subarray(repr.payloadOffset);
  assert.deepEqual(emitted(repr, payload), SCAPY_SACK_SEGMENT);
});

Deno.test("TcpRepr round-trips random headers and option sets", () => {
  const rng = new Rng(7);
  const into = new TcpRepr();
  for (let i = 0; i < 2000; i++) {
    const repr = new TcpRepr();
    repr.srcPort = rng.below(65536);
    repr.dstPort = rng.below(65536);
    repr.seq = rng.nextU32();
    repr.ack = rng.nextU32();
    repr.flags = rng.below(256);
    repr.window = rng.below(65536);
    repr.urgent = rng.below(65536);
    if (rng.below(2)) repr.mss = rng.below(65536);
    if (rng.below(2)) repr.windowScale = rng.below(15);
    repr.sackPermitted = rng.below(2) === 1;
    if (rng.below(2)) {
      repr.tsVal = rng.nextU32();
      repr.tsEcr = rng.nextU32();
    }
    const blocks = rng.below(5);
    for (let b = 0; b < blocks * 2; b++) repr.sackBlocks.push(rng.nextU32());
    const payload = new Uint8Array(rng.below(64));
    rng.fill(payload);
    const bytes = emitted(repr, payload);
    assert.equal(repr.headerLength % 4, 0);
    assert.ok(repr.headerLength <= 60);
    const back = TcpRepr.parse(new TcpPacket(bytes), A, B, true, into);
    assert.ok(back === into);
    // SACK blocks that do not fit beside the other options are left out, oldest last.
    const room = (40 - (repr.mss !== undefined ? 4 : 0) -
      (repr.tsVal !== undefined ? 12 : repr.sackPermitted ? 4 : 0) -
      (repr.windowScale !== undefined ? 4 : 0) - 4) >> 3;
    const expectBlocks = repr.sackBlocks.slice(0, 2 * Math.min(blocks, room));
    assert.deepEqual(
      { ...back, sackBlocks: [...back.sackBlocks] },
      {
        ...repr,
        sackBlocks: expectBlocks,
        payloadOffset: repr.headerLength,
        payloadLength: payload.length,
      },
    );
    assert.deepEqual(bytes.subarray(back.payloadOffset), payload);
  }
});

Deno.test("TcpRepr parse with a reused repr clears the previous options", () => {
  const into = parseOk(SCAPY_SACK_SEGMENT);
  const plain = new TcpRepr();
  plain.flags = TcpFlags.ACK;
  const result = TcpRepr.parse(new TcpPacket(emitted(plain, new Uint8Array(0))), A, B, true, into);
  assert.ok(result === into);
  assert.equal(into.tsVal, undefined);
  assert.equal(into.tsEcr, undefined);
  assert.equal(into.mss, undefined);
  assert.deepEqual(into.sackBlocks, []);
});

Deno.test("TcpRepr clamps a window scale above 14 (RFC 7323 §2.3)", () => {
  const bytes = LINUX_SYN.slice();
  bytes[39] = 15;
  assert.equal(parseOk(bytes).windowScale, 14);
  bytes[39] = 255;
  assert.equal(parseOk(bytes).windowScale, 14);
  const repr = new TcpRepr();
  repr.windowScale = 20;
  const out = emitted(repr, new Uint8Array(0));
  assert.equal(out[23], 14);
});

Deno.test("TcpRepr skips unknown options and stops at EOL", () => {
  // MSS, unknown kind 30 of length 6, NOP, EOL, then garbage after EOL.
  const bytes = new Uint8Array(20 + 16);
  bytes[12] = (36 / 4) << 4;
  bytes.set([2, 4, 0x05, 0xb4, 30, 6, 1, 2, 3, 4, 1, 0, 0xff, 0xff, 0xff, 0xff], 20);
  const repr = parseOk(bytes);
  assert.equal(repr.mss, 1460);
  assert.equal(repr.windowScale, undefined);
});

Deno.test("TcpRepr rejects malformed option lengths", () => {
  const cases: number[][] = [
    [2, 0, 0, 0], // length 0
    [2, 1, 0, 0], // length 1
    [30, 0, 1, 1], // unknown kind with length 0
    [30, 1, 1, 1], // unknown kind with length 1
    [1, 1, 1, 30], // no length byte before the end
    [30, 5, 0, 0], // past the end
    [2, 3, 0, 1], // MSS of length 3
    [2, 6, 0, 0, 0, 0, 1, 1], // MSS of length 6
    [3, 4, 7, 0], // window scale of length 4
    [3, 2, 1, 1], // window scale of length 2
    [4, 3, 0, 1], // SACK-permitted of length 3
    [8, 8, 0, 0, 0, 0, 0, 0], // timestamps of length 8
    [5, 2, 1, 1], // SACK without blocks
    [5, 6, 0, 0, 0, 0, 1, 1], // SACK with half a block
    [5, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // SACK with 1.25 blocks
    [8, 10, 0, 0, 0, 0, 0, 0], // timestamps past the end
  ];
  for (const options of cases) {
    const bytes = new Uint8Array(20 + options.length);
    bytes[12] = (bytes.length / 4) << 4;
    bytes.set(options, 20);
    const error = parseErr(bytes);
    assert.equal(error.code, "malformed", `options ${options}`);
  }
});

Deno.test("TcpPacket rejects data offsets below 5 and beyond the buffer", () => {
  const bytes = SCAPY_SACK_SEGMENT.slice();
  for (let dataOffset = 0; dataOffset < 5; dataOffset++) {
    bytes[12] = dataOffset << 4;
    const error = parseErr(bytes);
    assert.equal(error.code, "malformed");
    assert.match(error.message, new RegExp(`data offset ${dataOffset} is below 5`));
  }
  const short = new Uint8Array(24);
  short[12] = 6 << 4;
  assert.ok(parseOk(short));
  short[12] = 7 << 4;
  assert.equal(parseErr(short).code, "truncated");
  short[12] = 15 << 4;
  assert.equal(parseErr(short).code, "truncated");
});

Deno.test("TcpRepr rejects every truncation of a segment's header", () => {
  for (let length = 0; length < 52; length++) {
    const view = new TcpPacket(SCAPY_SACK_SEGMENT, 0, length);
    const result = TcpRepr.parse(view, A, B, false);
    assert.ok(result instanceof WireError, `length ${length}`);
    assert.equal(result.code, "truncated");
  }
  // A view reaching past its buffer is truncated too.
  const past = new TcpPacket(SCAPY_SACK_SEGMENT, 10, SCAPY_SACK_SEGMENT.length);
  assert.equal(past.check()?.code, "truncated");
  // Truncating the payload only makes the checksum fail.
  for (let length = 52; length < SCAPY_SACK_SEGMENT.length; length++) {
    const result = TcpRepr.parse(new TcpPacket(SCAPY_SACK_SEGMENT, 0, length), A, B, true);
    assert.ok(result instanceof WireError);
    assert.equal(result.code, "checksum");
    const unverified = TcpRepr.parse(new TcpPacket(SCAPY_SACK_SEGMENT, 0, length), A, B, false);
    assert.ok(unverified instanceof TcpRepr);
    assert.equal(unverified.payloadLength, length - 52);
  }
});

Deno.test("TcpRepr rejects a flipped bit anywhere as a bad checksum", () => {
  const bytes = SCAPY_SACK_SEGMENT.slice();
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    // Flipping the data offset changes the structure first; skip its bits.
    if ((bit >> 3) === 12) continue;
    bytes[bit >> 3] ^= 1 << (bit & 7);
    const result = TcpRepr.parse(new TcpPacket(bytes), A, B, true);
    assert.ok(result instanceof WireError, `bit ${bit}`);
    bytes[bit >> 3] ^= 1 << (bit & 7);
  }
  // The wrong addresses fail as well.
  assert.equal(parseErr(bytes, A, A, true).code, "checksum");
  assert.ok(parseOk(bytes, A, B, true));
});

Deno.test("TcpRepr parses a view at an offset inside a larger buffer", () => {
  const buffer = new Uint8Array(14 + 20 + SCAPY_SACK_SEGMENT.length + 4);
  buffer.set(SCAPY_SACK_SEGMENT, 34);
  const view = new TcpPacket().wrap(buffer, 34, SCAPY_SACK_SEGMENT.length);
  const repr = TcpRepr.parse(view, A, B, true);
  assert.ok(repr instanceof TcpRepr);
  assert.equal(repr.payloadOffset, 34 + 52);
  assert.equal(repr.payloadLength, 5);
  // Emitting at an offset writes only inside the view.
  const out = new Uint8Array(100).fill(0xee);
  out.set(buffer.subarray(86, 91), 10 + 52);
  repr.emit(new TcpPacket(out, 10, 57), A, B, "full");
  assert.deepEqual(out.subarray(10, 67), SCAPY_SACK_SEGMENT);
  assert.ok(out.subarray(0, 10).every((b) => b === 0xee));
  assert.ok(out.subarray(67).every((b) => b === 0xee));
});

Deno.test("TcpRepr emit with checksum none writes zero", () => {
  const repr = parseOk(SCAPY_SACK_SEGMENT);
  const bytes = new Uint8Array(repr.bufferLength(0));
  const view = new TcpPacket(bytes);
  repr.emit(view, A, B, "none");
  assert.equal(view.checksum, 0);
});

Deno.test("TcpPacket setters write the fields they read", () => {
  const view = new TcpPacket(new Uint8Array(20));
  view.srcPort = 0xfffe;
  view.dstPort = 1;
  view.seq = 0xfedcba98;
  view.ack = 0x01020304;
  view.dataOffset = 5;
  view.flags = TcpFlags.FIN | TcpFlags.CWR;
  view.window = 0xabcd;
  view.checksum = 0x1234;
  view.urgent = 0x8000;
  assert.deepEqual(
    view.bytes,
    hex("fffe 0001 fedcba98 01020304 50 81 abcd 1234 8000"),
  );
  assert.equal(view.seq, 0xfedcba98);
  assert.equal(view.check(), undefined);
});
