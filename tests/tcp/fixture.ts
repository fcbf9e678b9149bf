/**
 * Packet-level test fixture in smoltcp's style: a TCP endpoint driven directly (no IP layer), segments fed
 * in as reprs at chosen times, and exactly the segments it sends read back as reprs.
 *
 * @module
 */

import { TcpFlags, TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import { WireError } from "../../stack/wire/error.ts";
import { Rng } from "../../stack/util/rng.ts";
import { TcpEndpoint, type TcpEndpointOptions } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpConfig } from "../../stack/layer/tcp/config.ts";
import type { TcpEvent } from "../../stack/layer/tcp/events.ts";
import type { TcpIpFill, TcpIpSender, TcpSendResult } from "../../stack/layer/tcp/ip.ts";
import type { TcpListenerHandle } from "../../stack/layer/tcp/listener.ts";

/** Our address (10.0.0.1). */
export const LOCAL = 0x0a000001;
/** The peer's address (10.0.0.2). */
export const REMOTE = 0x0a000002;
/** Our listening port. */
export const LOCAL_PORT = 80;
/** The peer's port. */
export const REMOTE_PORT = 49500;
/** The peer's initial sequence number in fixtures. */
export const REMOTE_ISN = 10_000;

/** A segment as the tests see it. */
export interface Seg {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  windowScale?: number;
  sackPermitted: boolean;
  sackBlocks: number[];
  tsVal?: number;
  tsEcr?: number;
  payload: Uint8Array;
}

/** A fake IPv4 sender that records every segment. */
export class FakeIp implements TcpIpSender {
  /** The largest IP payload, as the IPv4 layer reports it: 1480 on a 1500-byte link. */
  mtu = 1480;
  /** Answer "busy" to every send while true. */
  busy = false;
  /** Segments sent so far. */
  sent: Seg[] = [];
  /** Raw datagrams (TCP segments) sent, for link tests. */
  raw: { src: number; dst: number; bytes: Uint8Array }[] = [];

  send(
    dst: number,
    _protocol: number,
    length: number,
    fill: TcpIpFill,
    src?: number,
  ): TcpSendResult {
    if (this.busy) return "busy";
    const bytes = new Uint8Array(length);
    const from = src ?? LOCAL;
    fill(bytes, 0, from, dst);
    this.raw.push({ src: from, dst, bytes });
    const seg = decode(bytes, from, dst);
    if (seg instanceof WireError) throw seg;
    this.sent.push(seg);
    return "sent";
  }

  sourceFor(_dst: number): number | undefined {
    return LOCAL;
  }
}

/** Decodes a TCP segment, checking its checksum. */
export function decode(bytes: Uint8Array, src: number, dst: number): Seg | WireError {
  const repr = TcpRepr.parse(new TcpPacket(bytes), src, dst, true);
  if (repr instanceof WireError) return repr;
  return {
    src,
    dst,
    srcPort: repr.srcPort,
    dstPort: repr.dstPort,
    seq: repr.seq,
    ack: repr.ack,
    flags: repr.flags,
    window: repr.window,
    mss: repr.mss,
    windowScale: repr.windowScale,
    sackPermitted: repr.sackPermitted,
    sackBlocks: [...repr.sackBlocks],
    tsVal: repr.tsVal,
    tsEcr: repr.tsEcr,
    payload: bytes.slice(repr.payloadOffset, repr.payloadOffset + repr.payloadLength),
  };
}

/** What a test feeds in: flags by name ("SYN", "ACK|PSH"), everything else optional. */
export interface SegSpec {
  seq: number;
  ack?: number;
  flags: string;
  window?: number;
  payload?: Uint8Array | number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  sackBlocks?: number[];
  tsVal?: number;
  tsEcr?: number;
  srcPort?: number;
  dstPort?: number;
  src?: number;
  dst?: number;
  corrupt?: boolean;
}

