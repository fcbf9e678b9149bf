/**
 * DHCPv4 messages (RFC 2131 §2, options from RFC 2132): a view over the BOOTP fixed fields and the
 * options area, and a repr with the options a client uses. Option overload (option 52) is ignored: the
 * `sname` and `file` fields are never read as options.
 *
 * @module
 */

import { readIpv4, readMac, writeIpv4, writeMac } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import { WireView } from "../../wire/view.ts";

/** The UDP port DHCP servers listen on. */
export const DHCP_SERVER_PORT = 67;
/** The UDP port DHCP clients listen on. */
export const DHCP_CLIENT_PORT = 68;
/** The magic cookie 99.130.83.99 that starts the options area (RFC 2131 §3). */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Bytes before the options: the BOOTP fixed fields and the magic cookie. */
export const DHCP_FIXED_LENGTH = 240;
/** BOOTP relays may drop messages shorter than this (RFC 1542 §2.1), so emit pads up to it. */
export const DHCP_MIN_LENGTH = 300;

/** BOOTP `op` values. */
export const BootpOp = {
  Request: 1,
  Reply: 2,
} as const;
/** One of the values of `BootpOp`. */
export type BootpOp = typeof BootpOp[keyof typeof BootpOp];

/** DHCP message types (option 53, RFC 2132 §9.6). */
export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
/** One of the values of `DhcpMessageType`. */
export type DhcpMessageType = typeof DhcpMessageType[keyof typeof DhcpMessageType];

/** Option codes this module decodes (RFC 2132). */
export const DhcpOption = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DnsServer: 6,
  Hostname: 12,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  ClientId: 61,
  End: 255,
} as const;

/** The broadcast bit of `flags` (RFC 2131 §2, figure 2). */
export const DHCP_FLAG_BROADCAST = 0x8000;

const OP = 0;
const HTYPE = 1;
const HLEN = 2;
const HOPS = 3;
const XID = 4;
const SECS = 8;
const FLAGS = 10;
const CIADDR = 12;
const YIADDR = 16;
const SIADDR = 20;
const GIADDR = 24;
const CHADDR = 28;
const COOKIE = 236;

const HTYPE_ETHERNET = 1;

/** A view over one DHCP message (the UDP payload). */
export class DhcpPacket extends WireView {
  /** Re-targets the view at another region, unchecked (one per view, see `WireView.wrap`). */
  wrap(bytes: Uint8Array, offset = 0, length = bytes.length - offset): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Wraps and checks a region. */
  static checked(
    bytes: Uint8Array,
    offset = 0,
    length = bytes.length - offset,
  ): DhcpPacket | WireError {
    const packet = new DhcpPacket(bytes, offset, length);
    return packet.check() ?? packet;
  }

  /**
   * Validates the fixed fields, the cookie and the option framing: every option fits, and an End option
   * is present (RFC 2131 §4.1: "the last option must always be the 'end' option").
   */
  check(): WireError | undefined {
    if (this.offset < 0 || this.offset + this.length > this.bytes.length) {
      return new WireError("truncated", "Cannot parse DHCP message: region exceeds the buffer");
    }
    if (this.length < DHCP_FIXED_LENGTH) {
      return new WireError(
        "truncated",
        `Cannot parse DHCP message: ${this.length} bytes is below ${DHCP_FIXED_LENGTH}`,
      );
    }
    if (this.magicCookie !== DHCP_MAGIC_COOKIE) {
      return new WireError("malformed", "Cannot parse DHCP message: bad magic cookie");
    }
    if (this.hlen > 16) {
      return new WireError("malformed", `Cannot parse DHCP message: hlen ${this.hlen} is above 16`);
    }
    const end = this.offset + this.length;
    let at = this.offset + DHCP_FIXED_LENGTH;
    while (at < end) {
      const code = this.bytes[at];
      if (code === DhcpOption.End) return undefined;
      if (code === DhcpOption.Pad) {
        at++;
        continue;
      }
      if (at + 2 > end || at + 2 + this.bytes[at + 1] > end) {
        return new WireError("truncated", `Cannot parse DHCP option ${code}: it runs past the end`);
      }
      at += 2 + this.bytes[at + 1];
    }
    return new WireError("truncated", "Cannot parse DHCP message: no end option");
  }

