/**
 * IPv4 fragment attacks: teardrop, overlaps with different data (RFC 1858, RFC 5722's rule), tiny
 * fragments, datagrams past 64 KiB, and reassembly timeouts under churn. Reassembly memory stays within
 * its bounds, each drop is counted, and a good datagram still gets through afterwards.
 */

import assert from "node:assert/strict";
import { ipFrame, IpProtocol, PEER_IP, Rig, STACK_IP, udpDatagram } from "./rig.ts";

const LIMIT_BYTES = 64 * 1024;
const LIMIT_DATAGRAMS = 8;

/** A rig whose UDP port 7 records every datagram delivered. */
function rig() {
  const r = new Rig({
    iface: {
      ipv4: {
        reassemblyBytes: LIMIT_BYTES,
        reassemblyDatagrams: LIMIT_DATAGRAMS,
        reassemblyTimeoutMs: 10_000,
      },
    },
  });
  r.learnPeer();
  const delivered: Uint8Array[] = [];
  r.iface.udp.bind(7, (d) => delivered.push(d.bytes.slice(d.offset, d.offset + d.length)));
  return { r, delivered };
}

function payload(length: number, seed = 0): Uint8Array {
  const p = new Uint8Array(length);
  for (let i = 0; i < length; i++) p[i] = (i * 13 + seed) & 0xff;
  return p;
}

/** Sends `datagram[from, to)` as a fragment at offset `from`. */
function fragment(
  r: Rig,
  datagram: Uint8Array,
  ident: number,
  from: number,
  to: number,
  more: boolean,
) {
  r.inject(
    ipFrame(
      { protocol: IpProtocol.Udp, ident, fragmentOffset: from, moreFragments: more },
      datagram.subarray(from, to),
    ),
  );
}

function reassemblyHeld(r: Rig) {
  const re = r.iface.ipv4.reassembler;
  assert.ok(re.bytesHeld <= LIMIT_BYTES, `${re.bytesHeld} bytes held`);
  assert.ok(re.inProgress <= LIMIT_DATAGRAMS, `${re.inProgress} datagrams held`);
}

Deno.test("fragments: in any order, a datagram reassembles exactly", () => {
  const { r, delivered } = rig();
  const data = payload(3000);
  const udp = udpDatagram(PEER_IP, STACK_IP, 1000, 7, data);
  fragment(r, udp, 5, 2400, udp.length, false);
  fragment(r, udp, 5, 0, 800, true);
  fragment(r, udp, 5, 1600, 2400, true);
  fragment(r, udp, 5, 800, 1600, true);
  assert.equal(delivered.length, 1);
  assert.deepEqual(delivered[0], data);
  assert.equal(r.iface.ipv4.reassembler.inProgress, 0);
});

Deno.test("fragments: teardrop (a second fragment inside the first) neither crashes nor corrupts", () => {
  const { r, delivered } = rig();
  const data = payload(100);
  const udp = udpDatagram(PEER_IP, STACK_IP, 1000, 7, data);
  fragment(r, udp, 6, 0, 48, true);
  fragment(r, udp, 6, 8, 16, true); // inside, same bytes
  fragment(r, udp, 6, 24, 32, false); // "last" ending before data already held: invalid
  fragment(r, udp, 6, 48, udp.length, false);
  reassemblyHeld(r);
  for (const d of delivered) assert.deepEqual(d, data);
  assert.equal(r.nic.badFrames, 0);
});

Deno.test("fragments: an overlap with different bytes drops the whole datagram", () => {
  const { r, delivered } = rig();
  const udp = udpDatagram(PEER_IP, STACK_IP, 1000, 7, payload(200));
  fragment(r, udp, 7, 0, 104, true);
  const forged = udp.slice();
  forged[60] ^= 0xff; // inside the overlap
  fragment(r, forged, 7, 56, 160, true);
  fragment(r, udp, 7, 160, udp.length, false);
  fragment(r, udp, 7, 104, 160, true);
  assert.equal(delivered.length, 0);
  assert.ok(r.iface.ipv4.reassembler.stats.dropOverlap >= 1);
  reassemblyHeld(r);
  // The same datagram sent cleanly afterwards arrives.
  fragment(r, udp, 8, 0, 104, true);
  fragment(r, udp, 8, 104, udp.length, false);
  assert.equal(delivered.length, 1);
});

Deno.test("fragments: tiny 8-byte fragments reassemble, bounded in number and bytes", () => {
  const { r, delivered } = rig();
  const data = payload(504);
  const udp = udpDatagram(PEER_IP, STACK_IP, 1000, 7, data);
  for (let at = udp.length - 8; at >= 0; at -= 8) {
    fragment(r, udp, 9, at, at + 8, at + 8 < udp.length);
  }
  assert.equal(delivered.length, 1);
  assert.deepEqual(delivered[0], data);
});

Deno.test("fragments: a datagram past 65,535 bytes is dropped and counted", () => {
  const { r, delivered } = rig();
  const udp = udpDatagram(PEER_IP, STACK_IP, 1000, 7, payload(1000));
  fragment(r, udp, 10, 0, 1000, true);
  r.inject(
    ipFrame(
      { protocol: IpProtocol.Udp, ident: 10, fragmentOffset: 65528, moreFragments: false },
      payload(100),
    ),
  );
  assert.equal(delivered.length, 0);
  assert.ok(r.iface.ipv4.reassembler.stats.dropOversize >= 1);
  reassemblyHeld(r);
});

Deno.test("fragments: 10,000 incomplete datagrams under churn stay within the bounds and time out", () => {
  const { r, delivered } = rig();
  const piece = payload(1400);
  for (let i = 0; i < 10_000; i++) {
    // First fragments of big datagrams that never complete, from many sources.
    const src = (0x0a000000 | (2 + (i % 200))) >>> 0;
    r.inject(
      ipFrame({
        protocol: IpProtocol.Udp,
        src,
        ident: i & 0xffff,
        fragmentOffset: 8 * (i % 4),
        moreFragments: true,
      }, piece),
    );
    reassemblyHeld(r);
    if (i % 100 === 99) r.advance(r.now + 100);
  }
  const stats = r.iface.ipv4.reassembler.stats;
  assert.ok(stats.dropMemory + stats.dropTimeout >= 9_000, JSON.stringify(stats));
  r.advance(r.now + 20_000);
  assert.equal(r.iface.ipv4.reassembler.inProgress, 0);
  assert.equal(r.iface.ipv4.reassembler.bytesHeld, 0);
  // ICMP time-exceeded answers to the churn were rate-limited (RFC 1812 §4.3.2.8).
  const icmp = r.iface.icmp.stats;
  assert.ok(icmp.txErrors <= 20 + 100 * (r.now / 1000 + 1), `${icmp.txErrors} ICMP errors`);
  // A good datagram still gets through.
  const udp = udpDatagram(PEER_IP, STACK_IP, 1000, 7, payload(2000));
  fragment(r, udp, 0xbeef, 0, 1200, true);
  fragment(r, udp, 0xbeef, 1200, udp.length, false);
  assert.equal(delivered.length, 1);
});
