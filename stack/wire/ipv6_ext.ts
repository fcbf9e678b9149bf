/**
 * IPv6 extension headers (RFC 8200 §4): the generic length-prefixed header (hop-by-hop, routing,
 * destination options), TLV option scanning with the unknown-option actions of §4.2, the routing header's
 * fixed fields (§4.4), and the fragment header (§4.5) as a view and a repr. Views are unchecked over a
 * region; `checkExtHeader` validates a header's length first.
 *
 * @module
 */

import { WireError } from "./error.ts";

/** The fragment header's fixed length. */
export const IPV6_FRAGMENT_HEADER_LENGTH = 8;
/** Option types (RFC 8200 §4.2, RFC 2711). */
export const Ipv6Option = { Pad1: 0, PadN: 1, RouterAlert: 5 } as const;

/**
 * The length of the extension header at `bytes[at]` of type `type`, or a `WireError` when it does not
 * fit in `end - at` bytes. AH counts 4-byte units (RFC 4302 §2.2); the others 8-byte units less one.
 */
export function checkExtHeader(
  bytes: Uint8Array,
  at: number,
  end: number,
  type: number,
): number | WireError {
  if (end - at < 8) {
    return new WireError(
      "truncated",
      `Cannot parse IPv6 extension header ${type}: ${end - at} bytes is below 8`,
    );
  }
  const length = type === 44 ? 8 : type === 51 ? (bytes[at + 1] + 2) * 4 : (bytes[at + 1] + 1) * 8;
  if (at + length > end) {
    return new WireError(
      "truncated",
      `Cannot parse IPv6 extension header ${type}: length ${length} is beyond the ${
        end - at
      } bytes left`,
    );
  }
  return length;
}

/** What an option scan found. */
export type OptionScan =
  | { kind: "ok"; routerAlert: number }
  | { kind: "malformed" }
  /** An unknown option whose type's top bits say: 1 discard, 2 discard and report, 3 report unless multicast. */
  | { kind: "unknown"; action: 1 | 2 | 3; pointer: number };

/** The result when every option was understood and there was no router alert (-1). */
const OK: OptionScan = { kind: "ok", routerAlert: -1 };

/**
 * Scans the TLV options of a hop-by-hop or destination options header at `bytes[at..at+length)`
 * (RFC 8200 §4.2). Unknown options with action 00 are skipped; `pointer` is the unknown option's absolute
 * offset. Returns the router alert value when one is present (RFC 2711).
 */
export function scanOptions(bytes: Uint8Array, at: number, length: number): OptionScan {
  let i = at + 2;
  const end = at + length;
  let routerAlert = -1;
  while (i < end) {
    const type = bytes[i];
    if (type === Ipv6Option.Pad1) {
      i++;
      continue;
    }
    if (i + 2 > end) return { kind: "malformed" };
    const dataLength = bytes[i + 1];
    if (i + 2 + dataLength > end) return { kind: "malformed" };
    if (type === Ipv6Option.RouterAlert) {
      if (dataLength !== 2) return { kind: "malformed" };
      routerAlert = (bytes[i + 2] << 8) | bytes[i + 3];
    } else if (type !== Ipv6Option.PadN) {
      const action = type >>> 6;
      if (action !== 0) return { kind: "unknown", action: action as 1 | 2 | 3, pointer: i };
    }
    i += 2 + dataLength;
  }
  return routerAlert < 0 ? OK : { kind: "ok", routerAlert };
}

/**
 * Writes an 8-byte hop-by-hop header holding one router alert option (RFC 2711 §2.1, value 0 for MLD per
 * RFC 3810 §5) and a PadN of two bytes.
 */
export function emitRouterAlertHeader(bytes: Uint8Array, at: number, nextHeader: number): void {
  bytes[at] = nextHeader;
  bytes[at + 1] = 0;
  bytes[at + 2] = Ipv6Option.RouterAlert;
  bytes[at + 3] = 2;
  bytes[at + 4] = 0;
  bytes[at + 5] = 0;
  bytes[at + 6] = Ipv6Option.PadN;
  bytes[at + 7] = 0;
}

