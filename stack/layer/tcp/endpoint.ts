/**
 * The TCP endpoint: the transport the IPv4 layer hands segments to. It maps four-tuples to slot keys of
 * connections, answers segments for listeners (backlog, SYN cookies) and for nothing (RST), delivers
 * `open`/`in`/`stray` events to the app, and on `poll` transmits what is due and runs the connections'
 * deadlines from a timer heap, so `pollAt` is cheap even with many connections.
 *
 * @module
 */

import { Rng } from "../../util/rng.ts";
import { seqAdd } from "../../wire/seq.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "../../wire/tcp.ts";
import { WireError } from "../../wire/error.ts";
import { resolveTcpConfig, type TcpConfig } from "./config.ts";
import { ConnEvent, TcpConnection, type TcpHost } from "./connection.ts";
import { ControlQueue } from "./control_queue.ts";
import type { TcpEvent, TcpHandler, TcpInEvent, TcpOpenEvent, TcpStrayEvent } from "./events.ts";
import type { TcpIpIncoming, TcpIpSender } from "./ip.ts";
import { IsnGenerator } from "./isn.ts";
import { TcpListenerHandle } from "./listener.ts";
import { windowScaleFor } from "./options.ts";
import { SegmentTx, type TcpChecksumMode } from "./segment_tx.ts";
import { SlotMap } from "./slot_map.ts";
import { TcpState } from "./state.ts";
import { newTcpStats, type TcpStats } from "./stats.ts";
import { cookieTsVal, decodeTsOptions, SynCookies } from "./syn_cookie.ts";
import { TimerHeap } from "./timer_heap.ts";
import { FourTupleMap } from "./tuple_map.ts";

/** Options of a `TcpEndpoint`. */
export interface TcpEndpointOptions {
  /** Randomness for ephemeral ports and timestamp offsets (seed it in tests). */
  rng?: Rng;
  /** Default settings of every connection. */
  config?: Partial<TcpConfig>;
  /** The app's default handler. */
  handler?: TcpHandler;
  /** 16-byte secret for RFC 6528 ISNs; random when unset. */
  isnKey?: Uint8Array;
  /** 16-byte secret for SYN cookies; random when unset. */
  cookieKey?: Uint8Array;
  /** Answer SYNs beyond a full backlog with SYN cookies (RFC 4987); default true. */
  synCookies?: boolean;
  /** How outgoing checksums are written; "pseudo" for NICs with checksum offload. */
  checksum?: TcpChecksumMode;
  /** Verify incoming checksums (false when the NIC already did). */
  verifyChecksum?: boolean;
  /** The NIC's TCP segmentation offload (`NicCaps.tsoMaxBytes`); 0 or unset sends MSS-sized segments. */
  tsoMaxBytes?: number;
  /** Challenge ACKs per second and connection (RFC 5961 §7); default 100. */
  challengeAckLimit?: number;
  /** Most connections in every state but LISTEN and CLOSED, TIME-WAIT included; default 65536. */
  maxConnections?: number;
}

/** Options of `TcpEndpoint.connect`. */
export interface TcpEndpointConnectOptions {
  /** Our address; when unset, the IP layer's source address towards the peer, chosen at the next poll. */
  localAddr?: number;
  /** Our port; an ephemeral port when unset. */
  localPort?: number;
  /** The connection's handler. */
  handler?: TcpHandler;
  /** Settings that differ from the endpoint's. */
  config?: Partial<TcpConfig>;
}

/** Options of `TcpEndpoint.listen`. */
export interface TcpEndpointListenOptions {
  /** Accept only on this local address (default: any). */
  localAddr?: number;
  /** Half-open plus unaccepted connections before SYN cookies take over (default 128). */
  backlog?: number;
  /** Receives the listener's `open` events. */
  handler?: TcpHandler;
  /** Settings of the accepted connections. */
  config?: Partial<TcpConfig>;
}

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 16384;

