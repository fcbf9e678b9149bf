/**
 * The fuzz harness: one whole stack (an `Interface` with TCP attached, a listener, a bound UDP echo
 * port, live connections with data in both directions) behind a scripted NIC, fed generated and mutated
 * frames on a virtual clock. After every frame it checks the invariants: no exception out of `poll`,
 * no handler error, no malformed outgoing frame, counters monotonic, connection tables and states
 * consistent, buffer accounting exact, the bytes read those the peer sent at each sequence number
 * (unless a mutated segment reached the connection), every resource within its bound. Seeded: a seed and a frame
 * count reproduce a run exactly.
 *
 * @module
 */

import { Interface } from "../../stack/layer/interface.ts";
import { attachTcp6, type Tcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpEvent } from "../../stack/layer/tcp/events.ts";
import type { TcpListenerHandle } from "../../stack/layer/tcp/listener.ts";
import { TcpState, tcpStateName } from "../../stack/layer/tcp/state.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr } from "../../stack/wire/address.ts";
import { seqAdd, seqLe, seqSub } from "../../stack/wire/seq.ts";
import {
  Burst,
  type Frame,
  FrameGen,
  payloadByte,
  PEER_COUNT,
  peerIp,
  peerMac,
  STACK_IP,
  STACK_MAC,
  TCP_PORT,
  type TcpTarget,
  UDP_PORT,
} from "./frames.ts";
import { FrameGen6 } from "./frames6.ts";
import { fixChecksums, mutate } from "./mutate.ts";
import { ScriptNic } from "./script_nic.ts";
import { Handshaker } from "./handshake.ts";

/** The bounds the harness configures, and checks. */
export const LIMITS = {
  backlog: 8,
  appConnections: 6,
  recvBuffer: 32 * 1024,
  sendBuffer: 32 * 1024,
  reassemblyBytes: 128 * 1024,
  reassemblyDatagrams: 8,
  arpEntries: 32,
  arpPendingBytes: 16 * 1024,
  neighbors: 32,
  /** Every connection the endpoint may hold: half-open, the app's, and closing ones. */
  connections: 64,
} as const;

/** Options of a harness. */
export interface HarnessOptions {
  seed: number;
  /** Fraction of sends the NIC refuses (default 0.02). */
  busyRate?: number;
  /**
   * Fail on known, reported bugs too (default false). Known: SYN-cookie connections corrupt the
   * listener's half-open count (tests/hardening/syn_flood_test.ts); a SYN to a broadcast address
   * opens a connection (tests/hardening/regressions_test.ts).
   */
  strict?: boolean;
}

/** What went wrong, with the frames that led to it. */
export interface FuzzFailure {
  seed: number;
  /** Index of the frame after which the invariant broke. */
  frame: number;
  message: string;
  /** Hex of the last frames fed, oldest first. */
  recent: string[];
}

interface AppConn {
  read: number;
  written: number;
  closed: boolean;
}

const RECENT = 16;

/** One stack under fuzz. */
export class FuzzHarness {
  readonly seed: number;
  readonly nic: ScriptNic;
  readonly iface: Interface;
  readonly tcp: TcpEndpoint;
  readonly listener: TcpListenerHandle;
  /** TCP over IPv6. */
  readonly tcp6: Tcp6;
  readonly listener6: TcpListenerHandle;
  /** Frames fed so far. */
  frames = 0;
  /** The virtual clock (ms). */
  now = 0;
  /** The first invariant violation, once one happened. */
  failure: FuzzFailure | undefined = undefined;
  /** Received bytes checked against what the peer sent at their sequence numbers. */
  verifiedBytes = 0;
  /** Frames fed, by generator kind. */
  readonly kinds = new Map<string, number>();
  #rng: Rng;
  #gen: FrameGen;
  #gen6: FrameGen6;
  #burst = new Burst();
  #app: TcpConnection[] = [];
  #targets: TcpTarget[] = [];
  #scratch = new Uint8Array(64 * 1024);
  #data = new Uint8Array(8192);
  #last: Record<string, Record<string, number>>;
  #recent: Uint8Array[] = [];
  #recentLength = new Int32Array(RECENT);
  #hand: Handshaker;
  #strict: boolean;
  #mutated = false;
  #tainted = new Set<string>();
  #answering = false;

