/**
 * Neighbor Discovery messages (RFC 4861 §4): router solicitation and advertisement, neighbor
 * solicitation and advertisement, and redirect, with the options a host uses (§4.6: source and target
 * link-layer address, prefix information, MTU; a redirected header is skipped). One `NdpRepr` holds every
 * kind's fields. Parsing checks the lengths and option rules of §6.1.1, §6.1.2, §7.1.1, §7.1.2 and
 * §8.1; the hop limit of 255 and the checksum are checked by the layer, which has the IPv6 header.
 *
 * @module
 */

import { readMac, writeMac } from "./address.ts";
import { WireError } from "./error.ts";
import { type Icmpv6Packet, Icmpv6Type } from "./icmpv6.ts";
import { Ipv6Address } from "./ipv6_address.ts";

/** Option types (RFC 4861 §4.6, RFC 8106 for RDNSS). */
export const NdpOption = {
  SourceLinkLayer: 1,
  TargetLinkLayer: 2,
  PrefixInfo: 3,
  RedirectedHeader: 4,
  Mtu: 5,
  Rdnss: 25,
} as const;

/** A prefix information option (RFC 4861 §4.6.2); lifetimes in seconds, 0xffffffff is infinity. */
export interface NdpPrefixInfo {
  prefix: Ipv6Address;
  prefixLength: number;
  /** L: the prefix is on-link. */
  onLink: boolean;
  /** A: the prefix may be used for SLAAC. */
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
}

/** Where options start in each message type, i.e. the fixed part's length. */
function fixedLength(type: number): number {
  switch (type) {
    case Icmpv6Type.RouterSolicit:
      return 8;
    case Icmpv6Type.RouterAdvert:
      return 16;
    case Icmpv6Type.NeighborSolicit:
    case Icmpv6Type.NeighborAdvert:
      return 24;
    case Icmpv6Type.Redirect:
      return 40;
    default:
      return -1;
  }
}

/** True for the five NDP message types. */
export function isNdpType(type: number): boolean {
  return type >= Icmpv6Type.RouterSolicit && type <= Icmpv6Type.Redirect;
}

/** A decoded NDP message; fields not used by its type keep their defaults. */
export class NdpRepr {
  /** The ICMPv6 type, 133..137. */
  type: number = Icmpv6Type.NeighborSolicit;
  /** RA: the hop limit hosts should use (0: unspecified). */
  curHopLimit = 0;
  /** RA: M, addresses from DHCPv6. */
  managed = false;
  /** RA: O, other configuration from DHCPv6. */
  other = false;
  /** RA: the default router preference (RFC 4191 §2.2: 1 high, 0 medium, 3 low). */
  routerPreference = 0;
  /** RA: seconds this router is a default router (0: not one). */
  routerLifetime = 0;
  /** RA: reachable time in ms (0: unspecified). */
  reachableTime = 0;
  /** RA: retransmission timer in ms (0: unspecified). */
  retransTimer = 0;
  /** NS/NA/redirect: the target address. */
  target: Ipv6Address = new Ipv6Address(0, 0, 0, 0);
  /** Redirect: the destination being redirected. */
  destination: Ipv6Address = new Ipv6Address(0, 0, 0, 0);
  /** NA: R, the sender is a router. */
  router = false;
  /** NA: S, an answer to a solicitation. */
  solicited = false;
  /** NA: O, override an existing cache entry. */
  override = false;
  /** The source link-layer address option, if present. */
  sourceMac: number | undefined = undefined;
  /** The target link-layer address option, if present. */
  targetMac: number | undefined = undefined;
  /** RA: the MTU option, if present. */
  mtu: number | undefined = undefined;
  /** RA: prefix information options. */
  prefixes: NdpPrefixInfo[] = [];
  /** RA: recursive DNS servers (RFC 8106 §5.1). */
  dnsServers: Ipv6Address[] = [];
  /** RA: seconds the DNS servers may be used (0: no longer). */
  dnsLifetime = 0;

