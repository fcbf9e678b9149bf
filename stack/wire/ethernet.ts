/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), with one optional IEEE 802.1Q VLAN tag: the
 * `EthernetFrame` view and the `EthernetRepr`. Frames here carry no FCS (NICs strip and add it).
 *
 * @module
 */

import { readMac, writeMac } from "./address.ts";
import { WireError } from "./error.ts";
import { WireView } from "./view.ts";

const DST = 0;
const SRC = 6;
const TYPE = 12;
/** With a tag: the TCI (PCP, DEI, VLAN id) follows the 0x8100 TPID, then the inner EtherType. */
const TCI = 14;
const INNER_TYPE = 16;

/** EtherType values (IEEE registry) the stack knows. */
export const EtherType = {
  Ipv4: 0x0800,
  Arp: 0x0806,
  Vlan: 0x8100,
  Ipv6: 0x86dd,
} as const;

/** The length of an untagged Ethernet II header. */
export const ETHERNET_HEADER_LENGTH = 14;
/** The length of a header with one 802.1Q tag. */
export const ETHERNET_VLAN_HEADER_LENGTH = 18;
/** The shortest frame on the wire without FCS (64 bytes minus 4); shorter frames are padded. */
export const ETHERNET_MIN_FRAME_LENGTH = 60;
/** The largest VLAN id (4095 is reserved, IEEE 802.1Q §9.6). */
export const VLAN_ID_MAX = 4094;

/** A view over an Ethernet frame in `bytes[offset .. offset + length)`. */
export class EthernetFrame extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates that the header (and its VLAN tag, if any) fits in the region. */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse Ethernet frame");
    if (region !== undefined) return region;
    if (this.length < ETHERNET_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse Ethernet frame: ${this.length} bytes is below the 14-byte header`,
      );
    }
    if (this.vlanTagged && this.length < ETHERNET_VLAN_HEADER_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse Ethernet frame: ${this.length} bytes is below the 18-byte tagged header`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): EthernetFrame | WireError {
    const view = new EthernetFrame(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The destination MAC address. */
  get dst(): number {
    return readMac(this.bytes, this.offset + DST);
  }
  set dst(mac: number) {
    writeMac(this.bytes, this.offset + DST, mac);
  }

  /** The source MAC address. */
  get src(): number {
    return readMac(this.bytes, this.offset + SRC);
  }
  set src(mac: number) {
    writeMac(this.bytes, this.offset + SRC, mac);
  }

  /** The outer EtherType field (0x8100 when tagged); see `payloadType` for the payload's type. */
  get etherType(): number {
    return read16(this.bytes, this.offset + TYPE);
  }
  set etherType(value: number) {
    write16(this.bytes, this.offset + TYPE, value);
  }

  /** True when the frame carries an 802.1Q tag. */
  get vlanTagged(): boolean {
    return this.etherType === EtherType.Vlan;
  }

  /** The VLAN id (12 bits) of a tagged frame. */
  get vlanId(): number {
    return read16(this.bytes, this.offset + TCI) & 0x0fff;
  }
  set vlanId(id: number) {
    const at = this.offset + TCI;
    write16(this.bytes, at, (read16(this.bytes, at) & 0xf000) | (id & 0x0fff));
  }

  /** The priority code point (3 bits) of a tagged frame. */
  get vlanPcp(): number {
    return this.bytes[this.offset + TCI] >>> 5;
  }
  set vlanPcp(pcp: number) {
    const at = this.offset + TCI;
    this.bytes[at] = (this.bytes[at] & 0x1f) | ((pcp & 7) << 5);
  }

  /** The drop eligible indicator of a tagged frame. */
  get vlanDei(): boolean {
    return (this.bytes[this.offset + TCI] & 0x10) !== 0;
  }
  set vlanDei(dei: boolean) {
    const at = this.offset + TCI;
    this.bytes[at] = dei ? this.bytes[at] | 0x10 : this.bytes[at] & 0xef;
  }

  /** The EtherType of the payload: the inner type when tagged, else the outer one. */
  get payloadType(): number {
    return this.vlanTagged ? read16(this.bytes, this.offset + INNER_TYPE) : this.etherType;
  }

  /** The header length: 14, or 18 with a VLAN tag. */
  get headerLength(): number {
    return this.vlanTagged ? ETHERNET_VLAN_HEADER_LENGTH : ETHERNET_HEADER_LENGTH;
  }

  /** Absolute offset of the payload in `bytes`. */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }

  /** The payload length, padding included (the payload's own header says how much is real). */
  get payloadLength(): number {
    return this.length - this.headerLength;
  }
}

/** The decoded header of an Ethernet frame. */
export class EthernetRepr {
  /** The source MAC address. */
  src = 0;
  /** The destination MAC address. */
  dst = 0;
  /** The payload's EtherType (the inner one when tagged). */
  etherType = 0;
  /** The VLAN id when tagged, else undefined. */
  vlanId: number | undefined = undefined;
  /** The priority code point of a tagged frame (0 when untagged). */
  vlanPcp = 0;
  /** The drop eligible indicator of a tagged frame. */
  vlanDei = false;

  /** Decodes a frame; `into` lets the hot path reuse one repr. */
  static parse(view: EthernetFrame, into?: EthernetRepr): EthernetRepr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    const repr = into ?? new EthernetRepr();
    repr.src = view.src;
    repr.dst = view.dst;
    if (view.vlanTagged) {
      repr.vlanId = view.vlanId;
      repr.vlanPcp = view.vlanPcp;
      repr.vlanDei = view.vlanDei;
    } else {
      repr.vlanId = undefined;
      repr.vlanPcp = 0;
      repr.vlanDei = false;
    }
    repr.etherType = view.payloadType;
    return repr;
  }

  /** The header length `emit` writes: 14, or 18 with a VLAN tag. */
  get headerLength(): number {
    return this.vlanId === undefined ? ETHERNET_HEADER_LENGTH : ETHERNET_VLAN_HEADER_LENGTH;
  }

  /** The frame length for a payload of `payloadLength` bytes (no minimum-length padding). */
  bufferLength(payloadLength: number): number {
    return this.headerLength + payloadLength;
  }

  /** Writes the header into a view already wrapped over at least `headerLength` bytes. */
  emit(view: EthernetFrame): void {
    view.dst = this.dst;
    view.src = this.src;
    if (this.vlanId === undefined) {
      view.etherType = this.etherType;
      return;
    }
    view.etherType = EtherType.Vlan;
    write16(
      view.bytes,
      view.offset + TCI,
      ((this.vlanPcp & 7) << 13) | (this.vlanDei ? 0x1000 : 0) | (this.vlanId & 0x0fff),
    );
    write16(view.bytes, view.offset + INNER_TYPE, this.etherType);
  }
}

function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}
