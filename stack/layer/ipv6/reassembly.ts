/**
 * IPv6 fragment reassembly (RFC 8200 §4.5) with the overlap rule of RFC 5722: a fragment that overlaps
 * another of the same packet (other than an exact duplicate, which RFC 8200 §4.5 lets us drop alone)
 * abandons the whole packet, and later fragments of it are discarded until its timer ends. Memory is
 * bounded in total, in packets and in fragments per packet; unfinished packets time out after 60 s.
 *
 * @module
 */

import { IPV6_HEADER_LENGTH } from "../../wire/ipv6.ts";

/** Limits of the reassembler. */
export interface Ipv6ReassemblyOptions {
  /** Bytes all packets in progress may hold (default 1 MiB). */
  maxBytes?: number;
  /** Packets in progress at once (default 64). */
  maxPackets?: number;
  /** Fragments one packet may have (default 64). */
  maxFragments?: number;
  /** How long a packet may take to complete (ms, default 60 000, RFC 8200 §4.5). */
  timeoutMs?: number;
}

/** Counters. */
export interface Ipv6ReassemblyStats {
  [counter: string]: number;
  fragments: number;
  reassembled: number;
  dropOverlap: number;
  dropDuplicate: number;
  dropInvalid: number;
  dropOversize: number;
  dropMemory: number;
  dropTimeout: number;
}

/** A completed packet: a 40-byte fixed header followed by the reassembled fragmentable part. */
export interface Ipv6Reassembled {
  bytes: Uint8Array;
  /** Length of header plus payload. */
  length: number;
  /** The next header of the fragmentable part. */
  nextHeader: number;
}

/** The largest payload length the 16-bit field can express. */
const MAX_PAYLOAD = 65535;

interface Pending {
  data: Uint8Array;
  /** Received [start, end) ranges of the fragmentable part, in arrival order. */
  ranges: number[];
  received: number;
  /** The fragmentable part's length once the last fragment arrived, else -1. */
  total: number;
  nextHeader: number;
  haveFirst: boolean;
  /** The first fragment's payload length (for the time exceeded quote). */
  firstLength: number;
  /** The first fragment's fragment header, as received. */
  firstHeader: Uint8Array | undefined;
  deadline: number;
  /** Abandoned after an overlap (RFC 5722): fragments are discarded until the deadline. */
  dead: boolean;
}

