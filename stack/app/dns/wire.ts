/**
 * DNS messages (RFC 1035 §4): the header view, and a repr with questions and resource records. Names are
 * decoded through compression pointers (§4.1.4) that must point strictly backwards, which makes loops
 * impossible; emit never compresses. A, AAAA and CNAME data are decoded; other types keep raw data.
 *
 * @module
 */

import { readIpv4, writeIpv4 } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import { WireView } from "../../wire/view.ts";

/** The DNS server port. */
export const DNS_PORT = 53;
/** The fixed header size. */
export const DNS_HEADER_LENGTH = 12;
/** The largest UDP message without EDNS (RFC 1035 §2.3.4). */
export const DNS_UDP_MAX = 512;
/** The longest name on the wire, length bytes included (RFC 1035 §2.3.4). */
export const DNS_MAX_NAME = 255;

/** Record types (RFC 1035 §3.2.2, RFC 3596). */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
} as const;

/** The Internet class. */
export const DNS_CLASS_IN = 1;

/** Response codes (RFC 1035 §4.1.1). */
export const DnsRcode = {
  NoError: 0,
  FormErr: 1,
  ServFail: 2,
  NxDomain: 3,
  NotImp: 4,
  Refused: 5,
} as const;

const ID = 0;
const FLAGS = 2;
const QDCOUNT = 4;
const ANCOUNT = 6;
const NSCOUNT = 8;
const ARCOUNT = 10;

