/**
 * IPv4 fragment reassembly (RFC 791 §3.2, with RFC 815's idea of tracking what is still missing). Each
 * datagram in progress has one growing buffer and a bitmap of the 8-byte blocks received, so fragments
 * may arrive in any order, duplicated or overlapping. Overlaps must carry the same bytes: a fragment that
 * rewrites data already received is an attack (RFC 1858 tiny/overlapping fragments, RFC 5722 for IPv6)
 * and drops the whole datagram. Memory is bounded in total and per datagram, and unfinished datagrams
 * time out.
 *
 * @module
 */

/** Limits of the reassembler. */
export interface ReassemblyOptions {
  /** Bytes all datagrams in progress may hold together (default 1 MiB). */
  maxBytes?: number;
  /** Datagrams in progress at once (default 64). */
  maxDatagrams?: number;
  /** How long a datagram may take to complete (ms, default 30 000; RFC 791 suggests 15 s). */
  timeoutMs?: number;
}

/** Counters of the reassembler. */
export interface ReassemblyStats {
  [counter: string]: number;
  fragments: number;
  reassembled: number;
  dropOverlap: number;
  dropInvalid: number;
  dropOversize: number;
  dropMemory: number;
  dropTimeout: number;
}

/** A completed datagram: header (from the first fragment) followed by the whole payload. */
export interface Reassembled {
  bytes: Uint8Array;
  /** Where the copied header starts; the payload follows it. */
  headerOffset: number;
  headerLength: number;
  payloadOffset: number;
  payloadLength: number;
}

/** Where the payload starts in each buffer: room for the longest IPv4 header in front of it. */
const HEADROOM = 60;
/** The largest IPv4 datagram. */
const MAX_DATAGRAM = 65535;

interface Datagram {
  key: string;
  data: Uint8Array;
  /** One byte per 8-byte block: 1 when received. */
  blocks: Uint8Array;
  received: number;
  /** Payload length once the last fragment (MF clear) arrived, else -1. */
  total: number;
  headerLength: number;
  deadline: number;
  charged: number;
}

