/**
 * TCP over IPv6 without a second TCP: the TCP endpoint keys connections on 32-bit addresses, so this
 * adapter gives every IPv6 address it meets a 32-bit handle, hands TCP segments with handles instead of
 * addresses, and maps them back on send. TCP runs with its own checksums off ("none", no verification);
 * the adapter verifies and writes them over the IPv6 pseudo-header (RFC 8200 §8.1), one pass each way.
 * A separate `TcpEndpoint` serves IPv6; it is polled through an Ethernet Send handler, so the
 * `Interface` drives it like any layer.
 *
 * @module
 */

import { TcpEndpoint, type TcpEndpointOptions } from "../tcp/endpoint.ts";
import type { TcpIpFill, TcpIpSender, TcpSendResult } from "../tcp/ip.ts";
import { internetChecksum } from "../../wire/checksum.ts";
import { Ipv6Address } from "../../wire/ipv6_address.ts";
import { ipv6PseudoHeaderSum } from "../../wire/ipv6.ts";
import type { Interface } from "../interface.ts";
import type { Ipv6Incoming, Ipv6TransportHandler } from "./contract.ts";
import type { Ipv6Endpoint } from "./endpoint.ts";

/** The next header value of TCP. */
const TCP = 6;
/** The checksum field's offset in a TCP header. */
const CHECKSUM = 16;
/** The handle table size below which it is never swept. */
const SWEEP_MIN = 64;

/**
 * A two-way table of IPv6 addresses and the 32-bit handles TCP sees; handle 0 stays "any". A handle is
 * a keyed hash of its address (linear probing on collision), so an address that leaves the table and
 * comes back usually gets the same handle again: a SYN cookie sent before a sweep still validates after.
 */
export class Ipv6Handles {
  #byKey = new Map<string, number>();
  #byHandle = new Map<number, Ipv6Address>([[0, new Ipv6Address(0, 0, 0, 0)]]);
  #max: number;
  #seed: number;

  /** Creates a table of at most `max` addresses (default 65 536), hashing with `seed`. */
  constructor(max = 65536, seed = 0x9e3779b9) {
    this.#max = max;
    this.#seed = seed >>> 0;
  }

