/**
 * ARP (RFC 826) for IPv4 over Ethernet: the `ArpPacket` view and the `ArpRepr`. Other hardware or
 * protocol types are refused as unsupported.
 *
 * @module
 */

import { readIpv4, readMac, writeIpv4, writeMac } from "./address.ts";
import { WireError } from "./error.ts";
import { WireView } from "./view.ts";

const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OPER = 6;
const SHA = 8;
const SPA = 14;
const THA = 18;
const TPA = 24;

/** The fixed part every ARP packet has, whatever its address types. */
const ARP_FIXED_LENGTH = 8;
/** The length of an IPv4-over-Ethernet ARP packet. */
export const ARP_PACKET_LENGTH = 28;
/** The hardware type of Ethernet (RFC 826, IANA "Hardware Types"). */
export const ARP_HARDWARE_ETHERNET = 1;
/** The protocol type of IPv4 (its EtherType). */
const ARP_PROTOCOL_IPV4 = 0x0800;

/** ARP operation codes (RFC 826; 3 and 4 are RARP, RFC 903). */
export const ArpOperation = {
  Request: 1,
  Reply: 2,
} as const;

/** A view over an ARP packet in `bytes[offset .. offset + length)` (Ethernet padding may follow it). */
export class ArpPacket extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Validates the address types (Ethernet/IPv4 only) and that the addresses fit in the region. */
  check(): WireError | undefined {
    const region = this.checkRegion("Cannot parse ARP packet");
    if (region !== undefined) return region;
    if (this.length < ARP_FIXED_LENGTH) {
      return new WireError("truncated", `Cannot parse ARP packet: ${this.length} bytes is below 8`);
    }
    if (
      this.hardwareType !== ARP_HARDWARE_ETHERNET || this.protocolType !== ARP_PROTOCOL_IPV4 ||
      this.hardwareLength !== 6 || this.protocolLength !== 4
    ) {
      return new WireError(
        "unsupported",
        `Cannot parse ARP packet: hardware type ${this.hardwareType} (length ${this.hardwareLength}) ` +
          `with protocol type 0x${
            this.protocolType.toString(16)
          } (length ${this.protocolLength}) ` +
          "is not Ethernet with IPv4",
      );
    }
    if (this.length < ARP_PACKET_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse ARP packet: ${this.length} bytes is below the 28 that Ethernet/IPv4 needs`,
      );
    }
    return undefined;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): ArpPacket | WireError {
    const view = new ArpPacket(bytes, offset, length);
    return view.check() ?? view;
  }

  /** The hardware type (1 for Ethernet). */
  get hardwareType(): number {
    return read16(this.bytes, this.offset + HTYPE);
  }
  set hardwareType(value: number) {
    write16(this.bytes, this.offset + HTYPE, value);
  }

  /** The protocol type (0x0800 for IPv4). */
  get protocolType(): number {
    return read16(this.bytes, this.offset + PTYPE);
  }
  set protocolType(value: number) {
    write16(this.bytes, this.offset + PTYPE, value);
  }

  /** The hardware address length (6 for Ethernet). */
  get hardwareLength(): number {
    return this.bytes[this.offset + HLEN];
  }
  set hardwareLength(value: number) {
    this.bytes[this.offset + HLEN] = value;
  }

  /** The protocol address length (4 for IPv4). */
  get protocolLength(): number {
    return this.bytes[this.offset + PLEN];
  }
  set protocolLength(value: number) {
    this.bytes[this.offset + PLEN] = value;
  }

  /** The operation, one of `ArpOperation`. */
  get operation(): number {
    return read16(this.bytes, this.offset + OPER);
  }
  set operation(value: number) {
    write16(this.bytes, this.offset + OPER, value);
  }

  /** The sender's MAC address. */
  get senderMac(): number {
    return readMac(this.bytes, this.offset + SHA);
  }
  set senderMac(mac: number) {
    writeMac(this.bytes, this.offset + SHA, mac);
  }

  /** The sender's IPv4 address. */
  get senderIp(): number {
    return readIpv4(this.bytes, this.offset + SPA);
  }
  set senderIp(address: number) {
    writeIpv4(this.bytes, this.offset + SPA, address);
  }

  /** The target's MAC address (zero in a request). */
  get targetMac(): number {
    return readMac(this.bytes, this.offset + THA);
  }
  set targetMac(mac: number) {
    writeMac(this.bytes, this.offset + THA, mac);
  }

  /** The target's IPv4 address. */
  get targetIp(): number {
    return readIpv4(this.bytes, this.offset + TPA);
  }
  set targetIp(address: number) {
    writeIpv4(this.bytes, this.offset + TPA, address);
  }
}

/** A decoded IPv4-over-Ethernet ARP request or reply. */
export class ArpRepr {
  /** `ArpOperation.Request` or `ArpOperation.Reply`. */
  operation: number = ArpOperation.Request;
  /** The sender's MAC address. */
  senderMac = 0;
  /** The sender's IPv4 address (0.0.0.0 in an RFC 5227 probe). */
  senderIp = 0;
  /** The target's MAC address (zero in a request). */
  targetMac = 0;
  /** The target's IPv4 address. */
  targetIp = 0;

  /** Decodes a packet; operations other than request and reply are unsupported. */
  static parse(view: ArpPacket, into?: ArpRepr): ArpRepr | WireError {
    const error = view.check();
    if (error !== undefined) return error;
    const operation = view.operation;
    if (operation !== ArpOperation.Request && operation !== ArpOperation.Reply) {
      return new WireError(
        "unsupported",
        `Cannot parse ARP packet: operation ${operation} is neither request nor reply`,
      );
    }
    const repr = into ?? new ArpRepr();
    repr.operation = operation;
    repr.senderMac = view.senderMac;
    repr.senderIp = view.senderIp;
    repr.targetMac = view.targetMac;
    repr.targetIp = view.targetIp;
    return repr;
  }

  /** The bytes `emit` writes: 28. */
  get headerLength(): number {
    return ARP_PACKET_LENGTH;
  }

  /** The bytes `emit` needs (ARP has no payload). */
  bufferLength(): number {
    return ARP_PACKET_LENGTH;
  }

  /** Writes the packet into a view already wrapped over at least 28 bytes. */
  emit(view: ArpPacket): void {
    view.hardwareType = ARP_HARDWARE_ETHERNET;
    view.protocolType = ARP_PROTOCOL_IPV4;
    view.hardwareLength = 6;
    view.protocolLength = 4;
    view.operation = this.operation;
    view.senderMac = this.senderMac;
    view.senderIp = this.senderIp;
    view.targetMac = this.targetMac;
    view.targetIp = this.targetIp;
  }
}

function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}
