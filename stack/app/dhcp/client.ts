/**
 * A DHCPv4 client (RFC 2131 §4.4): INIT → SELECTING → REQUESTING → BOUND → RENEWING → REBINDING, with
 * INIT-REBOOT when a previous address is known. It is a UDP app on port 68 driven by `poll(now)` and
 * `pollAt(now)`; it never reads a clock. It reports leases through callbacks and leaves applying them to
 * the caller (see `lease.ts`).
 *
 * @module
 */

import { IPV4_BROADCAST } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import type { Rng } from "../../util/rng.ts";
import {
  BootpOp,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DhcpMessageType,
  DhcpOption,
  DhcpPacket,
  DhcpRepr,
} from "./wire.ts";

/** What the client needs from a UDP layer; `Interface.udp` provides exactly this. */
export interface DhcpUdp {
  /** Binds `port`; the handler gets each datagram's source and payload, valid during the call. */
  bind(
    port: number,
    handler: (
      d: { src: number; bytes: Uint8Array; offset: number; length: number },
      now: number,
    ) => void,
  ): { close(): void };
  /**
   * Sends one datagram from `src` (0.0.0.0 before an address is configured, RFC 2131 §4.1); the result
   * is ignored because retransmission covers losses.
   */
  send(srcPort: number, dst: number, dstPort: number, data: Uint8Array, src?: number): unknown;
}

/** A lease the client holds. Times are on the caller's clock, in ms; Infinity for infinite leases. */
export interface DhcpLease {
  /** The assigned address. */
  address: number;
  /** The prefix length from the subnet mask option (classful when the server sent none). */
  prefixLength: number;
  /** The first router, if any. */
  router: number | undefined;
  /** All DNS servers, in preference order. */
  dnsServers: number[];
  /** The server that granted the lease (option 54). */
  serverId: number;
  /** Lease duration in seconds (0xffffffff is infinite). */
  leaseTimeS: number;
  /** When the lease started: the time the answered REQUEST was sent (RFC 2131 §4.4.1). */
  acquiredAt: number;
  /** T1: when the client starts renewing with its server. */
  renewAt: number;
  /** T2: when the client starts rebinding with any server. */
  rebindAt: number;
  /** When the lease ends and the address must go. */
  expiresAt: number;
}

/** The client's states (RFC 2131 figure 5). */
export type DhcpState =
  | "init"
  | "selecting"
  | "requesting"
  | "bound"
  | "renewing"
  | "rebinding"
  | "init-reboot"
  | "rebooting"
  | "stopped";

/** Why a lease ended. */
export type DhcpLossReason = "expired" | "nak" | "released" | "declined";

/** Options of a `DhcpClient`. */
export interface DhcpClientOptions {
  /** The interface's MAC (chaddr and client identifier). */
  mac: number;
  /** Source of transaction ids and retransmission jitter. */
  rng: Rng;
  /** Option 12, sent in DISCOVER and REQUEST. */
  hostname?: string;
  /** An address held before (for example across a reboot): starts in INIT-REBOOT asking for it. */
  previousAddress?: number;
  /** Upper bound of the random wait before the first DISCOVER (RFC 2131 §4.4.1 suggests 1–10 s). */
  initialDelayMs?: number;
  /** First retransmission timeout (RFC 2131 §4.1: 4 s). */
  retransmitMs?: number;
  /** Largest retransmission timeout (RFC 2131 §4.1: 64 s). */
  maxRetransmitMs?: number;
  /** Transmissions of a REQUEST in REQUESTING/REBOOTING before going back to INIT. */
  requestAttempts?: number;
  /** Called when a lease is obtained or extended. */
  onBound?: (lease: DhcpLease, now: number) => void;
  /** Called when the lease is lost; the caller removes the address. */
  onUnbound?: (lease: DhcpLease, reason: DhcpLossReason, now: number) => void;
}

/** Counters of a `DhcpClient`. */
export interface DhcpClientStats {
  txPackets: number;
  rxPackets: number;
  dropMalformed: number;
  dropNotForUs: number;
  dropUnexpected: number;
  offers: number;
  acks: number;
  naks: number;
  leasesExpired: number;
  [counter: string]: number;
}