  /** BOOTP operation (1 request, 2 reply). */
  get op(): number {
    return this.bytes[this.offset + OP];
  }
  set op(v: number) {
    this.bytes[this.offset + OP] = v;
  }
  /** Hardware address type (1 is Ethernet). */
  get htype(): number {
    return this.bytes[this.offset + HTYPE];
  }
  set htype(v: number) {
    this.bytes[this.offset + HTYPE] = v;
  }
  /** Hardware address length (6 for Ethernet). */
  get hlen(): number {
    return this.bytes[this.offset + HLEN];
  }
  set hlen(v: number) {
    this.bytes[this.offset + HLEN] = v;
  }
  /** Relay hop count. */
  get hops(): number {
    return this.bytes[this.offset + HOPS];
  }
  set hops(v: number) {
    this.bytes[this.offset + HOPS] = v;
  }
  /** Transaction id chosen by the client. */
  get xid(): number {
    return readIpv4(this.bytes, this.offset + XID);
  }
  set xid(v: number) {
    writeIpv4(this.bytes, this.offset + XID, v);
  }
  /** Seconds since the client began acquisition or renewal. */
  get secs(): number {
    return (this.bytes[this.offset + SECS] << 8) | this.bytes[this.offset + SECS + 1];
  }
  set secs(v: number) {
    this.bytes[this.offset + SECS] = v >> 8;
    this.bytes[this.offset + SECS + 1] = v;
  }
  /** Flags; only the broadcast bit is defined. */
  get flags(): number {
    return (this.bytes[this.offset + FLAGS] << 8) | this.bytes[this.offset + FLAGS + 1];
  }
  set flags(v: number) {
    this.bytes[this.offset + FLAGS] = v >> 8;
    this.bytes[this.offset + FLAGS + 1] = v;
  }
  /** Client address, when the client already has one (renewing). */
  get ciaddr(): number {
    return readIpv4(this.bytes, this.offset + CIADDR);
  }
  set ciaddr(v: number) {
    writeIpv4(this.bytes, this.offset + CIADDR, v);
  }
  /** "Your" address: the address offered or assigned. */
  get yiaddr(): number {
    return readIpv4(this.bytes, this.offset + YIADDR);
  }
  set yiaddr(v: number) {
    writeIpv4(this.bytes, this.offset + YIADDR, v);
  }
  /** Next server (boot server) address. */
  get siaddr(): number {
    return readIpv4(this.bytes, this.offset + SIADDR);
  }
  set siaddr(v: number) {
    writeIpv4(this.bytes, this.offset + SIADDR, v);
  }
  /** Relay agent address. */
  get giaddr(): number {
    return readIpv4(this.bytes, this.offset + GIADDR);
  }
  set giaddr(v: number) {
    writeIpv4(this.bytes, this.offset + GIADDR, v);
  }
  /** Client hardware address as a 48-bit MAC (meaningful when htype is Ethernet). */
  get chaddr(): number {
    return readMac(this.bytes, this.offset + CHADDR);
  }
  set chaddr(v: number) {
    writeMac(this.bytes, this.offset + CHADDR, v);
  }
  /** The magic cookie; 0x63825363 in every DHCP message. */
  get magicCookie(): number {
    return readIpv4(this.bytes, this.offset + COOKIE);
  }
  set magicCookie(v: number) {
    writeIpv4(this.bytes, this.offset + COOKIE, v);
  }
  /** Absolute offset of the options area in `bytes`. */
  get optionsOffset(): number {
    return this.offset + DHCP_FIXED_LENGTH;
  }

