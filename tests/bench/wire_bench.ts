/**
 * Wire micro-benchmarks for `deno task bench wire`: the Internet checksum in GB/s over 1500-byte
 * buffers (beside a byte-loop reference measured in the same run), and the receive path's
 * parse-and-verify of 1514-byte TCP/IPv4 frames in packets/s, with the heap growth over 1e6 parses to
 * show that it allocates nothing per packet.
 *
 * @module
 */

import { parseIpv4 } from "../../stack/wire/address.ts";
import { internetChecksum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import { EthernetFrame, EthernetRepr, EtherType } from "../../stack/wire/ethernet.ts";
import { IpProtocol, Ipv4Packet, Ipv4Repr } from "../../stack/wire/ipv4.ts";
import { Rng } from "../../stack/util/rng.ts";

/** Bytes per ring slot, as a NIC ring would lay frames out. */
const SLOT = 2048;
/** Frames in the simulated receive ring. */
const RING = 256;
/** Ethernet + IPv4 + TCP headers and 1460 bytes of payload. */
const FRAME = 1514;
const TCP_HEADER = 20;

/** Calls `run(n)` with growing `n` until one batch takes `ms`; returns operations per second. */
function rate(run: (n: number) => void, ms: number): number {
  let n = 1000;
  for (;;) {
    const start = performance.now();
    run(n);
    const elapsed = performance.now() - start;
    if (elapsed >= ms) return (n / elapsed) * 1000;
    n = Math.ceil(n * Math.min(10, Math.max(2, (ms * 1.2) / Math.max(elapsed, 1))));
  }
}

/** The textbook byte loop, as the reference the word-at-a-time checksum is compared with. */
function byteLoopChecksum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  const end = offset + length - 1;
  let i = offset;
  for (; i < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i === end) sum += bytes[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Fills a ring of TCP/IPv4 frames with valid checksums; returns the ring buffer. */
function buildRing(): Uint8Array {
  const ring = new Uint8Array(SLOT * RING);
  const rng = new Rng(1514);
  const eth = Object.assign(new EthernetRepr(), {
    src: 0x020000000001,
    dst: 0x020000000002,
    etherType: EtherType.Ipv4,
  });
  const ip = Object.assign(new Ipv4Repr(), {
    src: parseIpv4("10.0.0.1"),
    dst: parseIpv4("10.0.0.2"),
    protocol: IpProtocol.Tcp,
    payloadLength: FRAME - 34,
    dontFragment: true,
  });
  const ethView = new EthernetFrame();
  const ipView = new Ipv4Packet();
  for (let i = 0; i < RING; i++) {
    const at = i * SLOT;
    eth.emit(ethView.wrap(ring, at, FRAME));
    ip.ident = i;
    ip.emit(ipView.wrap(ring, ethView.payloadOffset, ethView.payloadLength));
    const tcp = ipView.payloadOffset;
    rng.fill(ring.subarray(tcp, at + FRAME));
    // A plain ACK segment: data offset 5, flags ACK; checksum over the pseudo-header.
    ring[tcp + 12] = 0x50;
    ring[tcp + 13] = 0x10;
    ring[tcp + 16] = 0;
    ring[tcp + 17] = 0;
    const length = FRAME - 34;
    const checksum = internetChecksum(
      ring,
      tcp,
      length,
      pseudoHeaderSum(ip.src, ip.dst, IpProtocol.Tcp, length),
    );
    ring[tcp + 16] = checksum >>> 8;
    ring[tcp + 17] = checksum;
  }
  return ring;
}

/** Benchmarks the checksum and the receive-path parse; figures as `deno task bench` prints them. */
export async function benchWire(): Promise<Record<string, number | string>> {
  await Promise.resolve();
  const out: Record<string, number | string> = {};

  // (a) Internet checksum over 1500 bytes, aligned and unaligned, beside the byte loop.
  const data = new Uint8Array(4096);
  new Rng(1071).fill(data);
  let sink = 0;
  for (const [label, offset] of [["aligned", 0], ["offset 2", 2], ["offset 1", 1]] as const) {
    const perSecond = rate((n) => {
      for (let i = 0; i < n; i++) sink ^= internetChecksum(data, offset, 1500);
    }, 700);
    out[`checksum 1500 B ${label} (GB/s)`] = (perSecond * 1500) / 1e9;
  }
  const reference = rate((n) => {
    for (let i = 0; i < n; i++) sink ^= byteLoopChecksum(data, 0, 1500);
  }, 500);
  out["checksum 1500 B byte loop reference (GB/s)"] = (reference * 1500) / 1e9;

  // (b) Receive path over a ring of 1514-byte TCP/IPv4 frames: views, IPv4 header checksum, and the
  // TCP checksum over the pseudo-header and the whole segment.
  const ring = buildRing();
  const eth = new EthernetFrame();
  const ip = new Ipv4Packet();
  let bad = 0;
  const receive = (n: number) => {
    for (let i = 0; i < n; i++) {
      eth.wrap(ring, (i & (RING - 1)) * SLOT, FRAME);
      if (eth.check() !== undefined || eth.payloadType !== EtherType.Ipv4) {
        bad++;
        continue;
      }
      ip.wrap(ring, eth.payloadOffset, eth.payloadLength);
      if (ip.check() !== undefined || !ip.verifyChecksum() || ip.protocol !== IpProtocol.Tcp) {
        bad++;
        continue;
      }
      const length = ip.payloadLength;
      if (length < TCP_HEADER) {
        bad++;
        continue;
      }
      const initial = pseudoHeaderSum(ip.src, ip.dst, IpProtocol.Tcp, length);
      if (internetChecksum(ring, ip.payloadOffset, length, initial) !== 0) bad++;
    }
  };
  receive(200_000); // warm-up: let the JIT optimise before measuring
  const pps = rate(receive, 1000);
  out["rx parse+verify 1514 B TCP/IPv4 (packets/s)"] = Math.round(pps);
  out["rx parse+verify 1514 B TCP/IPv4 (Gbit/s)"] = (pps * FRAME * 8) / 1e9;

  const before = Deno.memoryUsage().heapUsed;
  const start = performance.now();
  receive(1_000_000);
  const elapsed = performance.now() - start;
  const growth = Deno.memoryUsage().heapUsed - before;
  out["rx 1e6 parses: time (ms)"] = elapsed;
  out["rx 1e6 parses: heap growth (bytes)"] = growth;
  out["rx 1e6 parses: heap growth per packet (bytes)"] = growth / 1e6;
  if (bad !== 0) throw new Error(`Wire bench rejected ${bad} frames that should all verify`);
  out["checksum sink (ignore)"] = sink;
  return out;
}

if (import.meta.main) {
  for (const [key, value] of Object.entries(await benchWire())) {
    console.log(`${key.padEnd(48)} ${value}`);
  }
}