  /** Addresses held. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The handle of `address`, made on first use; undefined when the table is full. */
  handle(address: Ipv6Address): number | undefined {
    if (address.isUnspecified) return 0;
    const known = this.#byKey.get(address.key);
    if (known !== undefined) return known;
    if (this.#byKey.size >= this.#max) return undefined;
    let handle = hashAddress(address, this.#seed);
    while (handle === 0 || this.#byHandle.has(handle)) handle = (handle + 1) >>> 0;
    this.#byHandle.set(handle, address);
    this.#byKey.set(address.key, handle);
    return handle;
  }

  /** The handle of `address` if it has one (never makes one). */
  peek(address: Ipv6Address): number | undefined {
    return address.isUnspecified ? 0 : this.#byKey.get(address.key);
  }

  /** The address of `handle`, or undefined. */
  address(handle: number): Ipv6Address | undefined {
    return this.#byHandle.get(handle);
  }

  /** Forgets every address whose handle is not in `keep`. */
  retain(keep: Set<number>): number {
    let removed = 0;
    for (const [key, handle] of this.#byKey) {
      if (keep.has(handle)) continue;
      this.#byKey.delete(key);
      this.#byHandle.delete(handle);
      removed++;
    }
    return removed;
  }

  /** The handle of IPv6 text ("2001:db8::1", "[::1]", "::" for any), or undefined. */
  parse(text: string): number | undefined {
    const inner = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
    const address = Ipv6Address.tryParse(inner);
    return address === undefined ? undefined : this.handle(address);
  }

  /** The RFC 5952 text of a handle's address ("::" for 0 or an unknown handle). */
  format(handle: number): string {
    return (this.#byHandle.get(handle) ?? this.#byHandle.get(0)!).toString();
  }

  /**
   * How the socket API reads and writes these handles as text: IPv6 literals, "::" for any. (For a
   * `TcpSockets` address option; see the report of issue 8.)
   */
  codec(): {
    family: "IPv6";
    any: string;
    parse(text: string): number | undefined;
    format(handle: number): string;
  } {
    return {
      family: "IPv6",
      any: "::",
      parse: (text) => this.parse(text),
      format: (handle) => this.format(handle),
    };
  }

  /** A resolver for `TcpSockets` (`resolve` option): "2001:db8::1" or "[::1]" to a handle. */
  resolver(): (hostname: string) => Promise<number> {
    return (hostname) => {
      const handle = this.parse(hostname);
      if (handle === undefined) {
        return Promise.reject(new TypeError(`Cannot connect to ${hostname}: not an IPv6 literal`));
      }
      return Promise.resolve(handle);
    };
  }
}

/** A keyed 32-bit mix of the four words (murmur3's finaliser per word). */
function hashAddress(a: Ipv6Address, seed: number): number {
  let h = seed;
  for (const w of [a.w0, a.w1, a.w2, a.w3]) {
    h = Math.imul(h ^ w, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** The part of a TCP endpoint the adapter drives. */
export interface Tcp6Transport {
  receive(
    packet: { src: number; dst: number; bytes: Uint8Array; offset: number; length: number },
    now: number,
  ): void;
  poll(now: number, ip: TcpIpSender): boolean;
  pollAt(now: number): number | undefined;
  /** The live connections, whose addresses keep their handles (see `Tcp6Adapter.poll`). */
  connections?(): Iterable<{ localAddr: number; remoteAddr: number }>;
}

/** Runs a TCP endpoint over an IPv6 endpoint. */
export class Tcp6Adapter implements Ipv6TransportHandler, TcpIpSender {
  /** Counters. */
  readonly stats = {
    rxSegments: 0,
    dropChecksum: 0,
    dropMulticast: 0,
    dropHandles: 0,
    txSegments: 0,
    sweeps: 0,
  };
  /** The address handles. */
  readonly handles: Ipv6Handles;
  #ip: Ipv6Endpoint;
  #tcp: Tcp6Transport;
  #rxVerified: boolean;
  #incoming: { src: number; dst: number; bytes: Uint8Array; offset: number; length: number } = {
    src: 0,
    dst: 0,
    bytes: new Uint8Array(0),
    offset: 0,
    length: 0,
  };
  #fill: TcpIpFill = () => {};
  #srcHandle = 0;
  #dstHandle = 0;
  #length = 0;
  /** Sweep the handle table when it grows past this (doubles with the live set, so sweeps amortise). */
  #sweepAt = SWEEP_MIN;
  #fill6: (bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address) => void;

  /** Connects `tcp` to `ip` (registers for next header 6). */
  constructor(
    ip: Ipv6Endpoint,
    tcp: Tcp6Transport,
    options: { rxChecksumVerified?: boolean; handles?: Ipv6Handles } = {},
  ) {
    this.#ip = ip;
    this.#tcp = tcp;
    this.#rxVerified = options.rxChecksumVerified ?? false;
    this.handles = options.handles ?? new Ipv6Handles();
    this.#fill6 = (bytes, offset, src, dst) => {
      this.#fill(bytes, offset, this.#srcHandle, this.#dstHandle);
      bytes[offset + CHECKSUM] = 0;
      bytes[offset + CHECKSUM + 1] = 0;
      const sum = internetChecksum(
        bytes,
        offset,
        this.#length,
        ipv6PseudoHeaderSum(src, dst, TCP, this.#length),
      );
      bytes[offset + CHECKSUM] = sum >>> 8;
      bytes[offset + CHECKSUM + 1] = sum;
    };
    ip.register(TCP, this);
  }

  /** The largest TCP segment without fragmentation. */
  get mtu(): number {
    return this.#ip.mtu;
  }

  /** Takes one segment from the IPv6 layer. */
  receive(packet: Ipv6Incoming, now: number): void {
    this.stats.rxSegments++;
    // RFC 1122 §4.2.3.10 (as for IPv4 broadcast): TCP is unicast only, so a segment sent to a
    // multicast group opens nothing and gets no reset.
    if (packet.dst.isMulticast) {
      this.stats.dropMulticast++;
      return;
    }
    if (!this.#rxVerified) {
      const initial = ipv6PseudoHeaderSum(packet.src, packet.dst, TCP, packet.length);
      if (internetChecksum(packet.bytes, packet.offset, packet.length, initial) !== 0) {
        this.stats.dropChecksum++;
        return;
      }
    }
    const src = this.handles.handle(packet.src);
    const dst = this.handles.handle(packet.dst);
    if (src === undefined || dst === undefined) {
      this.stats.dropHandles++;
      return;
    }
    const incoming = this.#incoming;
    incoming.src = src;
    incoming.dst = dst;
    incoming.bytes = packet.bytes;
    incoming.offset = packet.offset;
    incoming.length = packet.length;
    this.#tcp.receive(incoming, now);
  }

  /** TCP's send: handles back to addresses, the checksum over the IPv6 pseudo-header. */
  send(
    dst: number,
    _protocol: number,
    payloadLength: number,
    fill: TcpIpFill,
    src?: number,
  ): TcpSendResult {
    const dst6 = this.handles.address(dst);
    const src6 = src === undefined || src === 0 ? undefined : this.handles.address(src);
    if (dst6 === undefined) return "unroutable";
    const source = src6 ?? this.#ip.sourceFor(dst6);
    if (source === undefined) return "unroutable";
    this.#fill = fill;
    this.#srcHandle = this.handles.handle(source) ?? 0;
    this.#dstHandle = dst;
    this.#length = payloadLength;
    const result = this.#ip.send(dst6, TCP, payloadLength, this.#fill6, source);
    this.#fill = noFill;
    if (result === "sent" || result === "queued") this.stats.txSegments++;
    return result;
  }

  /** The handle of the own address used towards the peer of handle `dst`. */
  sourceFor(dst: number): number | undefined {
    const dst6 = this.handles.address(dst);
    const source = dst6 === undefined ? undefined : this.#ip.sourceFor(dst6);
    return source === undefined ? undefined : this.handles.handle(source);
  }

  /**
   * Transmits due segments and runs TCP's timers, then, when the handle table has grown, forgets the
   * addresses no connection uses: those of segments answered with a reset or a SYN cookie, whose
   * replies have just gone out. Spoofed sources therefore cannot fill the table.
   */
  poll(now: number): boolean {
    const worked = this.#tcp.poll(now, this);
    if (this.handles.size > this.#sweepAt && this.#tcp.connections !== undefined) this.#sweep();
    return worked;
  }

  #sweep(): void {
    const keep = new Set<number>([0]);
    for (const conn of this.#tcp.connections!()) {
      keep.add(conn.localAddr);
      keep.add(conn.remoteAddr);
    }
    for (const own of this.#ip.config.addresses) {
      const handle = this.handles.peek(own.address);
      if (handle !== undefined) keep.add(handle);
    }
    this.handles.retain(keep);
    this.stats.sweeps++;
    this.#sweepAt = Math.max(SWEEP_MIN, 2 * this.handles.size);
  }

  /** TCP's next deadline. */
  pollAt(now: number): number | undefined {
    return this.#tcp.pollAt(now);
  }
}

/** What `attachTcp6` returns. */
export interface Tcp6 {
  /** The TCP endpoint serving IPv6 (listen/connect with handles; see `handles`). */
  endpoint: TcpEndpoint;
  adapter: Tcp6Adapter;
  handles: Ipv6Handles;
  /** Stops polling and receiving. */
  detach(): void;
}

/**
 * Attaches a TCP endpoint for IPv6 to `iface` (which must have IPv6 on). The endpoint's addresses are
 * handles: use `handles.handle(address)` to connect, `handles.address(conn.remoteAddr)` to read.
 */
export function attachTcp6(iface: Interface, options: TcpEndpointOptions = {}): Tcp6 {
  const ip = iface.ipv6;
  if (ip === undefined) throw new Error("Cannot attach TCP over IPv6: the interface has IPv6 off");
  const endpoint = new TcpEndpoint({ ...options, checksum: "none", verifyChecksum: false });
  const adapter = new Tcp6Adapter(ip, endpoint, {
    rxChecksumVerified: iface.nic.caps.rxChecksumVerified,
    handles: new Ipv6Handles(65536, ip.rng.nextU32()),
  });
  const removeSender = iface.eth.addSender({
    send: (_tx, now) => adapter.poll(now),
    pollAt: (now) => adapter.pollAt(now),
  });
  const removeTcpStats = iface.addStats("tcp6", () => endpoint.stats);
  const removeAdapterStats = iface.addStats("tcp6Adapter", () => adapter.stats);
  return {
    endpoint,
    adapter,
    handles: adapter.handles,
    detach: () => {
      removeSender();
      removeTcpStats();
      removeAdapterStats();
      ip.register(TCP, { receive() {} });
    },
  };
}

function noFill(): void {}