  /**
   * Finds option `code` and returns the absolute offset of its value (its length is at `result - 1`), or
   * -1. Assumes `check()` passed.
   */
  findOption(code: number): number {
    const end = this.offset + this.length;
    let at = this.offset + DHCP_FIXED_LENGTH;
    while (at < end) {
      const c = this.bytes[at];
      if (c === DhcpOption.End) break;
      if (c === DhcpOption.Pad) {
        at++;
        continue;
      }
      if (c === code) return at + 2;
      at += 2 + this.bytes[at + 1];
    }
    return -1;
  }
}

/** The decoded fields of a DHCP message that a client sends or acts on. */
export class DhcpRepr {
  /** BOOTP operation. */
  op: number = BootpOp.Request;
  /** Transaction id. */
  xid = 0;
  /** Seconds elapsed since the client began. */
  secs = 0;
  /** True when the client asks the server to broadcast its reply. */
  broadcast = false;
  /** Client address (set while renewing or rebinding). */
  ciaddr = 0;
  /** Address offered or assigned. */
  yiaddr = 0;
  /** Next server address. */
  siaddr = 0;
  /** Relay agent address. */
  giaddr = 0;
  /** Client MAC. */
  chaddr = 0;
  /** Option 53; undefined for plain BOOTP. */
  messageType: number | undefined = undefined;
  /** Option 54. */
  serverId: number | undefined = undefined;
  /** Option 50. */
  requestedIp: number | undefined = undefined;
  /** Option 51, seconds (0xffffffff is infinite). */
  leaseTime: number | undefined = undefined;
  /** Option 58 (T1), seconds. */
  renewalTime: number | undefined = undefined;
  /** Option 59 (T2), seconds. */
  rebindingTime: number | undefined = undefined;
  /** Option 1. */
  subnetMask: number | undefined = undefined;
  /** Option 3, in preference order. */
  routers: number[] = [];
  /** Option 6, in preference order. */
  dnsServers: number[] = [];
  /** Option 55: option codes the client wants. */
  parameterRequestList: number[] = [];
  /** Option 61, raw (type byte first). */
  clientId: Uint8Array | undefined = undefined;
  /** Option 12. */
  hostname: string | undefined = undefined;
  /** Option 57. */
  maxMessageSize: number | undefined = undefined;
  /** Option 56: a server's explanation, such as the reason for a NAK. */
  message: string | undefined = undefined;

