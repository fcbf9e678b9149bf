/**
 * The fuzzer's IPv6 frames: ICMPv6 echo, neighbor discovery (solicitations, advertisements, router
 * advertisements with prefixes and MTUs, redirects), MLD queries, UDP over IPv6, chains of extension
 * headers (hop-by-hop, routing, destination options with every unknown-option action), and fragment
 * series that overlap or never complete. Written byte by byte so that the generator stays independent of
 * the IPv6 wire modules it tests. Seeded; no allocation per frame.
 *
 * @module
 */

import type { Rng } from "../../stack/util/rng.ts";
import { internetChecksum } from "../../stack/wire/checksum.ts";
import { TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import {
  type Burst,
  type Frame,
  MAX_BURST,
  PEER_COUNT,
  peerMac,
  STACK_MAC,
  UDP_PORT,
  write16,
  write32,
} from "./frames.ts";

/** The stack's link-local address, fe80::ff:fe00:1 (EUI-64 of 02:00:00:00:00:01). */
export const STACK_LL = new Uint8Array([
  0xfe,
  0x80,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0xff,
  0xfe,
  0,
  0,
  1,
]);
const ALL_NODES = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const SOLICITED = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 1]);
const UNSPECIFIED = new Uint8Array(16);
const PREFIX = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** Generates IPv6 bursts aimed at the stack. */
export class FrameGen6 {
  #rng: Rng;
  #src = new Uint8Array(16);
  #dst = new Uint8Array(16);
  #payload = new Uint8Array(70_000);
  #tcpRepr = new TcpRepr();
  #tcpView = new TcpPacket();

  /** Uses `rng` for every choice. */
  constructor(rng: Rng) {
    this.#rng = rng;
  }

  /** Fills `burst` with one IPv6 frame or one fragment series. */
  burst(burst: Burst): void {
    burst.count = 0;
    const r = this.#rng.below(100);
    if (r < 15) this.#echo(burst.next("ipv6-echo"));
    else if (r < 45) this.#ndp(burst.next("ipv6-ndp"));
    else if (r < 52) this.#mld(burst.next("ipv6-mld"));
    else if (r < 67) this.#udp(burst.next("ipv6-udp"));
    else if (r < 74) this.#extensions(burst.next("ipv6-ext"));
    else if (r < 84) this.#tcp(burst.next("ipv6-tcp"));
    else this.#fragments(burst);
  }

  #pick<T>(items: readonly T[]): T {
    return items[this.#rng.below(items.length)];
  }

  /** Chooses source (a peer's link-local address, sometimes unspecified) and destination. */
  #addresses(p: number, ndp: boolean): void {
    const src = this.#src;
    src.set(STACK_LL);
    src[13] = 0;
    src[14] = 1;
    src[15] = p;
    if (ndp && this.#rng.below(10) === 0) src.set(UNSPECIFIED);
    const r = this.#rng.below(100);
    this.#dst.set(r < 60 ? STACK_LL : r < 75 ? ALL_NODES : r < 90 ? SOLICITED : PREFIX);
    if (r >= 90) this.#dst[15] = 1;
  }