/** Flag names to bits: "SYN|ACK". */
export function flagBits(names: string): number {
  let bits = 0;
  for (const name of names.split("|")) {
    if (name === "") continue;
    const bit = (TcpFlags as Record<string, number>)[name.trim()];
    if (bit === undefined) throw new Error(`Unknown flag ${name}`);
    bits |= bit;
  }
  return bits;
}

/** Flag bits to names, for readable assertion messages. */
export function flagNames(bits: number): string {
  return Object.entries(TcpFlags).filter(([, b]) => (bits & b) !== 0).map(([n]) => n).join("|");
}

/** Bytes 0, 1, 2, ... of a given length. */
export function pattern(length: number, start = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (start + i) & 0xff;
  return bytes;
}

/** Builds the bytes of a segment from the peer. */
export function buildSegment(spec: SegSpec): { bytes: Uint8Array; src: number; dst: number } {
  const repr = new TcpRepr();
  repr.srcPort = spec.srcPort ?? REMOTE_PORT;
  repr.dstPort = spec.dstPort ?? LOCAL_PORT;
  repr.seq = spec.seq >>> 0;
  repr.ack = (spec.ack ?? 0) >>> 0;
  repr.flags = flagBits(spec.flags);
  repr.window = spec.window ?? 65535;
  repr.mss = spec.mss;
  repr.windowScale = spec.windowScale;
  repr.sackPermitted = spec.sackPermitted ?? false;
  repr.sackBlocks = spec.sackBlocks ?? [];
  repr.tsVal = spec.tsVal;
  repr.tsEcr = spec.tsVal !== undefined ? spec.tsEcr ?? 0 : undefined;
  const payload = typeof spec.payload === "number" ? pattern(spec.payload) : spec.payload;
  const length = repr.headerLength + (payload?.length ?? 0);
  const bytes = new Uint8Array(length);
  if (payload !== undefined) bytes.set(payload, repr.headerLength);
  const src = spec.src ?? REMOTE;
  const dst = spec.dst ?? LOCAL;
  repr.emit(new TcpPacket(bytes), src, dst, "full");
  if (spec.corrupt) bytes[bytes.length - 1] ^= 0x55;
  return { bytes, src, dst };
}

/** Options for `Harness`. */
export interface HarnessOptions extends TcpEndpointOptions {
  /** Connection settings (merged over test defaults: no timestamps, SACK or window scaling). */
  tcp?: Partial<TcpConfig>;
}

/** Drives one endpoint on a virtual clock. */
export class Harness {
  readonly ip = new FakeIp();
  readonly endpoint: TcpEndpoint;
  /** Events the app saw, as strings ("open:80", "in", "stray"). */
  readonly events: string[] = [];
  now = 0;

  constructor(options: HarnessOptions = {}) {
    const keys = new Rng(1);
    const isnKey = new Uint8Array(16);
    keys.fill(isnKey);
    const cookieKey = new Uint8Array(16);
    keys.fill(cookieKey);
    this.endpoint = new TcpEndpoint({
      rng: new Rng(7),
      isnKey,
      cookieKey,
      ...options,
      config: {
        timestamps: false,
        sack: false,
        windowScaling: false,
        recvBufferSize: 65535,
        sendBufferSize: 65536,
        ...options.config,
        ...options.tcp,
      },
      handler: options.handler ?? {
        receive: (event: TcpEvent) => {
          if (event.kind === "open") this.events.push(`open:${event.listener.port}`);
          else this.events.push(event.kind);
        },
      },
    });
  }

  /** Feeds one segment from the peer at the current time. */
  send(spec: SegSpec): void {
    const { bytes, src, dst } = buildSegment(spec);
    this.endpoint.receive({ src, dst, bytes, offset: 0, length: bytes.length }, this.now);
  }

  /** Polls at the current time and returns the segments sent. */
  recv(): Seg[] {
    this.endpoint.poll(this.now, this.ip);
    return this.ip.sent.splice(0);
  }