  /** Decodes a checked view; rejects options whose length is wrong for their type. */
  static parse(packet: DhcpPacket, into: DhcpRepr = new DhcpRepr()): DhcpRepr | WireError {
    const error = packet.check();
    if (error) return error;
    if (packet.htype !== HTYPE_ETHERNET || packet.hlen !== 6) {
      return new WireError(
        "unsupported",
        `Cannot parse DHCP message: hardware type ${packet.htype}/${packet.hlen} is not Ethernet`,
      );
    }
    const r = into;
    r.op = packet.op;
    r.xid = packet.xid;
    r.secs = packet.secs;
    r.broadcast = (packet.flags & DHCP_FLAG_BROADCAST) !== 0;
    r.ciaddr = packet.ciaddr;
    r.yiaddr = packet.yiaddr;
    r.siaddr = packet.siaddr;
    r.giaddr = packet.giaddr;
    r.chaddr = packet.chaddr;
    r.messageType =
      r.serverId =
      r.requestedIp =
      r.leaseTime =
        undefined;
    r.renewalTime =
      r.rebindingTime =
      r.subnetMask =
      r.maxMessageSize =
        undefined;
    r.clientId = r.hostname = r.message = undefined;
    r.routers = [];
    r.dnsServers = [];
    r.parameterRequestList = [];
    const b = packet.bytes;
    const end = packet.offset + packet.length;
    let at = packet.optionsOffset;
    while (at < end) {
      const code = b[at];
      if (code === DhcpOption.End) break;
      if (code === DhcpOption.Pad) {
        at++;
        continue;
      }
      const len = b[at + 1];
      const v = at + 2;
      const bad = optionError(code, len);
      if (bad) return bad;
      switch (code) {
        case DhcpOption.MessageType:
          r.messageType = b[v];
          break;
        case DhcpOption.ServerId:
          r.serverId = readIpv4(b, v);
          break;
        case DhcpOption.RequestedIp:
          r.requestedIp = readIpv4(b, v);
          break;
        case DhcpOption.LeaseTime:
          r.leaseTime = readIpv4(b, v);
          break;
        case DhcpOption.RenewalTime:
          r.renewalTime = readIpv4(b, v);
          break;
        case DhcpOption.RebindingTime:
          r.rebindingTime = readIpv4(b, v);
          break;
        case DhcpOption.SubnetMask:
          r.subnetMask = readIpv4(b, v);
          break;
        case DhcpOption.Router:
          for (let i = 0; i < len; i += 4) r.routers.push(readIpv4(b, v + i));
          break;
        case DhcpOption.DnsServer:
          for (let i = 0; i < len; i += 4) r.dnsServers.push(readIpv4(b, v + i));
          break;
        case DhcpOption.ParameterRequestList:
          for (let i = 0; i < len; i++) r.parameterRequestList.push(b[v + i]);
          break;
        case DhcpOption.ClientId:
          r.clientId = b.slice(v, v + len);
          break;
        case DhcpOption.Hostname:
          r.hostname = latin1(b, v, len);
          break;
        case DhcpOption.Message:
          r.message = latin1(b, v, len);
          break;
        case DhcpOption.MaxMessageSize:
          r.maxMessageSize = (b[v] << 8) | b[v + 1];
          break;
      }
      at = v + len;
    }
    return r;
  }

  /** Bytes of options `emit` writes, End included. */
  get optionsLength(): number {
    let n = 1; // End
    if (this.messageType !== undefined) n += 3;
    if (this.serverId !== undefined) n += 6;
    if (this.requestedIp !== undefined) n += 6;
    if (this.leaseTime !== undefined) n += 6;
    if (this.renewalTime !== undefined) n += 6;
    if (this.rebindingTime !== undefined) n += 6;
    if (this.subnetMask !== undefined) n += 6;
    if (this.routers.length > 0) n += 2 + 4 * this.routers.length;
    if (this.dnsServers.length > 0) n += 2 + 4 * this.dnsServers.length;
    if (this.parameterRequestList.length > 0) n += 2 + this.parameterRequestList.length;
    if (this.clientId !== undefined) n += 2 + this.clientId.length;
    if (this.hostname !== undefined) n += 2 + this.hostname.length;
    if (this.message !== undefined) n += 2 + this.message.length;
    if (this.maxMessageSize !== undefined) n += 4;
    return n;
  }

  /** The bytes `emit` writes: fixed fields, options, and padding up to the BOOTP minimum of 300. */
  get bufferLength(): number {
    return Math.max(DHCP_MIN_LENGTH, DHCP_FIXED_LENGTH + this.optionsLength);
  }

