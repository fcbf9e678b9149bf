/**
 * Multicast Listener Discovery (MLDv2, RFC 3810; MLDv1 queries from RFC 2710): queries are parsed
 * (version told by length, RFC 3810 §8.1), and version 2 reports are emitted with one multicast address
 * record per group. A host only reports; it never acts on others' reports (RFC 3810 §6.1 drops report
 * suppression in v2).
 *
 * @module
 */

import { WireError } from "./error.ts";
import { type Icmpv6Packet, Icmpv6Type } from "./icmpv6.ts";
import { Ipv6Address } from "./ipv6_address.ts";

/** Multicast address record types (RFC 3810 §5.2.12). */
export const MldRecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
} as const;

/** The length of an MLDv1 query (and the minimum of any query). */
export const MLD_V1_QUERY_LENGTH = 24;
/** The minimum length of an MLDv2 query. */
export const MLD_V2_QUERY_LENGTH = 28;

/** A decoded multicast listener query. */
export class MldQueryRepr {
  /** 1 for an MLDv1 query (24 bytes), 2 for MLDv2. */
  version = 2;
  /** The maximum response delay in ms (RFC 3810 §5.1.3 decodes the exponential form). */
  maxResponseMs = 0;
  /** The group asked about; :: for a general query. */
  group: Ipv6Address = new Ipv6Address(0, 0, 0, 0);
  /** Sources in a source-specific query. */
  sourceCount = 0;

  /** Decodes a query from an ICMPv6 view (checksum verified by the caller). */
  static parse(view: Icmpv6Packet, into?: MldQueryRepr): MldQueryRepr | WireError {
    if (view.type !== Icmpv6Type.MldQuery) {
      return new WireError("unsupported", `Cannot parse MLD query: type ${view.type}`);
    }
    const length = view.length;
    // RFC 3810 §8.1: 24 bytes is v1, 28 or more v2, anything else is ignored.
    if (length !== MLD_V1_QUERY_LENGTH && length < MLD_V2_QUERY_LENGTH) {
      return new WireError(
        "malformed",
        `Cannot parse MLD query: length ${length} is neither 24 nor 28+`,
      );
    }
    const bytes = view.bytes;
    const at = view.offset;
    const repr = into ?? new MldQueryRepr();
    const code = (bytes[at + 4] << 8) | bytes[at + 5];
    repr.version = length === MLD_V1_QUERY_LENGTH ? 1 : 2;
    repr.maxResponseMs = repr.version === 1 || code < 0x8000
      ? code
      : ((code & 0x0fff) | 0x1000) << (((code >>> 12) & 7) + 3);
    repr.group = Ipv6Address.read(bytes, at + 8);
    repr.sourceCount = repr.version === 2 ? (bytes[at + 26] << 8) | bytes[at + 27] : 0;
    if (repr.version === 2 && MLD_V2_QUERY_LENGTH + repr.sourceCount * 16 > length) {
      return new WireError(
        "truncated",
        `Cannot parse MLD query: ${repr.sourceCount} sources do not fit`,
      );
    }
    return repr;
  }
}

/** One multicast address record of a report (no source list: hosts here join whole groups). */
export interface MldRecord {
  type: number;
  group: Ipv6Address;
}

/** An MLDv2 report (RFC 3810 §5.2). */
export class MldReportRepr {
  /** The records. */
  records: MldRecord[] = [];

  /** Decodes a report (for tests and monitors); source lists are skipped. */
  static parse(view: Icmpv6Packet): MldReportRepr | WireError {
    if (view.type !== Icmpv6Type.MldReportV2 || view.length < 8) {
      return new WireError("malformed", "Cannot parse MLDv2 report: wrong type or length");
    }
    const bytes = view.bytes;
    const count = (bytes[view.offset + 6] << 8) | bytes[view.offset + 7];
    const repr = new MldReportRepr();
    let i = view.offset + 8;
    const end = view.offset + view.length;
    for (let r = 0; r < count; r++) {
      if (i + 20 > end) return new WireError("truncated", `Cannot parse MLDv2 record ${r}`);
      const auxWords = bytes[i + 1];
      const sources = (bytes[i + 2] << 8) | bytes[i + 3];
      repr.records.push({ type: bytes[i], group: Ipv6Address.read(bytes, i + 4) });
      i += 20 + sources * 16 + auxWords * 4;
      if (i > end) return new WireError("truncated", `Cannot parse MLDv2 record ${r}`);
    }
    return repr;
  }

  /** The message length `emit` writes. */
  get bufferLength(): number {
    return 8 + 20 * this.records.length;
  }

  /** Writes the report into a view wrapped over `bufferLength` bytes, then the checksum. */
  emit(view: Icmpv6Packet, src: Ipv6Address, dst: Ipv6Address): void {
    const bytes = view.bytes;
    const at = view.offset;
    bytes.fill(0, at, at + 8);
    bytes[at] = Icmpv6Type.MldReportV2;
    bytes[at + 6] = this.records.length >>> 8;
    bytes[at + 7] = this.records.length;
    let i = at + 8;
    for (const record of this.records) {
      bytes[i] = record.type;
      bytes[i + 1] = 0;
      bytes[i + 2] = 0;
      bytes[i + 3] = 0;
      record.group.write(bytes, i + 4);
      i += 20;
    }
    view.fillChecksum(src, dst);
  }
}