  /** Decodes an NDP message from an ICMPv6 view (checksum not verified here). */
  static parse(view: Icmpv6Packet, into?: NdpRepr): NdpRepr | WireError {
    const bytes = view.bytes;
    const at = view.offset;
    const type = view.type;
    const fixed = fixedLength(type);
    if (fixed < 0) {
      return new WireError("unsupported", `Cannot parse NDP message: type ${type} is not NDP`);
    }
    if (view.length < fixed) {
      return new WireError(
        "truncated",
        `Cannot parse NDP message: type ${type} needs ${fixed} bytes, got ${view.length}`,
      );
    }
    if (view.code !== 0) {
      return new WireError("malformed", `Cannot parse NDP message: code ${view.code} is not 0`);
    }
    const repr = into ?? new NdpRepr();
    repr.#reset(type);
    if (type === Icmpv6Type.RouterAdvert) {
      repr.curHopLimit = bytes[at + 4];
      repr.managed = (bytes[at + 5] & 0x80) !== 0;
      repr.other = (bytes[at + 5] & 0x40) !== 0;
      repr.routerPreference = (bytes[at + 5] >>> 3) & 3;
      repr.routerLifetime = read16(bytes, at + 6);
      repr.reachableTime = read32(bytes, at + 8);
      repr.retransTimer = read32(bytes, at + 12);
    } else if (type !== Icmpv6Type.RouterSolicit) {
      repr.target = Ipv6Address.read(bytes, at + 8);
      if (repr.target.isMulticast && type !== Icmpv6Type.Redirect) {
        return new WireError("malformed", "Cannot parse NDP message: multicast target");
      }
      if (type === Icmpv6Type.NeighborAdvert) {
        repr.router = (bytes[at + 4] & 0x80) !== 0;
        repr.solicited = (bytes[at + 4] & 0x40) !== 0;
        repr.override = (bytes[at + 4] & 0x20) !== 0;
      }
      if (type === Icmpv6Type.Redirect) repr.destination = Ipv6Address.read(bytes, at + 24);
    }
    const end = at + view.length;
    for (let i = at + fixed; i < end;) {
      if (end - i < 2) {
        return new WireError("truncated", "Cannot parse NDP option: 1 byte left");
      }
      const optType = bytes[i];
      const optLength = bytes[i + 1] * 8;
      // RFC 4861 §4.6: a zero length must make the whole message be discarded.
      if (optLength === 0) {
        return new WireError("malformed", `Cannot parse NDP option ${optType}: length 0`);
      }
      if (i + optLength > end) {
        return new WireError(
          "truncated",
          `Cannot parse NDP option ${optType}: length ${optLength} is beyond the ${
            end - i
          } bytes left`,
        );
      }
      switch (optType) {
        case NdpOption.SourceLinkLayer:
          repr.sourceMac = readMac(bytes, i + 2);
          break;
        case NdpOption.TargetLinkLayer:
          repr.targetMac = readMac(bytes, i + 2);
          break;
        case NdpOption.Mtu:
          repr.mtu = read32(bytes, i + 4);
          break;
        case NdpOption.PrefixInfo:
          if (optLength !== 32) {
            return new WireError(
              "malformed",
              `Cannot parse NDP prefix option: length ${optLength} is not 32`,
            );
          }
          repr.prefixes.push({
            prefixLength: bytes[i + 2],
            onLink: (bytes[i + 3] & 0x80) !== 0,
            autonomous: (bytes[i + 3] & 0x40) !== 0,
            validLifetime: read32(bytes, i + 4),
            preferredLifetime: read32(bytes, i + 8),
            prefix: Ipv6Address.read(bytes, i + 16),
          });
          break;
        case NdpOption.Rdnss:
          // RFC 8106 §5.1: at least one address, so a length of 3 or more units, odd.
          if (optLength < 24 || (optLength - 8) % 16 !== 0) {
            return new WireError(
              "malformed",
              `Cannot parse NDP RDNSS option: length ${optLength} holds no whole addresses`,
            );
          }
          repr.dnsLifetime = read32(bytes, i + 4);
          for (let a = i + 8; a < i + optLength; a += 16) {
            repr.dnsServers.push(Ipv6Address.read(bytes, a));
          }
          break;
        default:
          // RFC 4861 §4.6: unrecognised options are skipped.
          break;
      }
      i += optLength;
    }
    // RFC 4861 §6.1.1, §7.1.1: a message from :: must not carry a source link-layer address; that is
    // checked by the layer, which knows the source.
    return repr;
  }