  /** Writes the message into `packet`, which must span at least `bufferLength` bytes. */
  emit(packet: DhcpPacket): void {
    const b = packet.bytes;
    const o = packet.offset;
    b.fill(0, o, o + packet.length);
    packet.op = this.op;
    packet.htype = HTYPE_ETHERNET;
    packet.hlen = 6;
    packet.xid = this.xid;
    packet.secs = Math.min(this.secs, 0xffff);
    packet.flags = this.broadcast ? DHCP_FLAG_BROADCAST : 0;
    packet.ciaddr = this.ciaddr;
    packet.yiaddr = this.yiaddr;
    packet.siaddr = this.siaddr;
    packet.giaddr = this.giaddr;
    packet.chaddr = this.chaddr;
    packet.magicCookie = DHCP_MAGIC_COOKIE;
    let at = packet.optionsOffset;
    const u8 = (code: number, v: number) => {
      b[at] = code;
      b[at + 1] = 1;
      b[at + 2] = v;
      at += 3;
    };
    const u32 = (code: number, v: number | undefined) => {
      if (v === undefined) return;
      b[at] = code;
      b[at + 1] = 4;
      writeIpv4(b, at + 2, v);
      at += 6;
    };
    const list = (code: number, values: number[]) => {
      if (values.length === 0) return;
      b[at] = code;
      b[at + 1] = 4 * values.length;
      for (let i = 0; i < values.length; i++) writeIpv4(b, at + 2 + 4 * i, values[i]);
      at += 2 + 4 * values.length;
    };
    const raw = (code: number, value: Uint8Array | string | undefined) => {
      if (value === undefined) return;
      b[at] = code;
      b[at + 1] = value.length;
      for (let i = 0; i < value.length; i++) {
        b[at + 2 + i] = typeof value === "string" ? value.charCodeAt(i) : value[i];
      }
      at += 2 + value.length;
    };
    // Message type first: RFC 2131 does not require it, but some servers only look there.
    if (this.messageType !== undefined) u8(DhcpOption.MessageType, this.messageType);
    raw(DhcpOption.ClientId, this.clientId);
    u32(DhcpOption.RequestedIp, this.requestedIp);
    u32(DhcpOption.ServerId, this.serverId);
    u32(DhcpOption.LeaseTime, this.leaseTime);
    u32(DhcpOption.RenewalTime, this.renewalTime);
    u32(DhcpOption.RebindingTime, this.rebindingTime);
    u32(DhcpOption.SubnetMask, this.subnetMask);
    list(DhcpOption.Router, this.routers);
    list(DhcpOption.DnsServer, this.dnsServers);
    if (this.parameterRequestList.length > 0) {
      b[at] = DhcpOption.ParameterRequestList;
      b[at + 1] = this.parameterRequestList.length;
      for (let i = 0; i < this.parameterRequestList.length; i++) {
        b[at + 2 + i] = this.parameterRequestList[i];
      }
      at += 2 + this.parameterRequestList.length;
    }
    if (this.maxMessageSize !== undefined) {
      b[at] = DhcpOption.MaxMessageSize;
      b[at + 1] = 2;
      b[at + 2] = this.maxMessageSize >> 8;
      b[at + 3] = this.maxMessageSize;
      at += 4;
    }
    raw(DhcpOption.Hostname, this.hostname);
    raw(DhcpOption.Message, this.message);
    b[at] = DhcpOption.End;
  }
}

/** The error for an option whose length does not fit its type (RFC 2132), or undefined. */
function optionError(code: number, len: number): WireError | undefined {
  let ok = true;
  switch (code) {
    case DhcpOption.MessageType:
      ok = len === 1;
      break;
    case DhcpOption.SubnetMask:
    case DhcpOption.ServerId:
    case DhcpOption.RequestedIp:
    case DhcpOption.LeaseTime:
    case DhcpOption.RenewalTime:
    case DhcpOption.RebindingTime:
      ok = len === 4;
      break;
    case DhcpOption.Router:
    case DhcpOption.DnsServer:
      ok = len >= 4 && len % 4 === 0;
      break;
    case DhcpOption.MaxMessageSize:
      ok = len === 2;
      break;
    case DhcpOption.ClientId:
      ok = len >= 2;
      break;
    case DhcpOption.Hostname:
    case DhcpOption.ParameterRequestList:
    case DhcpOption.Message:
      ok = len >= 1;
      break;
  }
  return ok
    ? undefined
    : new WireError("malformed", `Cannot parse DHCP option ${code}: length ${len} is invalid`);
}

function latin1(bytes: Uint8Array, at: number, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += String.fromCharCode(bytes[at + i]);
  return s;
}