  /** Builds the stack, opens the listener and UDP port, and resolves the peers' MACs. */
  constructor(options: HarnessOptions) {
    this.seed = options.seed;
    this.#strict = options.strict ?? false;
    const rng = new Rng(options.seed);
    this.#rng = rng;
    this.nic = new ScriptNic(STACK_MAC, new Rng(options.seed ^ 0x1234567));
    this.nic.busyRate = options.busyRate ?? 0.02;
    this.nic.ownAddress = STACK_IP;
    this.iface = new Interface(this.nic, {
      addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
      rng: new Rng(options.seed + 1),
      arp: {
        maxEntries: LIMITS.arpEntries,
        pendingBytes: LIMITS.arpPendingBytes,
        pendingPerEntry: 4,
      },
      ipv4: {
        reassemblyBytes: LIMITS.reassemblyBytes,
        reassemblyDatagrams: LIMITS.reassemblyDatagrams,
        reassemblyTimeoutMs: 5000,
      },
      ipv6: {
        neighbors: { maxEntries: LIMITS.neighbors },
        reassembly: { maxBytes: LIMITS.reassemblyBytes },
      },
    });
    const key = (n: number) => {
      const k = new Uint8Array(16);
      new Rng(options.seed * 7 + n).fill(k);
      return k;
    };
    this.tcp = new TcpEndpoint({
      rng: new Rng(options.seed + 2),
      isnKey: key(1),
      cookieKey: key(2),
      config: {
        recvBufferSize: LIMITS.recvBuffer,
        sendBufferSize: LIMITS.sendBuffer,
        timeWaitMs: 5000,
        keepalive: true,
        keepaliveIdleMs: 20_000,
        keepaliveIntervalMs: 5000,
        keepaliveProbes: 3,
        maxRetries: 6,
        synAckRetries: 3,
      },
      handler: { receive: (event, now) => this.#onTcp(event, now) },
    });
    // TCP sits behind a pass-through that notes which connections a mutated segment reached: only
    // their received bytes may differ from what the generator wrote at each sequence number.
    const tcp = this.tcp;
    this.iface.attach(6, {
      receive: (packet, now) => {
        if (this.#mutated && packet.length >= 4) {
          const b = packet.bytes;
          const srcPort = (b[packet.offset] << 8) | b[packet.offset + 1];
          const dstPort = (b[packet.offset + 2] << 8) | b[packet.offset + 3];
          this.#tainted.add(tupleKey(packet.src, srcPort, dstPort));
        }
        tcp.receive(packet, now);
      },
      poll: (now, ip) => tcp.poll(now, ip),
      pollAt: (now) => tcp.pollAt(now),
      stats: tcp.stats,
    });
    // TCP over IPv6 (a second endpoint behind the adapter): a listener that accepts and closes.
    this.tcp6 = attachTcp6(this.iface, {
      rng: new Rng(options.seed + 6),
      isnKey: key(3),
      cookieKey: key(4),
    });
    this.listener6 = this.tcp6.endpoint.listen(TCP_PORT, {
      backlog: LIMITS.backlog,
      handler: {
        receive: (event) => {
          if (event.kind !== "open") return;
          for (let c = event.listener.accept(); c !== undefined; c = event.listener.accept()) {
            c.close();
          }
        },
      },
    });
    this.listener = this.tcp.listen(TCP_PORT, { backlog: LIMITS.backlog });
    this.iface.udp.bind(UDP_PORT, (d) => {
      // Echo, as an app would: the reply is queued behind ARP or sent at once.
      this.iface.udp.send(
        UDP_PORT,
        d.src,
        d.srcPort,
        d.bytes.subarray(d.offset, d.offset + d.length),
      );
    });
    this.#gen = new FrameGen(new Rng(options.seed + 3), () => this.#targets);
    this.#gen6 = new FrameGen6(new Rng(options.seed + 5));
    for (let i = 0; i < RECENT; i++) this.#recent.push(new Uint8Array(2048));
    this.#hand = new Handshaker(this.nic, new Rng(options.seed + 4));
    this.#settle();
    this.#last = this.iface.stats();
    // Peers announce themselves (ARP requests to us create their entries).
    for (let p = 0; p < PEER_COUNT; p++) {
      this.#feedRaw(this.#hand.arpRequest(peerMac(p), peerIp(p)));
    }
    this.#refill();
  }

  /** Feeds one burst of generated, mostly mutated frames; false once an invariant broke. */
  step(): boolean {
    if (this.failure !== undefined) return false;
    if (this.frames % 64 === 0) this.#refill();
    this.#updateTargets();
    if (this.#rng.below(100) < 15) this.#gen6.burst(this.#burst);
    else this.#gen.burst(this.#burst);
    for (let i = 0; i < this.#burst.count && this.failure === undefined; i++) {
      const f = this.#burst.frames[i];
      const r = this.#rng.below(100);
      this.#mutated = f.kind === "random" || r < 60;
      if (f.kind !== "random" && r < 60) mutate(f, this.#rng);
      this.kinds.set(f.kind, (this.kinds.get(f.kind) ?? 0) + 1);
      this.feed(f.bytes, f.length);
      this.#mutated = false;
      this.#appWork();
    }
    return this.failure === undefined;
  }

  /** Feeds one raw frame, advances the clock and checks every invariant. */
  feed(bytes: Uint8Array, length: number): void {
    if (this.failure !== undefined) return;
    const slot = this.#recent[this.frames % RECENT];
    slot.set(bytes.subarray(0, Math.min(length, slot.length)));
    this.#recentLength[this.frames % RECENT] = length;
    this.frames++;
    this.nic.put(bytes, length);
    this.#settle();
    const r = this.#rng.below(100);
    this.now += r < 30
      ? 0
      : r < 80
      ? this.#rng.below(10)
      : r < 95
      ? this.#rng.below(1000)
      : this.#rng.below(40_000);
    this.#settle();
    if (this.failure === undefined) this.#check();
    this.#answerArp();
  }

  /** The peers answer the stack's ARP requests (most of the time, as real hosts do). */
  #answerArp(): void {
    if (this.#answering) return;
    this.#answering = true;
    for (let round = 0; round < 4; round++) {
      const asked = this.#hand.takeArpAsks();
      if (asked === 0) break;
      for (let p = 0; p < PEER_COUNT; p++) {
        if ((asked & (1 << p)) !== 0 && this.#rng.below(10) !== 0) {
          const f = this.#hand.arpReply(p);
          this.feed(f.bytes, f.length);
        }
      }
    }
    this.#answering = false;
  }

  /** Polls at the current time and checks the invariants, without feeding a frame. */
  pollNow(): void {
    this.#settle();
    if (this.failure === undefined) this.#check();
  }

  /** Runs `frames` frames (in bursts); returns the failure, if any. */
  run(frames: number): FuzzFailure | undefined {
    while (this.frames < frames && this.failure === undefined) this.step();
    return this.failure;
  }

  // ---- Driving -------------------------------------------------------------------------------------

  #feedRaw(f: Frame): void {
    this.feed(f.bytes, f.length);
  }

  /** Polls until idle at the current time (bounded: a stack that never settles is a failure). */
  #settle(): void {
    for (let i = 0; i < 64; i++) {
      let worked: boolean;
      try {
        worked = this.iface.poll(this.now);
      } catch (error) {
        this.#fail(`poll threw: ${error instanceof Error ? error.stack : String(error)}`);
        return;
      }
      const at = this.iface.pollAt(this.now);
      if (at !== undefined && !Number.isFinite(at)) {
        this.#fail(`pollAt returned ${at}`);
        return;
      }
      if (!worked && (at === undefined || at > this.now)) return;
    }
    this.#fail("the stack did not settle within 64 polls at one instant");
  }

  /** Keeps a few connections open: passive handshakes from peers, and some active opens. */
  #refill(): void {
    for (let tries = 0; tries < 3 && this.#app.length < 4; tries++) {
      const p = this.#rng.below(PEER_COUNT);
      if (this.#rng.below(4) === 0) {
        const conn = this.tcp.connect(peerIp(p), 2000 + this.#rng.below(100));
        conn.user = { read: 0, written: 0, closed: false } satisfies AppConn;
        this.#app.push(conn);
        this.#hand.activeOpen(this, conn, p);
      } else {
        this.#hand.passiveOpen(this, p, 30_000 + this.#rng.below(30_000));
      }
    }
  }

  /** The app: reads everything, writes now and then, closes now and then. */
  #appWork(): void {
    for (let i = 0; i < this.#app.length; i++) {
      const conn = this.#app[i];
      const u = conn.user as AppConn;
      if (conn.state === TcpState.Closed || conn.key < 0) {
        this.#app.splice(i--, 1);
        continue;
      }
      this.#drain(conn, u);
      const r = this.#rng.below(1000);
      if (r < 40) {
        const n = this.#rng.below(this.#data.length);
        if (conn.writable > 0) u.written += conn.write(this.#data, 0, n);
      } else if (r < 42 && !u.closed) {
        if (conn.readable === 0) u.closed = true;
        conn.close();
      } else if (r < 43) {
        conn.closeWrite();
      } else if (r === 43) {
        conn.abort();
      }
    }
  }

  #drain(conn: TcpConnection, u: AppConn): void {
    const scratch = this.#scratch;
    const clean = !this.#tainted.has(tupleKey(conn.remoteAddr, conn.remotePort, conn.localPort));
    const start = seqAdd(conn.info.irs, 1);
    for (let n = conn.read(scratch); n > 0; n = conn.read(scratch)) {
      if (clean && this.failure === undefined) {
        for (let i = 0; i < n; i++) {
          const want = payloadByte(seqAdd(start, u.read + i));
          if (scratch[i] !== want) {
            this.#fail(
              `${conn.remotePort}->${conn.localPort}: byte ${u.read + i} read is ${
                scratch[i]
              }, sent ${want}`,
            );
            break;
          }
        }
      }
      if (clean) this.verifiedBytes += n;
      u.read += n;
    }
  }

  #onTcp(event: TcpEvent, _now: number): void {
    if (event.kind === "open") {
      for (let c = event.listener.accept(); c !== undefined; c = event.listener.accept()) {
        if (this.#app.length >= LIMITS.appConnections) {
          c.abort();
          continue;
        }
        c.user = { read: 0, written: 0, closed: false } satisfies AppConn;
        this.#app.push(c);
      }
    } else if (event.kind === "in") {
      const u = event.conn.user as AppConn | undefined;
      if (u !== undefined) this.#drain(event.conn, u);
    }
  }

  #updateTargets(): void {
    const targets = this.#targets;
    let n = 0;
    for (const conn of this.tcp.connections()) {
      if (n >= 16) break;
      const info = conn.info;
      let t = targets[n];
      if (t === undefined) {
        t = {
          peer: 0,
          peerPort: 0,
          localPort: 0,
          rcvNxt: 0,
          rcvWnd: 0,
          sndUna: 0,
          sndMax: 0,
          tsRecent: 0,
        };
        targets.push(t);
      }
      t.peer = conn.remoteAddr;
      t.peerPort = conn.remotePort;
      t.localPort = conn.localPort;
      t.rcvNxt = info.rcvNxt;
      t.rcvWnd = info.rcvWnd;
      t.sndUna = info.sndUna;
      t.sndMax = info.sndMax;
      t.tsRecent = this.#hand.tsFor(conn.remotePort);
      n++;
    }
    targets.length = n;
  }

  // ---- Invariants ----------------------------------------------------------------------------------

  #fail(message: string): void {
    if (this.failure !== undefined) return;
    const recent: string[] = [];
    const count = Math.min(this.frames, RECENT);
    for (let k = count; k > 0; k--) {
      const i = (this.frames - k) % RECENT;
      recent.push(toHex(this.#recent[i], Math.min(this.#recentLength[i], 2048)));
    }
    this.failure = { seed: this.seed, frame: this.frames - 1, message, recent };
  }

  #check(): void {
    const iface = this.iface;
    if (iface.counters.handlerErrors !== 0) {
      return this.#fail(
        `a layer threw inside receive (handlerErrors ${iface.counters.handlerErrors})`,
      );
    }
    if (this.nic.badFrames !== 0) {
      return this.#fail(`the stack sent a bad frame: ${this.nic.firstBad}`);
    }
    // Counters never go down.
    const stats = iface.stats();
    for (const [layer, counters] of Object.entries(stats)) {
      const before = this.#last[layer];
      if (before === undefined) continue;
      for (const [name, value] of Object.entries(counters)) {
        if (!Number.isFinite(value)) return this.#fail(`counter ${layer}.${name} is ${value}`);
        const old = before[name];
        if (old !== undefined && value < old) {
          return this.#fail(`counter ${layer}.${name} went down from ${old} to ${value}`);
        }
      }
    }
    this.#last = stats;
    // Resource bounds.
    const reasm = iface.ipv4.reassembler;
    if (reasm.bytesHeld > LIMITS.reassemblyBytes || reasm.bytesHeld < 0) {
      return this.#fail(`reassembly holds ${reasm.bytesHeld} bytes`);
    }
    if (reasm.inProgress > LIMITS.reassemblyDatagrams) {
      return this.#fail(`reassembly has ${reasm.inProgress} datagrams in progress`);
    }
    const cache = iface.arp.cache;
    if (cache.size > LIMITS.arpEntries) return this.#fail(`ARP cache has ${cache.size} entries`);
    if (cache.pendingBytes > LIMITS.arpPendingBytes || cache.pendingBytes < 0) {
      return this.#fail(`ARP queues hold ${cache.pendingBytes} bytes`);
    }
    const v6 = iface.ipv6;
    if (v6 !== undefined) {
      if (v6.neighbors.size > LIMITS.neighbors) {
        return this.#fail(`IPv6 neighbor cache has ${v6.neighbors.size} entries`);
      }
      const r6 = v6.reassembler;
      if (r6.bytesHeld > LIMITS.reassemblyBytes || r6.bytesHeld < 0) {
        return this.#fail(`IPv6 reassembly holds ${r6.bytesHeld} bytes`);
      }
    }
    const e6 = this.tcp6.endpoint;
    if (e6.connectionCount > LIMITS.connections) {
      return this.#fail(`${e6.connectionCount} IPv6 connections`);
    }
    const l6 = this.listener6;
    if (
      l6.synReceived + l6.pending > l6.backlog + (this.#strict ? 0 : e6.stats.synCookiesAccepted)
    ) {
      return this.#fail(`IPv6 listener holds ${l6.synReceived} + ${l6.pending} beyond its backlog`);
    }
    if (this.tcp6.handles.size > 2 * LIMITS.connections) {
      return this.#fail(`${this.tcp6.handles.size} IPv6 handles`);
    }
    this.#checkTcp();
  }

  #checkTcp(): void {
    const tcp = this.tcp;
    let count = 0;
    let synReceived = 0;
    for (const conn of tcp.connections()) {
      count++;
      const name = `${conn.remotePort}->${conn.localPort}`;
      if (conn.listenerPort === TCP_PORT && !conn.openDelivered) synReceived++;
      // A closed connection leaves the table when the endpoint next services it (it is queued).
      if (conn.state === TcpState.Closed) {
        if (conn.queued) continue;
        return this.#fail(`closed connection ${name} left in the table`);
      }
      if (tcp.find(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort) !== conn) {
        return this.#fail(`connection ${name} is not found by its four-tuple`);
      }
      if (tcp.get(conn.key) !== conn) return this.#fail(`connection ${name} is not under its key`);
      // Known: a SYN to a broadcast address opens a connection bound to it (regressions_test.ts).
      if (this.#strict && conn.localAddr !== STACK_IP && conn.localAddr !== 0) {
        return this.#fail(`connection ${name} is bound to ${conn.localAddr >>> 0}`);
      }
      const info = conn.info;
      const state = tcpStateName(conn.state);
      if (!seqLe(info.sndUna, info.sndNxt) || !seqLe(info.sndNxt, info.sndMax)) {
        return this.#fail(
          `${name} ${state}: SND.UNA ${info.sndUna} SND.NXT ${info.sndNxt} SND.MAX ${info.sndMax}`,
        );
      }
      if (conn.readable > LIMITS.recvBuffer || conn.readable < 0) {
        return this.#fail(`${name} ${state}: ${conn.readable} bytes readable`);
      }
      if (conn.unacknowledged > LIMITS.sendBuffer || conn.unacknowledged < 0) {
        return this.#fail(`${name} ${state}: ${conn.unacknowledged} bytes unacknowledged`);
      }
      if (info.rcvWnd > LIMITS.recvBuffer + (1 << info.rcvWscale)) {
        return this.#fail(`${name} ${state}: receive window ${info.rcvWnd}`);
      }
      const u = conn.user as AppConn | undefined;
      if (u === undefined) continue;
      // Every byte the peer's sequence space advanced by is read or readable, once.
      if (!u.closed && conn.state !== TcpState.SynSent) {
        const fin = conn.finReceived ? 1 : 0;
        const received = seqSub(info.rcvNxt, info.irs) - 1 - fin;
        if (u.read + conn.readable !== received) {
          return this.#fail(
            `${name} ${state}: read ${u.read} + readable ${conn.readable} != ${received} received`,
          );
        }
      }
      // Every byte written is either acknowledged or still held.
      const acked = Math.min(u.written, Math.max(0, seqSub(info.sndUna, info.iss) - 1));
      if (u.written - conn.unacknowledged !== acked) {
        return this.#fail(
          `${name} ${state}: written ${u.written} - unacknowledged ${conn.unacknowledged} != ${acked} acknowledged`,
        );
      }
    }
    if (count !== tcp.connectionCount) {
      return this.#fail(`connectionCount ${tcp.connectionCount} but ${count} connections iterate`);
    }
    if (count > LIMITS.connections) {
      return this.#fail(`${count} connections exceed ${LIMITS.connections}`);
    }
    const l = this.listener;
    // Known: a connection opened from a SYN cookie uncounts a half-open one it never counted, so each
    // cookie handshake lets one more half-open connection past the backlog (tests/hardening/syn_flood_test.ts).
    const slack = this.#strict ? 0 : tcp.stats.synCookiesAccepted;
    if (synReceived < l.synReceived || synReceived > l.synReceived + slack) {
      return this.#fail(`listener counts ${l.synReceived} half-open but ${synReceived} exist`);
    }
    if (l.synReceived + l.pending > l.backlog) {
      return this.#fail(
        `listener holds ${l.synReceived} + ${l.pending} beyond backlog ${l.backlog}`,
      );
    }
  }
}

function tupleKey(remoteAddr: number, remotePort: number, localPort: number): string {
  return `${remoteAddr >>> 0}:${remotePort}>${localPort}`;
}

/** Lower-case hex of `bytes[0 .. length)`. */
export function toHex(bytes: Uint8Array, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export { fixChecksums };