/** A view over a DNS message header. */
export class DnsPacket extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Checks that the header fits (the sections are checked by `DnsRepr.parse`). */
  check(): WireError | undefined {
    if (this.offset < 0 || this.offset + this.length > this.bytes.length) {
      return new WireError("truncated", "Cannot parse DNS message: region exceeds the buffer");
    }
    if (this.length < DNS_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse DNS header: ${this.length} bytes is below 12`,
      );
    }
    return undefined;
  }

  #u16(at: number): number {
    return (this.bytes[this.offset + at] << 8) | this.bytes[this.offset + at + 1];
  }
  #set16(at: number, v: number): void {
    this.bytes[this.offset + at] = v >> 8;
    this.bytes[this.offset + at + 1] = v;
  }

  /** Query id. */
  get id(): number {
    return this.#u16(ID);
  }
  set id(v: number) {
    this.#set16(ID, v);
  }
  /** The 16 flag bits (QR, opcode, AA, TC, RD, RA, Z, RCODE). */
  get flags(): number {
    return this.#u16(FLAGS);
  }
  set flags(v: number) {
    this.#set16(FLAGS, v);
  }
  /** True for a response. */
  get response(): boolean {
    return (this.flags & 0x8000) !== 0;
  }
  /** True when the message was truncated to fit (TC). */
  get truncated(): boolean {
    return (this.flags & 0x0200) !== 0;
  }
  /** Response code. */
  get rcode(): number {
    return this.flags & 0xf;
  }
  /** Questions. */
  get qdcount(): number {
    return this.#u16(QDCOUNT);
  }
  set qdcount(v: number) {
    this.#set16(QDCOUNT, v);
  }
  /** Answer records. */
  get ancount(): number {
    return this.#u16(ANCOUNT);
  }
  set ancount(v: number) {
    this.#set16(ANCOUNT, v);
  }
  /** Authority records. */
  get nscount(): number {
    return this.#u16(NSCOUNT);
  }
  set nscount(v: number) {
    this.#set16(NSCOUNT, v);
  }
  /** Additional records. */
  get arcount(): number {
    return this.#u16(ARCOUNT);
  }
  set arcount(v: number) {
    this.#set16(ARCOUNT, v);
  }
}

/** One question. */
export interface DnsQuestion {
  /** Dotted name without the trailing dot ("" is the root). */
  name: string;
  /** Record type. */
  type: number;
  /** Class (1 is IN). */
  class: number;
}

/** One resource record. */
export interface DnsRecord {
  /** Owner name. */
  name: string;
  /** Record type. */
  type: number;
  /** Class. */
  class: number;
  /** Time to live, seconds. */
  ttl: number;
  /** The record data as sent (compressed names inside are left as they were). */
  data: Uint8Array;
  /** For A: the IPv4 address. */
  address?: number;
  /** For AAAA: the 16 address bytes. */
  address6?: Uint8Array;
  /** For CNAME: the target, decompressed. */
  target?: string;
  /** For SOA: the MINIMUM field, which bounds negative caching (RFC 2308 §5). */
  soaMinimum?: number;
}

/** A decoded DNS message. */
export class DnsRepr {
  /** Query id. */
  id = 0;
  /** QR: true for responses. */
  response = false;
  /** Opcode (0 is a standard query). */
  opcode = 0;
  /** AA. */
  authoritative = false;
  /** TC: the answer did not fit and the query should be retried over TCP (RFC 1035 §4.2.1). */
  truncated = false;
  /** RD. */
  recursionDesired = true;
  /** RA. */
  recursionAvailable = false;
  /** Response code. */
  rcode = 0;
  /** Question section. */
  questions: DnsQuestion[] = [];
  /** Answer section. */
  answers: DnsRecord[] = [];
  /** Authority section. */
  authorities: DnsRecord[] = [];
  /** Additional section. */
  additionals: DnsRecord[] = [];

  /** Decodes a whole message; any record that runs past the end or a bad name is an error. */
  static parse(packet: DnsPacket): DnsRepr | WireError {
    const error = packet.check();
    if (error) return error;
    const r = new DnsRepr();
    const flags = packet.flags;
    r.id = packet.id;
    r.response = (flags & 0x8000) !== 0;
    r.opcode = (flags >> 11) & 0xf;
    r.authoritative = (flags & 0x0400) !== 0;
    r.truncated = (flags & 0x0200) !== 0;
    r.recursionDesired = (flags & 0x0100) !== 0;
    r.recursionAvailable = (flags & 0x0080) !== 0;
    r.rcode = flags & 0xf;
    const b = packet.bytes;
    const start = packet.offset;
    const end = start + packet.length;
    const cursor = { at: start + DNS_HEADER_LENGTH };
    for (let i = 0; i < packet.qdcount; i++) {
      const name = readName(b, start, end, cursor);
      if (name instanceof WireError) return name;
      if (cursor.at + 4 > end) return truncated("question");
      r.questions.push({ name, type: u16(b, cursor.at), class: u16(b, cursor.at + 2) });
      cursor.at += 4;
    }
    const sections: [number, DnsRecord[]][] = [
      [packet.ancount, r.answers],
      [packet.nscount, r.authorities],
      [packet.arcount, r.additionals],
    ];
    for (const [count, into] of sections) {
      for (let i = 0; i < count; i++) {
        const record = readRecord(b, start, end, cursor);
        if (record instanceof WireError) return record;
        into.push(record);
      }
    }
    return r;
  }

  /** Bytes `emit` needs; throws like `emit` on a name that cannot be encoded. */
  get bufferLength(): number {
    let n = DNS_HEADER_LENGTH;
    for (const q of this.questions) n += nameLength(q.name) + 4;
    for (const list of [this.answers, this.authorities, this.additionals]) {
      for (const rr of list) n += nameLength(rr.name) + 10 + rdataFor(rr).length;
    }
    return n;
  }

  /**
   * Writes the message without compression into `packet` (at least `bufferLength` bytes) and returns the
   * bytes written. A, AAAA and CNAME records are written from `address`/`address6`/`target` when set.
   */
  emit(packet: DnsPacket): number {
    const b = packet.bytes;
    packet.id = this.id;
    packet.flags = (this.response ? 0x8000 : 0) | ((this.opcode & 0xf) << 11) |
      (this.authoritative ? 0x0400 : 0) | (this.truncated ? 0x0200 : 0) |
      (this.recursionDesired ? 0x0100 : 0) | (this.recursionAvailable ? 0x0080 : 0) |
      (this.rcode & 0xf);
    packet.qdcount = this.questions.length;
    packet.ancount = this.answers.length;
    packet.nscount = this.authorities.length;
    packet.arcount = this.additionals.length;
    let at = packet.offset + DNS_HEADER_LENGTH;
    for (const q of this.questions) {
      at = writeName(b, at, q.name);
      put16(b, at, q.type);
      put16(b, at + 2, q.class);
      at += 4;
    }
    for (const list of [this.answers, this.authorities, this.additionals]) {
      for (const rr of list) {
        at = writeName(b, at, rr.name);
        const data = rdataFor(rr);
        put16(b, at, rr.type);
        put16(b, at + 2, rr.class);
        writeIpv4(b, at + 4, rr.ttl);
        put16(b, at + 8, data.length);
        b.set(data, at + 10);
        at += 10 + data.length;
      }
    }
    return at - packet.offset;
  }
}

/**
 * The wire length of `name` (dotted, optional trailing dot), or throws a `WireError` when a label is
 * empty, longer than 63 bytes, not ASCII, or the name is longer than 255 bytes.
 */
export function nameLength(name: string): number {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") return 1;
  let n = 1;
  for (const label of trimmed.split(".")) {
    if (label.length === 0 || label.length > 63) {
      throw new WireError("malformed", `Cannot encode DNS name ${JSON.stringify(name)}: bad label`);
    }
    for (let i = 0; i < label.length; i++) {
      if (label.charCodeAt(i) > 0x7e) {
        throw new WireError(
          "unsupported",
          `Cannot encode DNS name ${JSON.stringify(name)}: not ASCII`,
        );
      }
    }
    n += 1 + label.length;
  }
  if (n > DNS_MAX_NAME) {
    throw new WireError("malformed", `Cannot encode DNS name: ${n} bytes is above 255`);
  }
  return n;
}

/** Writes `name` uncompressed at `at` and returns the offset after it (validate with `nameLength`). */
export function writeName(bytes: Uint8Array, at: number, name: string): number {
  nameLength(name);
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed !== "") {
    for (const label of trimmed.split(".")) {
      bytes[at++] = label.length;
      for (let i = 0; i < label.length; i++) bytes[at++] = label.charCodeAt(i);
    }
  }
  bytes[at++] = 0;
  return at;
}

/**
 * Reads a possibly compressed name at `cursor.at` and advances the cursor past it. After a pointer, the
 * name may only use bytes before that pointer, so every jump lands strictly earlier and the walk ends.
 */
export function readName(
  bytes: Uint8Array,
  start: number,
  end: number,
  cursor: { at: number },
): string | WireError {
  let at = cursor.at;
  let bound = end;
  let after = -1;
  let wireLength = 1;
  let name = "";
  for (;;) {
    if (at >= bound) return bound === end ? truncated("name") : badPointer();
    const len = bytes[at];
    if (len === 0) {
      at++;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (at + 2 > bound) return bound === end ? truncated("name") : badPointer();
      const target = start + (((len & 0x3f) << 8) | bytes[at + 1]);
      if (target >= at) return badPointer();
      if (after < 0) after = at + 2;
      bound = at;
      at = target;
      continue;
    }
    if (kind !== 0) {
      return new WireError(
        "unsupported",
        `Cannot parse DNS name: label type 0x${kind.toString(16)}`,
      );
    }
    if (at + 1 + len > bound) return bound === end ? truncated("name") : badPointer();
    wireLength += 1 + len;
    if (wireLength > DNS_MAX_NAME) {
      return new WireError("malformed", "Cannot parse DNS name: longer than 255 bytes");
    }
    if (name.length > 0) name += ".";
    for (let i = 0; i < len; i++) name += String.fromCharCode(bytes[at + 1 + i]);
    at += 1 + len;
  }
  cursor.at = after >= 0 ? after : at;
  return name;
}

function badPointer(): WireError {
  return new WireError(
    "malformed",
    "Cannot parse DNS name: compression pointer does not point back",
  );
}

function readRecord(
  b: Uint8Array,
  start: number,
  end: number,
  cursor: { at: number },
): DnsRecord | WireError {
  const name = readName(b, start, end, cursor);
  if (name instanceof WireError) return name;
  const at = cursor.at;
  if (at + 10 > end) return truncated("record");
  const type = u16(b, at);
  const rdlength = u16(b, at + 8);
  if (at + 10 + rdlength > end) return truncated("record data");
  const rr: DnsRecord = {
    name,
    type,
    class: u16(b, at + 2),
    ttl: readIpv4(b, at + 4),
    data: b.slice(at + 10, at + 10 + rdlength),
  };
  if (type === DnsType.A) {
    if (rdlength !== 4) return badLength("A", rdlength);
    rr.address = readIpv4(b, at + 10);
  } else if (type === DnsType.AAAA) {
    if (rdlength !== 16) return badLength("AAAA", rdlength);
    rr.address6 = rr.data;
  } else if (type === DnsType.CNAME) {
    const inner = { at: at + 10 };
    const target = readName(b, start, at + 10 + rdlength, inner);
    if (target instanceof WireError) return target;
    if (inner.at !== at + 10 + rdlength) return badLength("CNAME", rdlength);
    rr.target = target;
  } else if (type === DnsType.SOA) {
    // MNAME and RNAME (possibly compressed), then SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM.
    const end = at + 10 + rdlength;
    const inner = { at: at + 10 };
    for (let i = 0; i < 2; i++) {
      const name = readName(b, start, end, inner);
      if (name instanceof WireError) return name;
    }
    if (inner.at + 20 !== end) return badLength("SOA", rdlength);
    rr.soaMinimum = readIpv4(b, inner.at + 16);
  }
  cursor.at = at + 10 + rdlength;
  return rr;
}

function rdataFor(rr: DnsRecord): Uint8Array {
  if (rr.type === DnsType.A && rr.address !== undefined) {
    const data = new Uint8Array(4);
    writeIpv4(data, 0, rr.address);
    return data;
  }
  if (rr.type === DnsType.AAAA && rr.address6 !== undefined) return rr.address6;
  if (rr.type === DnsType.CNAME && rr.target !== undefined) {
    const data = new Uint8Array(nameLength(rr.target));
    writeName(data, 0, rr.target);
    return data;
  }
  return rr.data;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >> 8;
  b[at + 1] = v;
}

function truncated(what: string): WireError {
  return new WireError("truncated", `Cannot parse DNS ${what}: it runs past the end`);
}

function badLength(type: string, length: number): WireError {
  return new WireError(
    "malformed",
    `Cannot parse DNS ${type} record: data length ${length} is invalid`,
  );
}
