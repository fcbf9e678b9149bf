/**
 * Packet capture: `PcapWriter` writes the classic libpcap format (LINKTYPE_ETHERNET, microsecond or
 * nanosecond timestamps) to a file or to memory, and `PcapNic` wraps any NIC to record every frame it
 * receives and sends. Timestamps are the stack's `now` plus an epoch base; nothing here reads a clock.
 *
 * @module
 */

import type { FrameFill, FrameHandler, Nic, NicCaps, NicStats } from "./nic.ts";

/** Magic of a pcap file with microsecond timestamps. */
export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
/** Magic of a pcap file with nanosecond timestamps. */
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
/** Link type of Ethernet frames (LINKTYPE_ETHERNET). */
export const LINKTYPE_ETHERNET = 1;
/** Size of the pcap file header. */
export const PCAP_FILE_HEADER = 24;
/** Size of a pcap record header. */
export const PCAP_RECORD_HEADER = 16;

/** Where a `PcapWriter` puts its bytes. */
export interface PcapSink {
  /** Takes all of `bytes`; the writer reuses the buffer afterwards. */
  write(bytes: Uint8Array): void;
  /** Releases the sink (closes a file). */
  close?(): void;
}

/** A sink that keeps everything in memory, for tests. */
export class MemorySink implements PcapSink {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** Copies `bytes` in. */
  write(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
    this.#length += bytes.length;
  }

  /** Everything written so far, as one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** A sink writing to a file opened with `Deno.openSync` (created or truncated). */
export class FileSink implements PcapSink {
  #file: Deno.FsFile;

  /** Opens (creates or truncates) the file at `path`. */
  constructor(path: string) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
  }

  /** Writes all of `bytes`, looping over short writes. */
  write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) at += this.#file.writeSync(bytes.subarray(at));
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }
}

/** Options of `PcapWriter`. */
export interface PcapWriterOptions {
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds. */
  nanoseconds?: boolean;
  /** Milliseconds since the Unix epoch that `now = 0` stands for (default 0). */
  epochMs?: number;
  /** Bytes kept of each frame (default 262144, what tcpdump uses). */
  snapLength?: number;
  /** Bytes buffered before a write to the sink (default 65536). */
  bufferBytes?: number;
}

/** Writes frames in libpcap format, buffered. */
export class PcapWriter {
  #sink: PcapSink;
  #buffer: Uint8Array;
  #view: DataView;
  #used = 0;
  #nanos: boolean;
  #epochMs: number;
  #snap: number;
  #closed = false;