  /** Writes Ethernet and the IPv6 fixed header; returns the offset after it. */
  #header(
    f: Frame,
    p: number,
    nextHeader: number,
    payloadLength: number,
    hopLimit: number,
  ): number {
    const b = f.bytes;
    const multicast = this.#dst[0] === 0xff;
    if (multicast) {
      b[0] = 0x33;
      b[1] = 0x33;
      b[2] = this.#dst[12];
      b[3] = this.#dst[13];
      b[4] = this.#dst[14];
      b[5] = this.#dst[15];
    } else {
      writeMac(b, 0, STACK_MAC);
    }
    writeMac(b, 6, peerMac(p));
    b[12] = 0x86;
    b[13] = 0xdd;
    b[14] = 0x60;
    b[15] = 0;
    b[16] = 0;
    b[17] = 0;
    b[18] = payloadLength >>> 8;
    b[19] = payloadLength & 0xff;
    b[20] = nextHeader;
    b[21] = hopLimit;
    b.set(this.#src, 22);
    b.set(this.#dst, 38);
    f.l3 = 14;
    return 54;
  }

  /** Fills the upper-layer checksum at `at + checksumAt` for `length` bytes from `at`. */
  #checksum(f: Frame, at: number, length: number, nextHeader: number, checksumAt: number): void {
    fillChecksum6(f.bytes, 14, at, length, nextHeader, checksumAt);
    f.l4 = at;
    f.proto = nextHeader;
  }

  #echo(f: Frame): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, false);
    const data = this.#rng.below(100) < 90 ? this.#rng.below(200) : this.#rng.below(1400);
    const at = this.#header(f, p, 58, 8 + data, 64);
    const b = f.bytes;
    b[at] = this.#rng.below(10) === 0 ? 129 : 128;
    b[at + 1] = 0;
    b[at + 4] = 0;
    b[at + 5] = this.#rng.below(4);
    b[at + 6] = this.#rng.below(256);
    b[at + 7] = this.#rng.below(256);
    for (let i = 0; i < data; i++) b[at + 8 + i] = i;
    this.#checksum(f, at, 8 + data, 58, 2);
    f.length = at + 8 + data;
  }

  #ndp(f: Frame): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, true);
    const type = this.#pick([133, 134, 134, 135, 135, 136, 136, 137]);
    const b = f.bytes;
    const body = this.#payload;
    let n = 0;
    body.fill(0, 0, 128);
    body[0] = type;
    body[1] = this.#rng.below(20) === 0 ? 1 : 0;
    n = 8;
    if (type === 134) {
      // Router advertisement: hop limit, flags, lifetime, reachable, retrans; prefix and MTU options.
      body[4] = this.#pick([0, 64, 255]);
      body[5] = this.#rng.below(256);
      write16(body, 6, this.#pick([0, 1, 1800, 9000, 65535]));
      write32(body, 8, this.#pick([0, 30000, 0xffffffff]));
      write32(body, 12, this.#pick([0, 1000, 0xffffffff]));
      n = 16;
      if (this.#rng.below(100) < 80) {
        body[n] = 3; // prefix information
        body[n + 1] = 4;
        body[n + 2] = this.#pick([64, 64, 0, 48, 128, 200]);
        body[n + 3] = this.#pick([0xc0, 0x40, 0x80, 0]);
        write32(body, n + 4, this.#pick([0, 7200, 0xffffffff, this.#rng.nextU32()]));
        write32(body, n + 8, this.#pick([0, 3600, 0xffffffff, this.#rng.nextU32()]));
        body.set(PREFIX, n + 16);
        body[n + 21] = this.#rng.below(4);
        n += 32;
      }
      if (this.#rng.below(2) === 0) {
        body[n] = 5; // MTU
        body[n + 1] = 1;
        write32(body, n + 4, this.#pick([0, 68, 1279, 1280, 1500, 9000, 0xffffffff]));
        n += 8;
      }
    } else if (type === 135 || type === 136 || type === 137) {
      if (type === 136) body[4] = this.#pick([0x60, 0x20, 0x40, 0xe0, 0]);
      body.set(this.#rng.below(5) === 0 ? this.#src : STACK_LL, 8);
      n = 24;
      if (type === 137) {
        body.set(PREFIX, 24);
        n = 40;
      }
    }
    if (this.#rng.below(100) < 70) {
      // A link-layer address option (source for NS/RS/RA, target for NA), or one of bad length.
      body[n] = type === 136 ? 2 : 1;
      body[n + 1] = this.#pick([1, 1, 1, 0, 2]);
      writeMac(body, n + 2, this.#rng.below(10) === 0 ? 0x02000000eeee : peerMac(p));
      n += Math.max(8, body[n + 1] * 8);
    }
    if (this.#rng.below(10) === 0) {
      body[n] = this.#rng.below(256); // an unknown option
      body[n + 1] = this.#pick([0, 1, 2, 255]);
      n += 8;
    }
    const at = this.#header(f, p, 58, n, this.#rng.below(10) === 0 ? 64 : 255);
    b.set(body.subarray(0, n), at);
    this.#checksum(f, at, n, 58, 2);
    f.length = at + n;
  }

  #mld(f: Frame): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, false);
    this.#dst.set(ALL_NODES);
    // A hop-by-hop header with a router alert, then an MLDv2 (or v1) general query.
    const v2 = this.#rng.below(2) === 0;
    const mldLength = v2 ? 28 : 24;
    const at = this.#header(f, p, 0, 8 + mldLength, 1);
    const b = f.bytes;
    b.set([58, 0, 5, 2, 0, 0, 1, 0], at);
    const m = at + 8;
    b.fill(0, m, m + mldLength);
    b[m] = 130;
    write16(b, m + 4, this.#pick([0, 1000, 10000]));
    if (this.#rng.below(3) === 0) b.set(SOLICITED, m + 8);
    if (v2) write16(b, m + 26, this.#rng.below(3) === 0 ? 0xffff : 0);
    this.#checksum(f, m, mldLength, 58, 2);
    f.length = m + mldLength;
  }

  #udp(f: Frame): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, false);
    const data = this.#rng.below(100) < 90 ? this.#rng.below(300) : this.#rng.below(1400);
    const at = this.#header(f, p, 17, 8 + data, 64);
    const b = f.bytes;
    write16(b, at, 1024 + this.#rng.below(64));
    write16(b, at + 2, this.#rng.below(100) < 75 ? UDP_PORT : this.#rng.below(65536));
    write16(b, at + 4, 8 + data);
    for (let i = 0; i < data; i++) b[at + 8 + i] = (i * 7) & 0xff;
    this.#checksum(f, at, 8 + data, 17, 6);
    f.length = at + 8 + data;
  }

  /** A TCP segment for the IPv6 listener: SYNs with options, and stray ACKs, RSTs and data. */
  #tcp(f: Frame): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, false);
    this.#dst.set(STACK_LL);
    const repr = this.#tcpRepr;
    const r = this.#rng;
    repr.srcPort = 1024 + r.below(64);
    repr.dstPort = r.below(10) === 0 ? r.below(65536) : 80;
    repr.seq = r.nextU32();
    repr.ack = r.nextU32();
    repr.flags = r.below(100) < 60
      ? 0x02
      : this.#pick([0x10, 0x18, 0x04, 0x14, 0x11, 0x12, r.below(256)]);
    repr.window = this.#pick([0, 1, 65535]);
    repr.mss = r.below(2) === 0 ? this.#pick([0, 536, 1440, 65535]) : undefined;
    repr.windowScale = r.below(2) === 0 ? this.#pick([0, 7, 14, 200]) : undefined;
    repr.sackPermitted = r.below(2) === 0;
    repr.tsVal = r.below(2) === 0 ? r.nextU32() : undefined;
    repr.tsEcr = repr.tsVal === undefined ? undefined : 0;
    repr.sackBlocks.length = 0;
    const data = r.below(3) === 0 ? r.below(300) : 0;
    const length = repr.headerLength + data;
    const at = this.#header(f, p, 6, length, 64);
    const b = f.bytes;
    for (let i = 0; i < data; i++) b[at + repr.headerLength + i] = i;
    repr.emit(this.#tcpView.wrap(b, at, length), 0, 0, "none");
    this.#checksum(f, at, length, 6, 16);
    f.length = at + length;
  }

  /** A chain of extension headers with options of every action, ending in ICMPv6 echo or nothing. */
  #extensions(f: Frame): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, false);
    const kinds = [0, 43, 60, 60, 59];
    const count = 1 + this.#rng.below(4);
    const chain = [this.#rng.below(4) === 0 ? this.#pick(kinds) : 0];
    for (let i = 1; i < count; i++) chain.push(this.#pick([43, 60, 60, 0]));
    const b = f.bytes;
    this.#header(f, p, chain[0], 0, 64);
    let at = 54;
    let last = chain[0];
    for (let i = 0; i < chain.length; i++) {
      const next = i + 1 < chain.length ? chain[i + 1] : this.#rng.below(5) === 0 ? 59 : 58;
      last = next;
      const kind = chain[i];
      const words = this.#rng.below(3);
      b[at] = next;
      b[at + 1] = words;
      const end = at + 8 + words * 8;
      if (kind === 43) {
        b[at + 2] = this.#pick([0, 2, 3, 4, 253]); // routing type
        b[at + 3] = this.#pick([0, 0, 1, 255]); // segments left
        b.fill(0, at + 4, end);
      } else {
        // Options: Pad1, PadN, and unknown types whose top bits say skip, discard, or answer.
        let o = at + 2;
        while (o < end) {
          const room = end - o;
          const type = room < 2 ? 0 : this.#pick([0, 1, 1, 0x05, 0x3e, 0x7e, 0xbe, 0xfe, 0xc2]);
          b[o] = type;
          if (type === 0) {
            o++;
            continue;
          }
          const len = Math.min(room - 2, this.#pick([0, 2, 4, 6]));
          b[o + 1] = this.#rng.below(20) === 0 ? 200 : len;
          b.fill(0, o + 2, o + 2 + len);
          o += 2 + len;
        }
      }
      at = end;
    }
    b.fill(0, at, at + 16);
    write16(b, 18, at + 16 - 54);
    if (last === 58) {
      b[at] = 128;
      write16(b, at + 4, 7);
      this.#checksum(f, at, 16, 58, 2);
    }
    f.length = at + 16;
  }

  /** A fragment series of an echo request: in order, shuffled, overlapping, or missing a piece. */
  #fragments(burst: Burst): void {
    const p = this.#rng.below(PEER_COUNT);
    this.#addresses(p, false);
    this.#dst.set(STACK_LL);
    const total = 16 + this.#rng.below(4000);
    const data = this.#payload;
    data.fill(0, 0, 8);
    data[0] = 128;
    write16(data, 4, 9);
    for (let i = 8; i < total; i++) data[i] = i & 0xff;
    // The checksum covers the reassembled message.
    const scratch = burst.frames[MAX_BURST - 1];
    this.#header(scratch, p, 58, total, 64);
    data[2] = 0;
    data[3] = 0;
    const c = checksum6(scratch.bytes, 14, data, 0, total, 58);
    data[2] = c >>> 8;
    data[3] = c & 0xff;
    const mode = this.#rng.below(6);
    const piece = 8 * (1 + this.#rng.below(mode === 4 ? 2 : 170));
    const count = Math.min(MAX_BURST - 1, Math.ceil(total / piece));
    const ident = this.#rng.nextU32();
    for (let k = 0; k < count; k++) {
      const i = mode === 1 ? count - 1 - k : mode === 2 ? (k * 7) % count : k;
      if (mode === 5 && i === 1 && count > 2) continue;
      let offset = i * piece;
      if (mode === 3 && i === 1) offset -= 8;
      let length = i === count - 1 ? total - offset : piece;
      if (length > 1400) length = 1400;
      const f = burst.next("ipv6-fragment");
      const at = this.#header(f, p, 44, 8 + length, 64);
      const b = f.bytes;
      b[at] = 58;
      b[at + 1] = 0;
      write16(b, at + 2, (offset & 0xfff8) | (i < count - 1 ? 1 : 0));
      write32(b, at + 4, ident);
      b.set(data.subarray(offset, offset + length), at + 8);
      if (mode === 3 && i === 1) b[at + 8] ^= 0xff; // the overlap disagrees
      f.length = at + 8 + length;
    }
  }
}

/** The ICMPv6/UDP checksum over the IPv6 pseudo-header (header at `ip`) and `length` bytes at `at`. */
export function fillChecksum6(
  bytes: Uint8Array,
  ip: number,
  at: number,
  length: number,
  nextHeader: number,
  checksumAt: number,
): void {
  bytes[at + checksumAt] = 0;
  bytes[at + checksumAt + 1] = 0;
  const c = checksum6(bytes, ip, bytes, at, length, nextHeader);
  bytes[at + checksumAt] = c >>> 8;
  bytes[at + checksumAt + 1] = c & 0xff;
}

function checksum6(
  header: Uint8Array,
  ip: number,
  data: Uint8Array,
  at: number,
  length: number,
  nextHeader: number,
): number {
  let sum = 0;
  for (let i = 8; i < 40; i += 2) sum += (header[ip + i] << 8) | header[ip + i + 1];
  sum += (length >>> 16) + (length & 0xffff) + nextHeader;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return internetChecksum(data, at, length, sum);
}

function writeMac(bytes: Uint8Array, at: number, mac: number): void {
  for (let i = 5; i >= 0; i--) {
    bytes[at + i] = mac % 256;
    mac = Math.floor(mac / 256);
  }
}