/** Reassembles fragmented IPv6 packets. */
export class Ipv6Reassembler {
  /** Counters. */
  readonly stats: Ipv6ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    dropOverlap: 0,
    dropDuplicate: 0,
    dropInvalid: 0,
    dropOversize: 0,
    dropMemory: 0,
    dropTimeout: 0,
  };
  #packets = new Map<string, Pending>();
  #maxBytes: number;
  #maxPackets: number;
  #maxFragments: number;
  #timeout: number;
  #bytes = 0;
  #done: Ipv6Reassembled = { bytes: new Uint8Array(0), length: 0, nextHeader: 0 };

  /** Creates an empty reassembler. */
  constructor(options: Ipv6ReassemblyOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#maxPackets = Math.max(1, options.maxPackets ?? 64);
    this.#maxFragments = Math.max(2, options.maxFragments ?? 64);
    this.#timeout = options.timeoutMs ?? 60_000;
  }

  /** Bytes held. */
  get bytesHeld(): number {
    return this.#bytes;
  }

  /** Packets in progress (abandoned ones included until they time out). */
  get inProgress(): number {
    return this.#packets.size;
  }

  /**
   * Adds a fragment: `key` names the packet (source, destination, identification), `header` is its
   * 40-byte fixed header (`fragmentAt`: where its fragment header is, for a time exceeded quote),
   * `offset`/`more` come from the fragment header, `data` is the fragment's payload. Returns the completed packet (valid until the next call) or undefined.
   */
  add(
    key: string,
    header: { bytes: Uint8Array; offset: number; fragmentAt?: number },
    nextHeader: number,
    offset: number,
    more: boolean,
    data: { bytes: Uint8Array; offset: number; length: number },
    now: number,
  ): Ipv6Reassembled | undefined {
    this.stats.fragments++;
    const length = data.length;
    const end = offset + length;
    if (end > MAX_PAYLOAD - 8) {
      this.stats.dropOversize++;
      this.#drop(key);
      return undefined;
    }
    // RFC 8200 §4.5: every fragment but the last is a multiple of 8 bytes long, and none is empty.
    if (length === 0 || (more && (length & 7) !== 0)) {
      this.stats.dropInvalid++;
      return undefined;
    }
    let p = this.#packets.get(key);
    if (p === undefined) {
      p = this.#create(key, end, now);
      if (p === undefined) return undefined;
    }
    if (p.dead) {
      this.stats.dropOverlap++;
      return undefined;
    }
    if (p.total >= 0 && (end > p.total || (!more && end !== p.total))) {
      this.stats.dropInvalid++;
      this.#kill(p);
      return undefined;
    }
    const ranges = p.ranges;
    for (let i = 0; i < ranges.length; i += 2) {
      const s = ranges[i];
      const e = ranges[i + 1];
      if (s === offset && e === end) {
        this.stats.dropDuplicate++;
        return undefined;
      }
      if (offset < e && s < end) {
        this.stats.dropOverlap++;
        this.#kill(p);
        return undefined;
      }
    }
    if (!more) {
      for (let i = 1; i < ranges.length; i += 2) {
        if (ranges[i] > end) {
          this.stats.dropInvalid++;
          this.#kill(p);
          return undefined;
        }
      }
      p.total = end;
    }
    if (ranges.length >= this.#maxFragments * 2) {
      this.stats.dropInvalid++;
      this.#kill(p);
      return undefined;
    }
    if (!this.#fit(p, end)) return undefined;
    p.data.set(
      data.bytes.subarray(data.offset, data.offset + length),
      IPV6_HEADER_LENGTH + offset,
    );
    ranges.push(offset, end);
    p.received += length;
    if (offset === 0) {
      p.haveFirst = true;
      p.nextHeader = nextHeader;
      p.data.set(header.bytes.subarray(header.offset, header.offset + IPV6_HEADER_LENGTH), 0);
      p.firstLength = length;
      const f = header.fragmentAt;
      if (f !== undefined) p.firstHeader = header.bytes.slice(f, f + 8);
    }
    if (p.total < 0 || p.received !== p.total || !p.haveFirst) return undefined;
    this.#packets.delete(key);
    this.#bytes -= p.data.length;
    this.stats.reassembled++;
    const out = p.data;
    const total = IPV6_HEADER_LENGTH + p.total;
    out[4] = p.total >>> 8;
    out[5] = p.total;
    out[6] = p.nextHeader;
    const done = this.#done;
    done.bytes = out;
    done.length = total;
    done.nextHeader = p.nextHeader;
    return done;
  }

  /**
   * Drops packets past their deadline; `expired` is called with the first fragment as it arrived
   * (fixed header, fragment header, payload) of
   * each live packet whose first fragment arrived (for ICMPv6 time exceeded, RFC 8200 §4.5).
   */
  poll(now: number, expired?: (header: Uint8Array) => void): boolean {
    let work = false;
    for (const [key, p] of this.#packets) {
      if (p.deadline > now) continue;
      work = true;
      this.#packets.delete(key);
      this.#bytes -= p.data.length;
      if (!p.dead) {
        this.stats.dropTimeout++;
        if (p.haveFirst && expired !== undefined) expired(this.#firstFragment(p));
      }
    }
    return work;
  }

  /** The first fragment rebuilt for a quote: its fixed header, fragment header and payload. */
  #firstFragment(p: Pending): Uint8Array {
    const fragment = p.firstHeader ?? new Uint8Array([p.nextHeader, 0, 0, 1, 0, 0, 0, 0]);
    const out = new Uint8Array(IPV6_HEADER_LENGTH + 8 + p.firstLength);
    out.set(p.data.subarray(0, IPV6_HEADER_LENGTH), 0);
    out.set(fragment, IPV6_HEADER_LENGTH);
    out.set(p.data.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + p.firstLength), 48);
    const payload = 8 + p.firstLength;
    out[4] = payload >>> 8;
    out[5] = payload;
    // Headers before the fragment header were processed on arrival; the quote starts at the fragment.
    out[6] = 44;
    return out;
  }

  /** The earliest deadline, or undefined. */
  pollAt(): number | undefined {
    let at = Infinity;
    for (const p of this.#packets.values()) if (p.deadline < at) at = p.deadline;
    return at === Infinity ? undefined : at;
  }

  #create(key: string, end: number, now: number): Pending | undefined {
    if (this.#packets.size >= this.#maxPackets) {
      this.stats.dropMemory++;
      return undefined;
    }
    const size = IPV6_HEADER_LENGTH + Math.max(end, 1280);
    if (this.#bytes + size > this.#maxBytes) {
      this.stats.dropMemory++;
      return undefined;
    }
    const p: Pending = {
      data: new Uint8Array(size),
      ranges: [],
      received: 0,
      total: -1,
      nextHeader: 0,
      haveFirst: false,
      firstLength: 0,
      firstHeader: undefined,
      deadline: now + this.#timeout,
      dead: false,
    };
    this.#bytes += size;
    this.#packets.set(key, p);
    return p;
  }

  /** Grows the buffer to hold `end` bytes of payload; false (and the packet dropped) past a bound. */
  #fit(p: Pending, end: number): boolean {
    const need = IPV6_HEADER_LENGTH + end;
    if (need <= p.data.length) return true;
    const size = Math.min(IPV6_HEADER_LENGTH + MAX_PAYLOAD, Math.max(need, p.data.length * 2));
    if (this.#bytes - p.data.length + size > this.#maxBytes) {
      this.stats.dropMemory++;
      this.#kill(p);
      return false;
    }
    const data = new Uint8Array(size);
    data.set(p.data);
    this.#bytes += size - p.data.length;
    p.data = data;
    return true;
  }

  /** Abandons a packet but remembers it until its deadline, so its later fragments are discarded. */
  #kill(p: Pending): void {
    p.dead = true;
    p.ranges = [];
    this.#bytes -= p.data.length;
    p.data = EMPTY;
  }

  #drop(key: string): void {
    const p = this.#packets.get(key);
    if (p !== undefined) this.#kill(p);
  }
}

const EMPTY = new Uint8Array(0);