/** RFC 2131 §4.4.5: never retransmit a renewing/rebinding REQUEST more often than once a minute. */
const MIN_RENEW_RETRANSMIT_MS = 60_000;
const INFINITE_LEASE = 0xffffffff;
/** RFC 2131 §3.1 step 5: wait at least ten seconds after a DECLINE before trying again. */
const DECLINE_BACKOFF_MS = 10_000;
const PARAMETERS = [
  DhcpOption.SubnetMask,
  DhcpOption.Router,
  DhcpOption.DnsServer,
  DhcpOption.LeaseTime,
  DhcpOption.RenewalTime,
  DhcpOption.RebindingTime,
];

/** An RFC 2131 DHCP client state machine bound to UDP port 68. */
export class DhcpClient {
  /** Counters. */
  readonly stats: DhcpClientStats = {
    txPackets: 0,
    rxPackets: 0,
    dropMalformed: 0,
    dropNotForUs: 0,
    dropUnexpected: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    leasesExpired: 0,
  };
  #udp: DhcpUdp;
  #binding: { close(): void } | undefined;
  #opts: Required<
    Omit<DhcpClientOptions, "hostname" | "previousAddress" | "onBound" | "onUnbound">
  >;
  #hostname: string | undefined;
  #onBound: DhcpClientOptions["onBound"];
  #onUnbound: DhcpClientOptions["onUnbound"];
  #state: DhcpState;
  #lease: DhcpLease | undefined;
  #xid = 0;
  /** The address asked for in INIT-REBOOT or SELECTING. */
  #wanted: number | undefined;
  /** The server chosen from an OFFER. */
  #serverId = 0;
  /** When the current exchange started (for `secs`). */
  #startedAt: number | undefined;
  /** When the latest REQUEST went out (the lease's start). */
  #requestSentAt = 0;
  #attempts = 0;
  #timeoutMs = 0;
  /** The next transmission or timer; undefined when waiting on nothing. */
  #deadline: number | undefined = undefined;
  #repr = new DhcpRepr();
  #rx = new DhcpRepr();
  #view = new DhcpPacket();
  #buf = new Uint8Array(576);