/**
 * The base of the extension-header views: a position `bytes[offset ..]` whose length the header's own
 * fields give (the fragment header is 8 bytes).
 */
export class Ipv6HeaderView {
  /** The buffer. */
  bytes: Uint8Array;
  /** Where the header starts. */
  offset: number;

  /** Wraps a region without checking it. */
  constructor(bytes: Uint8Array = new Uint8Array(0), offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
  }

  /** Re-targets the view. */
  wrap(bytes: Uint8Array, offset: number): this {
    this.bytes = bytes;
    this.offset = offset;
    return this;
  }
}

/** A view over a routing header's fixed fields (RFC 8200 §4.4). */
export class Ipv6RoutingHeader extends Ipv6HeaderView {
  /** The type of the next header. */
  get nextHeader(): number {
    return this.bytes[this.offset];
  }

  /** The routing type (0 is deprecated by RFC 5095, 2 is Mobile IPv6, 3 RPL, 4 SRv6). */
  get routingType(): number {
    return this.bytes[this.offset + 2];
  }

  /** Route segments still to visit. */
  get segmentsLeft(): number {
    return this.bytes[this.offset + 3];
  }
}

/** A view over a fragment header (RFC 8200 §4.5). */
export class Ipv6FragmentHeader extends Ipv6HeaderView {
  /** The type of the fragmentable part's first header. */
  get nextHeader(): number {
    return this.bytes[this.offset];
  }
  set nextHeader(value: number) {
    this.bytes[this.offset] = value;
  }

  /** The fragment offset in bytes (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return ((this.bytes[this.offset + 2] << 8) | this.bytes[this.offset + 3]) & 0xfff8;
  }

  /** The M flag: more fragments follow. */
  get moreFragments(): boolean {
    return (this.bytes[this.offset + 3] & 1) !== 0;
  }

  /** The identification shared by a packet's fragments. */
  get ident(): number {
    const at = this.offset + 4;
    return ((this.bytes[at] << 24) | (this.bytes[at + 1] << 16) | (this.bytes[at + 2] << 8) |
      this.bytes[at + 3]) >>> 0;
  }
}

/** The decoded fragment header. */
export class Ipv6FragmentRepr {
  /** The type of the fragmentable part's first header. */
  nextHeader = 0;
  /** The offset in bytes, a multiple of 8. */
  fragmentOffset = 0;
  /** More fragments follow. */
  moreFragments = false;
  /** The identification. */
  ident = 0;

  /** Decodes the fragment header at `bytes[at..at+8)`, which the caller checked is in range. */
  static parse(view: Ipv6FragmentHeader, into?: Ipv6FragmentRepr): Ipv6FragmentRepr {
    const repr = into ?? new Ipv6FragmentRepr();
    repr.nextHeader = view.nextHeader;
    repr.fragmentOffset = view.fragmentOffset;
    repr.moreFragments = view.moreFragments;
    repr.ident = view.ident;
    return repr;
  }

  /** The header length: 8. */
  get headerLength(): number {
    return IPV6_FRAGMENT_HEADER_LENGTH;
  }

  /** Writes the header (reserved fields zero) at the view's offset. */
  emit(view: Ipv6FragmentHeader): void {
    const b = view.bytes;
    const at = view.offset;
    b[at] = this.nextHeader;
    b[at + 1] = 0;
    const word = (this.fragmentOffset & 0xfff8) | (this.moreFragments ? 1 : 0);
    b[at + 2] = word >>> 8;
    b[at + 3] = word;
    b[at + 4] = this.ident >>> 24;
    b[at + 5] = this.ident >>> 16;
    b[at + 6] = this.ident >>> 8;
    b[at + 7] = this.ident;
  }
}
