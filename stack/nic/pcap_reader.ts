/**
 * A small reader of classic libpcap files (either byte order, micro- or nanosecond timestamps), for tests
 * and tools. It copies nothing: records are views into the file's bytes.
 *
 * @module
 */

import {
  PCAP_FILE_HEADER,
  PCAP_MAGIC_MICROS,
  PCAP_MAGIC_NANOS,
  PCAP_RECORD_HEADER,
} from "./pcap.ts";

/** One captured frame. */
export interface PcapRecord {
  /** Capture time in ms since the Unix epoch. */
  timeMs: number;
  /** The captured bytes (a view into the file). */
  bytes: Uint8Array;
  /** The frame's length on the wire, which may exceed the captured bytes. */
  originalLength: number;
}

/** A parsed pcap file. */
export interface PcapFile {
  nanoseconds: boolean;
  littleEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLength: number;
  linkType: number;
  records: PcapRecord[];
}

/** Parses a whole pcap file; throws on a malformed one (test and tool code only). */
export function readPcap(file: Uint8Array): PcapFile {
  if (file.length < PCAP_FILE_HEADER) {
    throw new Error(`Cannot read pcap: ${file.length} bytes is below the 24-byte header`);
  }
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let littleEndian: boolean;
  let nanoseconds: boolean;
  const le = v.getUint32(0, true);
  const be = v.getUint32(0, false);
  if (le === PCAP_MAGIC_MICROS || le === PCAP_MAGIC_NANOS) {
    littleEndian = true;
    nanoseconds = le === PCAP_MAGIC_NANOS;
  } else if (be === PCAP_MAGIC_MICROS || be === PCAP_MAGIC_NANOS) {
    littleEndian = false;
    nanoseconds = be === PCAP_MAGIC_NANOS;
  } else {
    throw new Error(`Cannot read pcap: unknown magic 0x${le.toString(16)}`);
  }
  const out: PcapFile = {
    nanoseconds,
    littleEndian,
    versionMajor: v.getUint16(4, littleEndian),
    versionMinor: v.getUint16(6, littleEndian),
    snapLength: v.getUint32(16, littleEndian),
    linkType: v.getUint32(20, littleEndian),
    records: [],
  };
  let at = PCAP_FILE_HEADER;
  while (at < file.length) {
    if (at + PCAP_RECORD_HEADER > file.length) {
      throw new Error(`Cannot read pcap: record header at ${at} is truncated`);
    }
    const sec = v.getUint32(at, littleEndian);
    const frac = v.getUint32(at + 4, littleEndian);
    const kept = v.getUint32(at + 8, littleEndian);
    const originalLength = v.getUint32(at + 12, littleEndian);
    at += PCAP_RECORD_HEADER;
    if (at + kept > file.length) {
      throw new Error(`Cannot read pcap: record of ${kept} bytes at ${at} is truncated`);
    }
    out.records.push({
      timeMs: sec * 1000 + (nanoseconds ? frac / 1e6 : frac / 1e3),
      bytes: file.subarray(at, at + kept),
      originalLength,
    });
    at += kept;
  }
  return out;
}