/** Reassembles fragmented IPv4 datagrams. */
export class Reassembler {
  /** Counters. */
  readonly stats: ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    dropOverlap: 0,
    dropInvalid: 0,
    dropOversize: 0,
    dropMemory: 0,
    dropTimeout: 0,
  };
  #datagrams = new Map<string, Datagram>();
  #maxBytes: number;
  #maxDatagrams: number;
  #timeout: number;
  #bytes = 0;
  #done: Reassembled = {
    bytes: new Uint8Array(0),
    headerOffset: 0,
    headerLength: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };

  /** Creates an empty reassembler. */
  constructor(options: ReassemblyOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#maxDatagrams = Math.max(1, options.maxDatagrams ?? 64);
    this.#timeout = options.timeoutMs ?? 30_000;
  }

  /** Bytes currently held. */
  get bytesHeld(): number {
    return this.#bytes;
  }

  /** Datagrams in progress. */
  get inProgress(): number {
    return this.#datagrams.size;
  }

  /**
   * Adds one fragment: `offset` (bytes) and `more` (the MF flag) from its header, its header at
   * `header[headerOffset..+headerLength)` and its payload at `data[dataOffset..+dataLength)`. Returns the
   * completed datagram (valid until the next call) or undefined.
   */
  add(
    key: string,
    offset: number,
    more: boolean,
    header: { bytes: Uint8Array; offset: number; length: number },
    data: { bytes: Uint8Array; offset: number; length: number },
    now: number,
  ): Reassembled | undefined {
    this.stats.fragments++;
    const length = data.length;
    const end = offset + length;
    if (end + header.length > MAX_DATAGRAM) {
      // A "ping of death": fragments that would rebuild a datagram over 64 KiB.
      this.stats.dropOversize++;
      this.#drop(key);
      return undefined;
    }
    // RFC 791: every fragment but the last carries a multiple of 8 bytes, and none is empty.
    if ((more && (length & 7) !== 0) || (more && length === 0)) {
      this.stats.dropInvalid++;
      return undefined;
    }
    let d = this.#datagrams.get(key);
    if (d === undefined) {
      d = this.#create(key, end, now);
      if (d === undefined) return undefined;
    }
    if (d.total >= 0 && (end > d.total || (!more && end !== d.total))) {
      this.stats.dropInvalid++;
      this.#drop(key);
      return undefined;
    }
    if (!more) {
      // The last fragment fixes the length: nothing received may lie beyond it.
      const lastBlock = (end + 7) >>> 3;
      for (let b = lastBlock; b < d.blocks.length; b++) {
        if (d.blocks[b] !== 0) {
          this.stats.dropInvalid++;
          this.#drop(key);
          return undefined;
        }
      }
    }
    if (end > d.data.length - HEADROOM && !this.#grow(d, end)) return undefined;
    // Check overlaps before writing anything: blocks already received must match byte for byte.
    const first = offset >>> 3;
    const last = (end + 7) >>> 3;
    const base = HEADROOM;
    for (let b = first; b < last; b++) {
      if (d.blocks[b] === 0) continue;
      const from = Math.max(b << 3, offset);
      const to = Math.min((b << 3) + 8, end);
      for (let i = from; i < to; i++) {
        if (d.data[base + i] !== data.bytes[data.offset + (i - offset)]) {
          this.stats.dropOverlap++;
          this.#drop(key);
          return undefined;
        }
      }
    }
    d.data.set(data.bytes.subarray(data.offset, data.offset + length), base + offset);
    for (let b = first; b < last; b++) {
      if (d.blocks[b] === 0) {
        d.blocks[b] = 1;
        d.received++;
      }
    }
    if (!more) d.total = end;
    if (offset === 0) {
      d.headerLength = header.length;
      d.data.set(
        header.bytes.subarray(header.offset, header.offset + header.length),
        HEADROOM - header.length,
      );
    }
    if (d.total < 0 || d.headerLength === 0 || d.received !== (d.total + 7) >>> 3) return undefined;
    this.#drop(key);
    this.stats.reassembled++;
    const done = this.#done;
    done.bytes = d.data;
    done.headerOffset = HEADROOM - d.headerLength;
    done.headerLength = d.headerLength;
    done.payloadOffset = HEADROOM;
    done.payloadLength = d.total;
    return done;
  }

  /**
   * Drops datagrams past their deadline. `expired` gets those whose first fragment arrived (header and up
   * to 8 payload bytes), so that the caller can send an ICMP time exceeded (RFC 792).
   * Returns true when any expired.
   */
  poll(now: number, expired?: (d: Reassembled) => void): boolean {
    let work = false;
    for (const d of this.#datagrams.values()) {
      if (now < d.deadline) continue;
      work = true;
      this.stats.dropTimeout++;
      this.#drop(d.key);
      if (expired !== undefined && d.headerLength > 0) {
        const done = this.#done;
        done.bytes = d.data;
        done.headerOffset = HEADROOM - d.headerLength;
        done.headerLength = d.headerLength;
        done.payloadOffset = HEADROOM;
        done.payloadLength = d.blocks[0] === 1 ? Math.min(8, d.total >= 0 ? d.total : 8) : 0;
        expired(done);
      }
    }
    return work;
  }

  /** The earliest deadline of a datagram in progress. */
  pollAt(): number | undefined {
    let at: number | undefined;
    for (const d of this.#datagrams.values()) {
      if (at === undefined || d.deadline < at) at = d.deadline;
    }
    return at;
  }

  #create(key: string, end: number, now: number): Datagram | undefined {
    while (this.#datagrams.size >= this.#maxDatagrams) this.#evictOldest(undefined);
    const capacity = Math.max(1024, (end + 7) & ~7);
    const charge = HEADROOM + capacity + (capacity >>> 3);
    if (!this.#reserve(charge, undefined)) return undefined;
    const d: Datagram = {
      key,
      data: new Uint8Array(HEADROOM + capacity),
      blocks: new Uint8Array(capacity >>> 3),
      received: 0,
      total: -1,
      headerLength: 0,
      deadline: now + this.#timeout,
      charged: charge,
    };
    this.#datagrams.set(key, d);
    return d;
  }

  /** Doubles the buffer of `d` until `end` fits, within the memory budget. */
  #grow(d: Datagram, end: number): boolean {
    let capacity = d.data.length - HEADROOM;
    while (capacity < end) capacity *= 2;
    capacity = Math.min(capacity, MAX_DATAGRAM);
    const charge = HEADROOM + capacity + (capacity >>> 3);
    this.#bytes -= d.charged;
    d.charged = 0;
    if (!this.#reserve(charge, d)) {
      this.#drop(d.key);
      return false;
    }
    const data = new Uint8Array(HEADROOM + capacity);
    data.set(d.data);
    const blocks = new Uint8Array(capacity >>> 3);
    blocks.set(d.blocks);
    d.data = data;
    d.blocks = blocks;
    d.charged = charge;
    return true;
  }

  /** Makes room for `charge` bytes by evicting the oldest datagrams but `keep`; false when it cannot. */
  #reserve(charge: number, keep: Datagram | undefined): boolean {
    while (this.#bytes + charge > this.#maxBytes) {
      if (!this.#evictOldest(keep)) {
        this.stats.dropMemory++;
        return false;
      }
    }
    this.#bytes += charge;
    return true;
  }

  /** Evicts the oldest datagram other than `keep`; false when there is none. */
  #evictOldest(keep: Datagram | undefined): boolean {
    // Map order is creation order, so the first datagram is the oldest.
    for (const d of this.#datagrams.values()) {
      if (d === keep) continue;
      this.stats.dropMemory++;
      this.#drop(d.key);
      return true;
    }
    return false;
  }

  #drop(key: string): void {
    const d = this.#datagrams.get(key);
    if (d === undefined) return;
    this.#datagrams.delete(key);
    this.#bytes -= d.charged;
  }
}