  /** Starts a capture and writes the file header. */
  constructor(sink: PcapSink, opts: PcapWriterOptions = {}) {
    this.#sink = sink;
    this.#nanos = opts.nanoseconds ?? false;
    this.#epochMs = opts.epochMs ?? 0;
    this.#snap = opts.snapLength ?? 262144;
    this.#buffer = new Uint8Array(Math.max(opts.bufferBytes ?? 65536, PCAP_FILE_HEADER));
    this.#view = new DataView(this.#buffer.buffer);
    const v = this.#view;
    // Little-endian throughout; readers detect the byte order from the magic.
    v.setUint32(0, this.#nanos ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, this.#snap, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.#used = PCAP_FILE_HEADER;
  }

  /** Records one frame seen at `now` (ms on the stack's clock). */
  write(now: number, bytes: Uint8Array, offset: number, length: number): void {
    if (this.#closed) return;
    const kept = Math.min(length, this.#snap);
    if (this.#used + PCAP_RECORD_HEADER + kept > this.#buffer.length) this.flush();
    const t = this.#epochMs + now;
    let sec = Math.floor(t / 1000);
    const unit = this.#nanos ? 1e6 : 1e3;
    let frac = Math.round((t - sec * 1000) * unit);
    if (frac >= 1000 * unit) {
      sec++;
      frac -= 1000 * unit;
    }
    // After a flush the header always fits: the buffer holds at least a file header.
    this.#recordHeader(sec, frac, kept, length);
    if (this.#used + kept > this.#buffer.length) {
      // A frame larger than the buffer goes straight to the sink.
      this.flush();
      this.#sink.write(bytes.subarray(offset, offset + kept));
    } else {
      this.#buffer.set(bytes.subarray(offset, offset + kept), this.#used);
      this.#used += kept;
    }
  }

  /** Hands buffered bytes to the sink. */
  flush(): void {
    if (this.#used === 0) return;
    this.#sink.write(this.#buffer.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Flushes and closes the sink; later writes are ignored. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#sink.close?.();
  }

  #recordHeader(sec: number, frac: number, kept: number, length: number): void {
    const v = this.#view;
    const at = this.#used;
    v.setUint32(at, sec >>> 0, true);
    v.setUint32(at + 4, frac, true);
    v.setUint32(at + 8, kept, true);
    v.setUint32(at + 12, length, true);
    this.#used += PCAP_RECORD_HEADER;
  }
}

/** Options of `PcapNic`: a file path or a sink, plus the writer's options. */
export interface PcapNicOptions extends PcapWriterOptions {
  /** File to write (created or truncated). */
  path?: string;
  /** Sink to write to instead of a file. */
  sink?: PcapSink;
  /** Which frames to record (default both). */
  record?: "both" | "rx" | "tx";
}

/** A NIC that records every frame received and sent through the NIC it wraps. */
export class PcapNic implements Nic {
  readonly name: string;
  readonly writer: PcapWriter;
  #inner: Nic;
  #rx: boolean;
  #tx: boolean;
  #handler: FrameHandler = () => {};
  #fill: FrameFill = () => {};
  #now = 0;
  // Bound once so that receive and send allocate no closure per call.
  #onFrame: FrameHandler;
  #onFill: FrameFill;

  /** Wraps `inner`; frames go to `opts.path` or `opts.sink`. */
  constructor(inner: Nic, opts: PcapNicOptions) {
    if (opts.sink === undefined && opts.path === undefined) {
      throw new TypeError("Cannot record a capture: give a path or a sink");
    }
    this.#inner = inner;
    this.name = `pcap:${inner.name}`;
    this.writer = new PcapWriter(opts.sink ?? new FileSink(opts.path!), opts);
    const record = opts.record ?? "both";
    this.#rx = record !== "tx";
    this.#tx = record !== "rx";
    this.#onFrame = (bytes, offset, length) => {
      if (this.#rx) this.writer.write(this.#now, bytes, offset, length);
      this.#handler(bytes, offset, length);
    };
    this.#onFill = (bytes, offset, length) => {
      this.#fill(bytes, offset, length);
      if (this.#tx) this.writer.write(this.#now, bytes, offset, length);
    };
  }

  /** The wrapped NIC's MAC. */
  get mac(): number {
    return this.#inner.mac;
  }

  /** The wrapped NIC's MTU. */
  get mtu(): number {
    return this.#inner.mtu;
  }

  /** The wrapped NIC's offloads. */
  get caps(): NicCaps {
    return this.#inner.caps;
  }

  /** The wrapped NIC's counters. */
  get stats(): NicStats {
    return this.#inner.stats;
  }

  /** Receives through the wrapped NIC, recording each frame before the handler sees it. */
  receive(now: number, handler: FrameHandler, budget?: number): number {
    this.#now = now;
    this.#handler = handler;
    return this.#inner.receive(now, this.#onFrame, budget);
  }

  /** Sends through the wrapped NIC, recording the frame once it is filled. */
  send(now: number, length: number, fill: FrameFill): boolean {
    this.#now = now;
    this.#fill = fill;
    return this.#inner.send(now, length, this.#onFill);
  }

  /** Flushes the wrapped NIC. */
  flush(now: number): void {
    this.#inner.flush(now);
  }

  /** Waits on the wrapped NIC. */
  wait(timeoutMs: number): Promise<void> {
    return this.#inner.wait(timeoutMs);
  }

  /** The wrapped NIC's next deadline. */
  pollAt(now: number): number | undefined {
    return this.#inner.pollAt?.(now);
  }

  /** Closes the capture (flushing it) and the wrapped NIC. */
  close(): void {
    this.writer.close();
    this.#inner.close();
  }
}