/** A TCP layer: connections, listeners, and the events between them and the app. */
export class TcpEndpoint {
  /** Counters. */
  readonly stats: TcpStats = newTcpStats();
  /** The default handler for events whose connection or listener has none. */
  handler: TcpHandler | undefined;
  #config: TcpConfig;
  #rng: Rng;
  #isn: IsnGenerator;
  #cookies: SynCookies | undefined;
  #verify: boolean;
  #tx: SegmentTx;
  #slots = new SlotMap<TcpConnection>();
  #tuples = new FourTupleMap();
  #listeners = new Map<number, TcpListenerHandle>();
  #listenerConfig = new Map<number, TcpConfig>();
  #heap = new TimerHeap();
  #ready: TcpConnection[] = [];
  #unbound: TcpConnection[] = [];
  #senders: TcpConnection[] = [];
  #control = new ControlQueue();
  #rxView = new TcpPacket();
  #rxRepr = new TcpRepr();
  #host: TcpHost;
  #openEvent: { kind: "open"; listener: TcpListenerHandle };
  #inEvent: { kind: "in"; conn: TcpConnection | undefined } = { kind: "in", conn: undefined };
  #strayEvent: TcpStrayEvent = {
    kind: "stray",
    src: 0,
    dst: 0,
    segment: this.#rxRepr,
    bytes: new Uint8Array(0),
  };
  #ownMss = 1460;
  #cookieTsOffset: number;
  #maxConnections: number;

  /** Creates an endpoint; attach it to an interface with `iface.attach(6, endpoint)`. */
  constructor(options: TcpEndpointOptions = {}) {
    this.#config = resolveTcpConfig(options.config);
    this.#rng = options.rng ?? Rng.fromCrypto();
    this.#isn = new IsnGenerator(options.isnKey);
    this.#cookies = options.synCookies === false ? undefined : new SynCookies(options.cookieKey);
    this.#verify = options.verifyChecksum ?? true;
    this.#maxConnections = options.maxConnections ?? 65536;
    this.#tx = new SegmentTx(options.checksum ?? "full", options.tsoMaxBytes ?? 0);
    this.handler = options.handler;
    this.#cookieTsOffset = this.#rng.nextU32();
    this.#openEvent = { kind: "open", listener: undefined as unknown as TcpListenerHandle };
    this.#host = {
      tx: this.#tx,
      stats: this.stats,
      ready: (conn) => this.#markReady(conn),
      control: (la, lp, ra, rp, seq, ack, flags) =>
        this.#queueControl(la, lp, ra, rp, seq, ack, flags),
      challengeAckLimit: options.challengeAckLimit ?? 100,
    };
  }

  /** Entries in the timer heap, stale ones included (for tests and diagnostics). */
  get timerEntries(): number {
    return this.#heap.length;
  }

  /** How many connections exist (every state but LISTEN and CLOSED). */
  get connectionCount(): number {
    return this.#slots.size;
  }

  /** The connection under a slot key, if it still exists. */
  get(key: number): TcpConnection | undefined {
    return this.#slots.get(key);
  }

  /** The connection of a four-tuple, if any. */
  find(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
  ): TcpConnection | undefined {
    const key = this.#tuples.get(localAddr, localPort, remoteAddr, remotePort);
    return key === undefined ? undefined : this.#slots.get(key);
  }

  /** Every connection. */
  connections(): IterableIterator<TcpConnection> {
    return this.#slots.values();
  }

  /** Opens a listening port (passive OPEN); throws if the port already listens. */
  listen(port: number, options: TcpEndpointListenOptions = {}): TcpListenerHandle {
    if (!(port > 0 && port < 65536)) throw new RangeError(`Invalid TCP port ${port}`);
    if (this.#listeners.has(port)) throw new Error(`TCP port ${port} is already listening`);
    const listener = new TcpListenerHandle(
      port,
      options.localAddr ?? 0,
      options.backlog ?? 128,
      options.handler,
      (l) => {
        if (this.#listeners.get(l.port) === l) {
          this.#listeners.delete(l.port);
          this.#listenerConfig.delete(l.port);
        }
      },
    );
    this.#listeners.set(port, listener);
    this.#listenerConfig.set(port, resolveTcpConfig(options.config, this.#config));
    return listener;
  }

  /** Opens a connection (active OPEN); the SYN goes out on the next poll. */
  connect(
    remoteAddr: number,
    remotePort: number,
    options: TcpEndpointConnectOptions = {},
  ): TcpConnection {
    if (!(remotePort > 0 && remotePort < 65536)) {
      throw new RangeError(`Invalid TCP port ${remotePort}`);
    }
    const config = resolveTcpConfig(options.config, this.#config);
    const conn = new TcpConnection(
      this.#host,
      config,
      options.localAddr ?? 0,
      options.localPort ?? 0,
      remoteAddr >>> 0,
      remotePort,
      this.#rng.nextU32(),
    );
    conn.handler = options.handler;
    conn.accepted = true;
    conn.state = TcpState.SynSent; // until bound at the next poll, it waits like a SYN in flight
    this.stats.activeOpens++;
    if (options.localAddr !== undefined) this.#bind(conn, 0);
    else this.#unbound.push(conn);
    return conn;
  }

  /** Asks for `handler.send(conn)` calls during polls until the handler returns false. */
  requestSend(conn: TcpConnection): void {
    if (!this.#senders.includes(conn)) this.#senders.push(conn);
  }

  // ---- Transport -----------------------------------------------------------------------------------

  /** Takes one incoming segment (the IPv4 layer's transport handler). */
  receive(packet: TcpIpIncoming, now: number): void {
    const stats = this.stats;
    stats.rxSegments++;
    // RFC 1122 §4.2.3.10: a SYN to a broadcast or multicast address must not open a connection, and
    // nothing may answer from such an address (§3.2.1.3), so every such segment is dropped.
    if (packet.broadcast === true) {
      stats.dropBroadcast++;
      return;
    }
    const view = this.#rxView.wrap(packet.bytes, packet.offset, packet.length);
    const parsed = TcpRepr.parse(view, packet.src, packet.dst, this.#verify, this.#rxRepr);
    if (parsed instanceof WireError) {
      if (parsed.code === "checksum") stats.dropChecksum++;
      else stats.dropMalformed++;
      return;
    }
    const seg = parsed;
    if (seg.srcPort === 0 || seg.dstPort === 0) {
      stats.dropMalformed++;
      return;
    }
    const key = this.#tuples.get(packet.dst, seg.dstPort, packet.src, seg.srcPort);
    if (key !== undefined) {
      const conn = this.#slots.get(key)!;
      const syn = (seg.flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) === TcpFlags.SYN;
      // Only a SYN may reopen a connection for a listener, so other segments skip the listener lookup.
      if (!(syn && this.#listeners.has(seg.dstPort) && conn.reopenableBy(seg))) {
        // The payload may be lent to the app for its event handler, which saves a copy when the app
        // reads there; whatever it leaves is copied before the packet's buffer goes back to the NIC.
        conn.segmentArrives(seg, packet.bytes, now, true);
        try {
          this.#settle(conn, now);
        } finally {
          conn.settleReceive();
        }
        return;
      }
      conn.release();
      this.#settle(conn, now);
      this.stats.timeWaitReused++;
    }
    const listener = this.#listeners.get(seg.dstPort);
    if (listener !== undefined && (listener.localAddr === 0 || listener.localAddr === packet.dst)) {
      this.#listenArrives(listener, seg, packet, now);
      return;
    }
    this.#stray(seg, packet, now);
  }

  /** Transmits due segments and runs due timers; true when it did any work. */
  poll(now: number, ip: TcpIpSender): boolean {
    let worked = false;
    this.#ownMss = ip.mtu - 20; // `ip.mtu` is the IP payload size: only the TCP header comes off
    if (this.#control.length > 0) {
      worked = true;
      if (!this.#flushControl(ip, now)) return true;
    }
    if (this.#unbound.length > 0) {
      worked = true;
      const unbound = this.#unbound;
      this.#unbound = [];
      for (const conn of unbound) {
        if (conn.state === TcpState.Closed) continue;
        const src = ip.sourceFor(conn.remoteAddr);
        if (src === undefined) {
          conn.error = "unreachable";
          conn.state = TcpState.Closed;
          conn.events |= ConnEvent.In;
          this.#deliver(conn, now);
          continue;
        }
        conn.localAddr = src;
        this.#bind(conn, now);
      }
    }
    // Timers.
    const heap = this.#heap;
    while (heap.length > 0 && heap.peekTime() <= now) {
      const time = heap.peekTime();
      const conn = this.#slots.get(heap.peekKey());
      heap.pop();
      if (conn === undefined || conn.scheduledAt !== time) continue;
      conn.scheduledAt = Infinity;
      worked = true;
      conn.onTimer(now);
      this.#markReady(conn);
    }
    // App send handlers.
    if (this.#senders.length > 0) {
      const senders = this.#senders;
      this.#senders = [];
      for (const conn of senders) {
        const handler = conn.handler ?? this.handler;
        if (conn.state === TcpState.Closed || handler?.send === undefined) continue;
        if (handler.send(conn, now)) this.#senders.push(conn);
        worked = true;
      }
    }
    // Output.
    // Only the connections ready at the start: ones queued meanwhile (an app writing from an event, a
    // connection that used up its segment budget) go on the next poll, which pollAt asks for at once.
    const ready = this.#ready;
    const count = ready.length;
    let i = 0;
    for (; i < count; i++) {
      const conn = ready[i];
      conn.queued = false;
      worked = true;
      if (!conn.transmit(now, ip)) {
        conn.queued = true;
        break;
      }
      this.#settle(conn, now);
    }
    if (i >= ready.length) ready.length = 0;
    else ready.splice(0, i);
    if (heap.length > 2 * this.#slots.size + 1024) {
      // One entry per connection: a deadline that comes back to an earlier value (a probe timer armed,
      // disarmed by an ACK, armed again at the same time) leaves equal entries that all look current,
      // and keeping them all would let the heap grow past the bound and be compacted on every poll.
      const kept = new Set<number>();
      heap.compact((time, key) => {
        if (this.#slots.get(key)?.scheduledAt !== time || kept.has(key)) return false;
        kept.add(key);
        return true;
      });
    }
    return worked;
  }

  /** The next time a poll has work: now when output is queued, else the earliest timer. */
  pollAt(now: number): number | undefined {
    if (this.#ready.length > 0 || this.#control.length > 0 || this.#unbound.length > 0) return now;
    if (this.#senders.length > 0) return now;
    const heap = this.#heap;
    while (heap.length > 0) {
      const conn = this.#slots.get(heap.peekKey());
      if (conn !== undefined && conn.scheduledAt === heap.peekTime()) return heap.peekTime();
      heap.pop();
    }
    return undefined;
  }

  // ---- Internals -------------------------------------------------------------------------------------

  #bind(conn: TcpConnection, now: number): void {
    if (this.#atConnectionLimit()) {
      conn.error = "addressInUse"; // like Linux's EADDRNOTAVAIL when no four-tuple is left
      conn.state = TcpState.Closed;
      conn.events |= ConnEvent.In;
      this.#deliver(conn, now);
      return;
    }
    if (conn.localPort === 0) {
      const port = this.#ephemeralPort(conn.localAddr, conn.remoteAddr, conn.remotePort);
      if (port === undefined) {
        conn.error = "addressInUse";
        conn.state = TcpState.Closed;
        conn.events |= ConnEvent.In;
        this.#deliver(conn, now);
        return;
      }
      conn.localPort = port;
    } else if (
      this.#tuples.get(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort) !==
        undefined
    ) {
      conn.error = "addressInUse";
      conn.state = TcpState.Closed;
      conn.events |= ConnEvent.In;
      this.#deliver(conn, now);
      return;
    }
    this.#insert(conn);
    conn.openActive(
      this.#isn.next(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort, now),
    );
  }

  #ephemeralPort(localAddr: number, remoteAddr: number, remotePort: number): number | undefined {
    const start = this.#rng.below(EPHEMERAL_COUNT);
    for (let i = 0; i < EPHEMERAL_COUNT; i++) {
      const port = EPHEMERAL_FIRST + ((start + i) % EPHEMERAL_COUNT);
      if (this.#listeners.has(port)) continue;
      if (this.#tuples.get(localAddr, port, remoteAddr, remotePort) === undefined) return port;
    }
    return undefined;
  }

  /** True (and counted) when no connection may be added: every one holds tables and buffers. */
  #atConnectionLimit(): boolean {
    if (this.#slots.size < this.#maxConnections) return false;
    this.stats.dropConnectionLimit++;
    return true;
  }

  #insert(conn: TcpConnection): void {
    conn.key = this.#slots.insert(conn);
    this.#tuples.set(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort, conn.key);
  }

  #remove(conn: TcpConnection): void {
    if (conn.key < 0) return;
    this.#tuples.delete(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort);
    this.#slots.remove(conn.key);
    conn.key = -1;
    if (conn.listenerPort >= 0) {
      const listener = this.#listeners.get(conn.listenerPort);
      if (listener !== undefined) {
        if (conn.halfOpen) listener.synReceived = Math.max(0, listener.synReceived - 1);
        if (conn.openDelivered) listener.forget(conn);
      }
      conn.halfOpen = false;
      conn.listenerPort = -1;
    }
  }

  #markReady(conn: TcpConnection): void {
    if (conn.queued) return;
    conn.queued = true;
    this.#ready.push(conn);
  }

  /** Delivers a connection's pending events and re-arms its timer entry. */
  #settle(conn: TcpConnection, now: number): void {
    this.#deliver(conn, now);
    if (conn.key >= 0) {
      const deadline = conn.deadline;
      if (deadline !== conn.scheduledAt) {
        conn.scheduledAt = deadline;
        if (deadline !== Infinity) this.#heap.push(deadline, conn.key);
      }
    }
  }

  #deliver(conn: TcpConnection, now: number): void {
    for (let round = 0; round < 8 && conn.events !== 0; round++) {
      const events = conn.events;
      conn.events = 0;
      if ((events & ConnEvent.Open) !== 0 && conn.listenerPort >= 0) {
        const listener = this.#listeners.get(conn.listenerPort);
        if (listener !== undefined) {
          // Only a connection a SYN made holds a backlog slot: a cookie handshake never took one.
          if (conn.halfOpen) listener.synReceived = Math.max(0, listener.synReceived - 1);
          conn.halfOpen = false;
          conn.openDelivered = true;
          if (conn.state !== TcpState.Closed) {
            listener.enqueue(conn);
            const handler = listener.handler ?? this.handler;
            if (handler !== undefined) {
              this.#openEvent.listener = listener;
              handler.receive(this.#openEvent as TcpOpenEvent, now);
            }
          }
        }
      }
      if ((events & ConnEvent.Closed) !== 0) this.#remove(conn);
      // A passive connection belongs to the app only once accepted.
      if ((events & ConnEvent.In) !== 0 && conn.accepted) {
        const handler = conn.handler ?? this.handler;
        if (handler !== undefined) {
          this.#inEvent.conn = conn;
          handler.receive(this.#inEvent as TcpInEvent as TcpEvent, now);
          this.#inEvent.conn = undefined;
        }
      }
    }
  }

  /** RFC 9293 §3.10.7.2: a segment for a LISTEN port. */
  #listenArrives(
    listener: TcpListenerHandle,
    seg: TcpRepr,
    packet: TcpIpIncoming,
    now: number,
  ): void {
    const flags = seg.flags;
    if ((flags & TcpFlags.RST) !== 0) return;
    if ((flags & TcpFlags.ACK) !== 0) {
      if ((flags & TcpFlags.SYN) === 0 && this.#cookies !== undefined && !listener.closed) {
        const mss = this.#cookies.decode(
          packet.dst,
          seg.dstPort,
          packet.src,
          seg.srcPort,
          seqAdd(seg.seq, -1),
          seqAdd(seg.ack, -1),
          now,
        );
        if (mss !== undefined) {
          if (listener.pending >= listener.backlog) {
            this.stats.dropBacklogFull++;
            return;
          }
          if (this.#atConnectionLimit()) return;
          this.stats.synCookiesAccepted++;
          const conn = this.#newPassive(listener, packet, seg, this.#cookieTsOffset);
          const options = seg.tsEcr !== undefined ? decodeTsOptions(seg.tsEcr) : undefined;
          conn.openFromCookie(seg, seqAdd(seg.ack, -1), mss, now, options);
          conn.segmentArrives(seg, packet.bytes, now);
          this.#settle(conn, now);
          return;
        }
        this.stats.synCookiesRejected++;
      }
      this.stats.dropStray++;
      this.#queueControl(
        packet.dst,
        seg.dstPort,
        packet.src,
        seg.srcPort,
        seg.ack,
        0,
        TcpFlags.RST,
      );
      return;
    }
    if ((flags & TcpFlags.SYN) === 0) {
      this.stats.dropStray++;
      return;
    }
    // At the cap the SYN is dropped, not answered with a cookie whose ACK could not be taken either:
    // the client retries its SYN, as it does when Linux drops one.
    if (this.#atConnectionLimit()) return;
    if (listener.full) {
      if (this.#cookies === undefined) {
        this.stats.dropBacklogFull++;
        return;
      }
      const iss = this.#cookies.encode(
        packet.dst,
        seg.dstPort,
        packet.src,
        seg.srcPort,
        seg.seq,
        seg.mss ?? 536,
        now,
      );
      const slot = this.#queueControl(
        packet.dst,
        seg.dstPort,
        packet.src,
        seg.srcPort,
        iss,
        seqAdd(seg.seq, 1),
        TcpFlags.SYN | TcpFlags.ACK,
      );
      if (slot >= 0) {
        const q = this.#control;
        const config = this.#listenerConfig.get(listener.port) ?? this.#config;
        q.mss[slot] = Math.min(config.maxMss, 0xffff);
        if (seg.tsVal !== undefined && config.timestamps) {
          // Like Linux: window scale and SACK-permitted ride in our TSval's low bits.
          const ws = seg.windowScale !== undefined && config.windowScaling
            ? seg.windowScale
            : undefined;
          const sack = seg.sackPermitted && config.sack;
          q.tsEcr[slot] = seg.tsVal;
          q.tsVal[slot] = cookieTsVal((Math.floor(now) + this.#cookieTsOffset) >>> 0, ws, sack);
          q.sackPermitted[slot] = sack ? 1 : 0;
          if (ws !== undefined) q.windowScale[slot] = windowScaleFor(config.recvBufferSize);
        }
        this.stats.synCookiesSent++;
      }
      return;
    }
    const conn = this.#newPassive(listener, packet, seg);
    listener.synReceived++;
    conn.halfOpen = true;
    conn.openPassive(
      seg,
      this.#isn.next(packet.dst, seg.dstPort, packet.src, seg.srcPort, now),
      now,
    );
    this.#settle(conn, now);
  }

  #newPassive(
    listener: TcpListenerHandle,
    packet: TcpIpIncoming,
    seg: TcpRepr,
    tsOffset = this.#rng.nextU32(),
  ): TcpConnection {
    const config = this.#listenerConfig.get(listener.port) ?? this.#config;
    const conn = new TcpConnection(
      this.#host,
      config,
      packet.dst,
      seg.dstPort,
      packet.src,
      seg.srcPort,
      tsOffset,
    );
    conn.listenerPort = listener.port;
    this.stats.passiveOpens++;
    this.#insert(conn);
    return conn;
  }

  /** RFC 9293 §3.10.7.1: a segment for no connection gets a RST unless it is one. */
  #stray(seg: TcpRepr, packet: TcpIpIncoming, now: number): void {
    this.stats.dropStray++;
    const flags = seg.flags;
    if ((flags & TcpFlags.RST) === 0) {
      if ((flags & TcpFlags.ACK) !== 0) {
        this.#queueControl(
          packet.dst,
          seg.dstPort,
          packet.src,
          seg.srcPort,
          seg.ack,
          0,
          TcpFlags.RST,
        );
      } else {
        const len = seg.payloadLength + ((flags & TcpFlags.SYN) !== 0 ? 1 : 0) +
          ((flags & TcpFlags.FIN) !== 0 ? 1 : 0);
        this.#queueControl(
          packet.dst,
          seg.dstPort,
          packet.src,
          seg.srcPort,
          0,
          seqAdd(seg.seq, len),
          TcpFlags.RST | TcpFlags.ACK,
        );
      }
    }
    const handler = this.handler;
    if (handler !== undefined) {
      const event = this.#strayEvent;
      event.src = packet.src;
      event.dst = packet.dst;
      event.bytes = packet.bytes;
      handler.receive(event, now);
    }
  }

  #queueControl(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    seq: number,
    ack: number,
    flags: number,
  ): number {
    const slot = this.#control.push(localAddr, localPort, remoteAddr, remotePort, seq, ack, flags);
    if (slot < 0) this.stats.dropControlQueueFull++;
    return slot;
  }

  #flushControl(ip: TcpIpSender, _now: number): boolean {
    const q = this.#control;
    while (q.length > 0) {
      const i = q.head;
      const flags = q.flags[i];
      const syn = (flags & TcpFlags.SYN) !== 0;
      const repr = this.#tx.begin(
        q.localPort[i],
        q.remotePort[i],
        q.seq[i],
        q.ack[i],
        flags,
        syn ? Math.min(this.#config.recvBufferSize, 0xffff) : 0,
      );
      if (syn) {
        repr.mss = Math.min(q.mss[i], this.#ownMss);
        if (q.tsEcr[i] >= 0) {
          repr.tsVal = q.tsVal[i];
          repr.tsEcr = q.tsEcr[i];
          repr.sackPermitted = q.sackPermitted[i] === 1;
          if (q.windowScale[i] >= 0) repr.windowScale = q.windowScale[i];
        }
      }
      const result = this.#tx.send(ip, q.localAddr[i], q.remoteAddr[i]);
      if (result === "busy") return false;
      if ((flags & TcpFlags.RST) !== 0) this.stats.rstSent++;
      this.stats.txSegments++;
      q.shift();
    }
    return true;
  }
}