  /** The message length `emit` writes, options included. */
  get bufferLength(): number {
    let length = fixedLength(this.type);
    if (this.sourceMac !== undefined) length += 8;
    if (this.targetMac !== undefined) length += 8;
    if (this.mtu !== undefined) length += 8;
    length += 32 * this.prefixes.length;
    if (this.dnsServers.length > 0) length += 8 + 16 * this.dnsServers.length;
    return length;
  }

  /** Writes the message and its options into a view wrapped over `bufferLength` bytes, then the checksum. */
  emit(view: Icmpv6Packet, src: Ipv6Address, dst: Ipv6Address): void {
    const bytes = view.bytes;
    const at = view.offset;
    const fixed = fixedLength(this.type);
    bytes.fill(0, at, at + fixed);
    bytes[at] = this.type;
    if (this.type === Icmpv6Type.RouterAdvert) {
      bytes[at + 4] = this.curHopLimit;
      bytes[at + 5] = (this.managed ? 0x80 : 0) | (this.other ? 0x40 : 0) |
        ((this.routerPreference & 3) << 3);
      write16(bytes, at + 6, this.routerLifetime);
      write32(bytes, at + 8, this.reachableTime);
      write32(bytes, at + 12, this.retransTimer);
    } else if (this.type !== Icmpv6Type.RouterSolicit) {
      this.target.write(bytes, at + 8);
      if (this.type === Icmpv6Type.NeighborAdvert) {
        bytes[at + 4] = (this.router ? 0x80 : 0) | (this.solicited ? 0x40 : 0) |
          (this.override ? 0x20 : 0);
      }
      if (this.type === Icmpv6Type.Redirect) this.destination.write(bytes, at + 24);
    }
    let i = at + fixed;
    if (this.sourceMac !== undefined) {
      bytes[i] = NdpOption.SourceLinkLayer;
      bytes[i + 1] = 1;
      writeMac(bytes, i + 2, this.sourceMac);
      i += 8;
    }
    if (this.targetMac !== undefined) {
      bytes[i] = NdpOption.TargetLinkLayer;
      bytes[i + 1] = 1;
      writeMac(bytes, i + 2, this.targetMac);
      i += 8;
    }
    if (this.mtu !== undefined) {
      bytes[i] = NdpOption.Mtu;
      bytes[i + 1] = 1;
      write16(bytes, i + 2, 0);
      write32(bytes, i + 4, this.mtu);
      i += 8;
    }
    for (const p of this.prefixes) {
      bytes.fill(0, i, i + 32);
      bytes[i] = NdpOption.PrefixInfo;
      bytes[i + 1] = 4;
      bytes[i + 2] = p.prefixLength;
      bytes[i + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
      write32(bytes, i + 4, p.validLifetime);
      write32(bytes, i + 8, p.preferredLifetime);
      p.prefix.write(bytes, i + 16);
      i += 32;
    }
    if (this.dnsServers.length > 0) {
      bytes[i] = NdpOption.Rdnss;
      bytes[i + 1] = 1 + 2 * this.dnsServers.length;
      write16(bytes, i + 2, 0);
      write32(bytes, i + 4, this.dnsLifetime);
      i += 8;
      for (const server of this.dnsServers) {
        server.write(bytes, i);
        i += 16;
      }
    }
    view.fillChecksum(src, dst);
  }

  #reset(type: number): void {
    this.type = type;
    this.target = UNSPECIFIED;
    this.destination = UNSPECIFIED;
    this.curHopLimit = 0;
    this.managed = false;
    this.other = false;
    this.routerPreference = 0;
    this.routerLifetime = 0;
    this.reachableTime = 0;
    this.retransTimer = 0;
    this.router = false;
    this.solicited = false;
    this.override = false;
    this.sourceMac = undefined;
    this.targetMac = undefined;
    this.mtu = undefined;
    this.prefixes = [];
    this.dnsServers = [];
    this.dnsLifetime = 0;
  }
}

const UNSPECIFIED = new Ipv6Address(0, 0, 0, 0);

function read16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function read32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value;
}

function write32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = value >>> 16;
  bytes[at + 2] = value >>> 8;
  bytes[at + 3] = value;
}