  /** Binds UDP port 68 on `udp` (throws if taken); the first `poll` starts acquisition. */
  constructor(udp: DhcpUdp, options: DhcpClientOptions) {
    this.#udp = udp;
    this.#opts = {
      mac: options.mac,
      rng: options.rng,
      initialDelayMs: options.initialDelayMs ?? 0,
      retransmitMs: options.retransmitMs ?? 4_000,
      maxRetransmitMs: options.maxRetransmitMs ?? 64_000,
      requestAttempts: options.requestAttempts ?? 4,
    };
    this.#hostname = options.hostname;
    this.#onBound = options.onBound;
    this.#onUnbound = options.onUnbound;
    this.#wanted = options.previousAddress;
    this.#state = this.#wanted === undefined ? "init" : "init-reboot";
    this.#binding = udp.bind(DHCP_CLIENT_PORT, (d, now) => this.receive(d, now));
  }

  /** The current state. */
  get state(): DhcpState {
    return this.#state;
  }

  /** The lease held (BOUND, RENEWING, REBINDING), if any. */
  get lease(): DhcpLease | undefined {
    return this.#lease;
  }

  /** The next time `poll` has work, or undefined. */
  pollAt(now: number): number | undefined {
    if (this.#state === "stopped") return undefined;
    if (this.#state === "init" || this.#state === "init-reboot") return this.#deadline ?? now;
    return this.#deadline;
  }

  /** Runs due timers: (re)transmissions, T1, T2 and lease expiry. Returns true when it did work. */
  poll(now: number): boolean {
    const s = this.#state;
    if (s === "stopped") return false;
    if (s === "init" || s === "init-reboot") {
      if (this.#deadline === undefined) {
        // RFC 2131 §4.4.1: a random wait desynchronises clients that start together.
        const delay = this.#opts.initialDelayMs * this.#opts.rng.next();
        this.#deadline = now + delay;
      }
      if (now < this.#deadline) return false;
      this.#startedAt = now;
      this.#xid = this.#opts.rng.nextU32();
      this.#attempts = 0;
      this.#timeoutMs = this.#opts.retransmitMs;
      this.#state = s === "init" ? "selecting" : "rebooting";
      this.#transmit(now);
      return true;
    }
    if (this.#deadline === undefined || now < this.#deadline) return false;
    const lease = this.#lease;
    if (lease && now >= lease.expiresAt) {
      this.#lose("expired", now);
      this.stats.leasesExpired++;
      return true;
    }
    switch (s) {
      case "selecting":
        this.#transmit(now);
        return true;
      case "requesting":
      case "rebooting":
        if (this.#attempts >= this.#opts.requestAttempts) {
          this.#restart(now);
          return true;
        }
        this.#transmit(now);
        return true;
      case "bound":
        if (!lease) return false;
        this.#state = now >= lease.rebindAt ? "rebinding" : "renewing";
        this.#beginExchange(now);
        this.#transmit(now);
        return true;
      case "renewing":
        if (lease && now >= lease.rebindAt) this.#state = "rebinding";
        this.#transmit(now);
        return true;
      case "rebinding":
        this.#transmit(now);
        return true;
    }
    return false;
  }

  /** Handles one datagram to port 68 (the UDP binding calls this). */
  receive(d: { bytes: Uint8Array; offset: number; length: number }, now: number): void {
    this.stats.rxPackets++;
    const r = DhcpRepr.parse(this.#view.wrap(d.bytes, d.offset, d.length), this.#rx);
    if (r instanceof WireError) {
      this.stats.dropMalformed++;
      return;
    }
    if (r.op !== BootpOp.Reply || r.xid !== this.#xid || r.chaddr !== this.#opts.mac) {
      this.stats.dropNotForUs++;
      return;
    }
    const s = this.#state;
    if (s === "selecting") {
      if (r.messageType !== DhcpMessageType.Offer || r.yiaddr === 0 || r.serverId === undefined) {
        this.stats.dropUnexpected++;
        return;
      }
      // The first acceptable offer wins (RFC 2131 §4.4.1 allows choosing among several).
      this.stats.offers++;
      this.#wanted = r.yiaddr;
      this.#serverId = r.serverId;
      this.#state = "requesting";
      this.#attempts = 0;
      this.#timeoutMs = this.#opts.retransmitMs;
      this.#transmit(now);
      return;
    }
    if (s !== "requesting" && s !== "rebooting" && s !== "renewing" && s !== "rebinding") {
      this.stats.dropUnexpected++;
      return;
    }
    if (r.messageType === DhcpMessageType.Nak) {
      // In REQUESTING only the chosen server may refuse; other servers' NAKs are not for this exchange.
      if (s === "requesting" && r.serverId !== undefined && r.serverId !== this.#serverId) {
        this.stats.dropUnexpected++;
        return;
      }
      this.stats.naks++;
      this.#wanted = undefined;
      if (this.#lease) this.#lose("nak", now);
      else this.#restart(now);
      return;
    }
    if (
      r.messageType !== DhcpMessageType.Ack || r.yiaddr === 0 || r.leaseTime === undefined ||
      (r.serverId === undefined && s !== "renewing")
    ) {
      this.stats.dropUnexpected++;
      return;
    }
    this.stats.acks++;
    this.#bind(r, now);
  }

  /** Gives the lease back (DHCPRELEASE, RFC 2131 §4.4.6) and stops; the caller removes the address. */
  release(now: number): void {
    const lease = this.#lease;
    if (lease) {
      const m = this.#message(DhcpMessageType.Release, now);
      m.ciaddr = lease.address;
      m.serverId = lease.serverId;
      m.parameterRequestList = [];
      m.hostname = undefined;
      this.#send(lease.serverId, m);
      this.#lease = undefined;
      this.#onUnbound?.(lease, "released", now);
    }
    this.close();
  }

  /**
   * Reports that the leased address is already in use (an ARP probe was answered): sends DHCPDECLINE
   * from 0.0.0.0, drops the lease and starts over after 10 s (RFC 2131 §3.1 step 5 and §4.4.1).
   */
  decline(now: number): void {
    const lease = this.#lease;
    if (!lease) return;
    this.#lease = undefined; // so that #send uses 0.0.0.0: the address is not ours to use
    const m = this.#message(DhcpMessageType.Decline, now);
    m.requestedIp = lease.address;
    m.serverId = lease.serverId;
    m.parameterRequestList = [];
    m.hostname = undefined;
    this.#send(IPV4_BROADCAST, m);
    this.#onUnbound?.(lease, "declined", now);
    this.#wanted = undefined;
    this.#startedAt = undefined;
    this.#state = "init";
    this.#deadline = now + DECLINE_BACKOFF_MS;
  }

  /** Unbinds port 68 and stops all timers. */
  close(): void {
    this.#binding?.close();
    this.#binding = undefined;
    this.#state = "stopped";
    this.#deadline = undefined;
  }

  #bind(r: DhcpRepr, now: number): void {
    const leaseS = r.leaseTime!;
    const start = this.#requestSentAt;
    let expiresAt = Infinity;
    let renewAt = Infinity;
    let rebindAt = Infinity;
    if (leaseS !== INFINITE_LEASE) {
      expiresAt = start + leaseS * 1000;
      let t1 = r.renewalTime ?? leaseS * 0.5;
      let t2 = r.rebindingTime ?? leaseS * 0.875;
      // RFC 2131 §4.4.5 needs T1 < T2 < lease; fall back to the defaults when a server gets it wrong.
      if (!(t1 < t2 && t2 < leaseS)) {
        t1 = leaseS * 0.5;
        t2 = leaseS * 0.875;
      }
      renewAt = start + t1 * 1000;
      rebindAt = start + t2 * 1000;
    }
    const previous = this.#lease;
    const lease: DhcpLease = {
      address: r.yiaddr,
      prefixLength: prefixFromMask(r.subnetMask, r.yiaddr),
      router: r.routers[0],
      dnsServers: r.dnsServers.slice(),
      serverId: r.serverId ?? previous?.serverId ?? this.#serverId,
      leaseTimeS: leaseS,
      acquiredAt: start,
      renewAt,
      rebindAt,
      expiresAt,
    };
    if (previous && previous.address !== lease.address) {
      this.#lease = undefined;
      this.#onUnbound?.(previous, "expired", now);
    }
    this.#lease = lease;
    this.#serverId = lease.serverId;
    this.#state = "bound";
    this.#deadline = renewAt === Infinity ? undefined : renewAt;
    this.#startedAt = undefined;
    this.#onBound?.(lease, now);
  }

  #lose(reason: DhcpLossReason, now: number): void {
    const lease = this.#lease;
    this.#lease = undefined;
    this.#wanted = undefined;
    if (lease) this.#onUnbound?.(lease, reason, now);
    this.#restart(now);
  }

  /** Back to INIT: the next poll starts a fresh DISCOVER. */
  #restart(now: number): void {
    this.#state = "init";
    this.#deadline = now;
    this.#startedAt = undefined;
    if (this.#lease) this.#lose("expired", now);
  }

  #beginExchange(now: number): void {
    this.#xid = this.#opts.rng.nextU32();
    this.#startedAt = now;
    this.#attempts = 0;
    this.#timeoutMs = this.#opts.retransmitMs;
  }

  /** Sends the message of the current state and schedules its retransmission. */
  #transmit(now: number): void {
    const s = this.#state;
    const lease = this.#lease;
    let dst = IPV4_BROADCAST;
    let m: DhcpRepr;
    if (s === "selecting") {
      m = this.#message(DhcpMessageType.Discover, now);
      m.requestedIp = this.#wanted;
    } else if (s === "requesting" || s === "rebooting") {
      // RFC 2131 §4.3.2 table 4: SELECTING carries the server id, INIT-REBOOT does not.
      m = this.#message(DhcpMessageType.Request, now);
      m.requestedIp = this.#wanted;
      if (s === "requesting") m.serverId = this.#serverId;
    } else {
      // RENEWING (unicast to the server) and REBINDING (broadcast): ciaddr, no server id/requested IP.
      m = this.#message(DhcpMessageType.Request, now);
      m.ciaddr = lease!.address;
      m.broadcast = false;
      if (s === "renewing") dst = lease!.serverId;
    }
    this.#send(dst, m);
    // Replies come within milliseconds while retransmissions are seconds apart, so the lease is counted
    // from the latest REQUEST (RFC 2131 §4.4.1 counts it from the request that was answered).
    if (s !== "selecting") this.#requestSentAt = now;
    this.#attempts++;
    this.#deadline = now + this.#nextTimeout(now);
  }

  #nextTimeout(now: number): number {
    const s = this.#state;
    const lease = this.#lease;
    if ((s === "renewing" || s === "rebinding") && lease) {
      // RFC 2131 §4.4.5: wait half the time left until T2 (renewing) or expiry (rebinding), at least
      // 60 s, but never past the next transition.
      const until = s === "renewing" ? lease.rebindAt : lease.expiresAt;
      const left = until - now;
      return left <= MIN_RENEW_RETRANSMIT_MS ? left : Math.max(MIN_RENEW_RETRANSMIT_MS, left / 2);
    }
    // RFC 2131 §4.1: 4 s, doubling to 64 s, each randomised by ±1 s.
    const base = this.#timeoutMs;
    this.#timeoutMs = Math.min(base * 2, this.#opts.maxRetransmitMs);
    const jitter = (this.#opts.rng.next() * 2 - 1) * Math.min(1000, base / 4);
    return base + jitter;
  }

  #message(type: number, now: number): DhcpRepr {
    const m = this.#repr;
    m.op = BootpOp.Request;
    m.xid = this.#xid;
    m.secs = this.#startedAt === undefined ? 0 : Math.floor((now - this.#startedAt) / 1000);
    m.broadcast = true; // we cannot receive unicast before the address is configured
    m.ciaddr =
      m.yiaddr =
      m.siaddr =
      m.giaddr =
        0;
    m.chaddr = this.#opts.mac;
    m.messageType = type;
    m.serverId =
      m.requestedIp =
      m.leaseTime =
      m.renewalTime =
      m.rebindingTime =
        undefined;
    m.subnetMask = m.message = undefined;
    m.maxMessageSize = 576;
    m.routers = [];
    m.dnsServers = [];
    m.parameterRequestList = PARAMETERS;
    m.clientId = clientIdFor(this.#opts.mac);
    m.hostname = this.#hostname;
    return m;
  }

  #send(dst: number, m: DhcpRepr): void {
    const length = m.bufferLength;
    const bytes = length <= this.#buf.length
      ? this.#buf.subarray(0, length)
      : new Uint8Array(length);
    m.emit(this.#view.wrap(bytes));
    this.stats.txPackets++;
    this.#udp.send(DHCP_CLIENT_PORT, dst, DHCP_SERVER_PORT, bytes, this.#lease?.address ?? 0);
  }
}

/** The prefix length of a contiguous mask; classful (RFC 791) when absent or not contiguous. */
export function prefixFromMask(mask: number | undefined, address: number): number {
  if (mask !== undefined) {
    const ones = Math.clz32(~mask);
    const rebuilt = ones === 0 ? 0 : (0xffffffff << (32 - ones)) >>> 0;
    if (rebuilt === mask >>> 0) return ones;
  }
  const first = address >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

/** Option 61 for an Ethernet MAC: type 1 then the six bytes (RFC 2132 §9.14). */
function clientIdFor(mac: number): Uint8Array {
  const id = new Uint8Array(7);
  id[0] = 1;
  for (let i = 0; i < 6; i++) id[1 + i] = Math.floor(mac / 2 ** (8 * (5 - i))) & 0xff;
  return id;
}