  /** Moves the clock to `time` and polls. */
  at(time: number): Seg[] {
    this.now = time;
    return this.recv();
  }

  /** Polls repeatedly at each deadline until `until`, collecting every segment sent. */
  runUntil(until: number): Seg[] {
    const out: Seg[] = [];
    for (let i = 0; i < 10_000; i++) {
      out.push(...this.recv());
      const next = this.endpoint.pollAt(this.now);
      if (next === undefined || next > until) break;
      this.now = Math.max(this.now, next);
    }
    this.now = Math.max(this.now, until);
    out.push(...this.recv());
    return out;
  }
}

/** A harness with a listener on `LOCAL_PORT`. */
export function listening(options: HarnessOptions = {}, backlog = 16): {
  h: Harness;
  listener: TcpListenerHandle;
} {
  const h = new Harness(options);
  const listener = h.endpoint.listen(LOCAL_PORT, { backlog });
  return { h, listener };
}

/** A connection in SYN-RECEIVED: the peer's SYN arrived and our SYN-ACK went out. */
export function synReceived(options: HarnessOptions = {}, syn: Partial<SegSpec> = {}) {
  const { h, listener } = listening(options);
  h.send({ seq: REMOTE_ISN, flags: "SYN", mss: 1460, ...syn });
  const [synAck] = h.recv();
  const iss = synAck.seq;
  const conn = h.endpoint.find(LOCAL, LOCAL_PORT, REMOTE, REMOTE_PORT)!;
  return { h, listener, conn, iss, synAck };
}

/** An ESTABLISHED connection opened passively: `iss` is our ISN, the peer's next seq is REMOTE_ISN+1. */
export function established(options: HarnessOptions = {}, syn: Partial<SegSpec> = {}) {
  const s = synReceived(options, syn);
  const { h, listener, iss } = s;
  const rs = ((syn.seq ?? REMOTE_ISN) + 1) >>> 0;
  const ackSpec: SegSpec = { seq: rs, ack: iss + 1, flags: "ACK", window: syn.window };
  if (syn.tsVal !== undefined) {
    ackSpec.tsVal = syn.tsVal + 1;
    ackSpec.tsEcr = s.synAck.tsVal;
  }
  h.send(ackSpec);
  const conn: TcpConnection = listener.accept()!;
  h.events.length = 0;
  return { h, listener, conn, iss, synAck: s.synAck, rs, ls: (iss + 1) >>> 0 };
}

/** A connection in SYN-SENT after `connect`: returns our SYN. */
export function synSent(options: HarnessOptions = {}) {
  const h = new Harness(options);
  const conn = h.endpoint.connect(REMOTE, REMOTE_PORT, { localAddr: LOCAL, localPort: LOCAL_PORT });
  const [syn] = h.recv();
  return { h, conn, iss: syn.seq, syn };
}

/** What a test expects of one segment; unset fields are not checked. */
export interface SegExpect {
  flags?: string;
  seq?: number;
  ack?: number;
  len?: number;
  window?: number;
}

/** Asserts the fields of one segment, with a readable message. */
export function expectSeg(seg: Seg | undefined, expected: SegExpect): void {
  if (seg === undefined) {
    throw new Error(`Expected a segment ${JSON.stringify(expected)}, got none`);
  }
  const got = {
    flags: flagNames(seg.flags),
    seq: seg.seq,
    ack: seg.ack,
    len: seg.payload.length,
    window: seg.window,
  };
  for (const [name, value] of Object.entries(expected)) {
    const actual = name === "flags"
      ? flagNames(flagBits(value as string))
      : name === "seq" || name === "ack"
      ? (value as number) >>> 0
      : value;
    if ((got as Record<string, unknown>)[name] !== actual) {
      throw new Error(`Segment ${name}: expected ${actual}, got ${JSON.stringify(got)}`);
    }
  }
}
