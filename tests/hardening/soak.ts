/**
 * The soak engine: two stacks on an impaired in-memory link (loss, duplication, reordering,
 * corruption, delay, a rate limit and a finite queue) exchange mixed traffic for a long simulated time
 * (TCP bulk in both directions, many short request/response connections, UDP echo with fragmented
 * datagrams, ping), then stop; once every connection has closed, the open slots (connections, listener
 * queues, reassembly, ARP queues) must be back at their baseline. Used by soak_test.ts and by the
 * benchmark tests/bench/soak_bench.ts.
 *
 * @module
 */

import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpListenerHandle } from "../../stack/layer/tcp/listener.ts";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { Rng } from "../../stack/util/rng.ts";
import { ADDR_A, ADDR_B, HostPair, Transfer } from "./host_pair.ts";

/** Options of a soak run. */
export interface SoakOptions {
  seed?: number;
  /** Simulated time with traffic (ms). */
  trafficMs: number;
  /** Link rate in bits per second (default 10 Mbit/s). */
  rate?: number;
  /** Short connections opened per simulated second (default 20). */
  shortPerSecond?: number;
}

/** What a soak run measured. */
export interface SoakReport {
  simulatedMs: number;
  realMs: number;
  bulkBytes: number;
  shortCompleted: number;
  shortFailed: number;
  udpSent: number;
  udpEchoed: number;
  pingsSent: number;
  pingsAnswered: number;
  /** Errors in data (wrong bytes or lengths); must be empty. */
  errors: string[];
  /** Open slots after the drain, by kind; all must be zero. */
  leftover: Record<string, number>;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  peakHeapBytes: number;
  framesLost: number;
  framesCorrupted: number;
}

interface Short {
  client: TcpConnection;
  request: Uint8Array;
  got: number;
  opened: number;
}

const BULK_CHUNK = 2 * 1024 * 1024;

/** Runs one soak; see the module comment. */
export function runSoak(options: SoakOptions): SoakReport {
  const start = performance.now();
  collectGarbage();
  const heapBefore = Deno.memoryUsage().heapUsed;
  let peak = heapBefore;
  const seed = options.seed ?? 1;
  const rng = new Rng(seed * 7 + 1);
  const impair = {
    loss: 0.005,
    duplicate: 0.002,
    reorder: 0.005,
    corrupt: 0.001,
    delayMs: 2,
    jitterMs: 1,
    rateBitsPerSecond: options.rate ?? 10_000_000,
    queueFrames: 256,
  };
  const hp = new HostPair({
    seed,
    impair,
    tcp: { timeWaitMs: 2000, sendBufferSize: 128 * 1024, recvBufferSize: 128 * 1024 },
  });
  const errors: string[] = [];
  const echo = hp.tcpA.listen(80, { backlog: 64 });
  const sink = hp.tcpA.listen(81, { backlog: 4 });
  const uploads = hp.tcpB.listen(82, { backlog: 4 });
  const servers: TcpConnection[] = [];
  const shorts: Short[] = [];
  const scratch = new Uint8Array(65536);
  let shortCompleted = 0;
  let shortFailed = 0;
  let bulkBytes = 0;
  let up: Transfer | undefined;
  let down: Transfer | undefined;
  let udpSent = 0;
  let udpEchoed = 0;
  let pingsSent = 0;
  let pingsAnswered = 0;
  hp.a.udp.bind(7, (d) => {
    hp.a.udp.send(7, d.src, d.srcPort, d.bytes.subarray(d.offset, d.offset + d.length));
  });
  hp.b.udp.bind(4007, (d) => {
    const first = d.bytes[d.offset];
    if (d.length > 0 && d.bytes[d.offset + d.length - 1] !== ((first + d.length - 1) & 0xff)) {
      errors.push(`UDP echo of ${d.length} bytes corrupted`);
    }
    udpEchoed++;
  });
  hp.b.icmp.onEchoReply = () => pingsAnswered++;

  const acceptAll = (listener: TcpListenerHandle, into: TcpConnection[]) => {
    for (let c = listener.accept(); c !== undefined; c = listener.accept()) into.push(c);
  };
  let sinkConns: TcpConnection[] = [];
  let uploadConns: TcpConnection[] = [];

  let traffic = true;
  let nextShort = 0;
  let nextUdp = 0;
  let nextPing = 0;
  const shortGap = 1000 / (options.shortPerSecond ?? 20);
  const end = options.trafficMs;

  const appStep = () => {
    const now = hp.now;
    acceptAll(echo, servers);
    acceptAll(sink, sinkConns);
    acceptAll(uploads, uploadConns);
    // Bulk: B uploads to A's sink and A downloads to B, a new connection per chunk.
    if (traffic && up === undefined) {
      const client = hp.tcpB.connect(ADDR_A, 81);
      up = new Transfer(client, client, BULK_CHUNK); // the receiving end is set once accepted
    }
    if (up !== undefined && up.to === up.from && sinkConns.length > 0) {
      up = new Transfer(up.from, sinkConns.shift()!, BULK_CHUNK);
    }
    if (up !== undefined && up.to !== up.from) {
      if (up.pump()) {
        bulkBytes += up.received;
        if (up.corrupt) errors.push(`upload: ${up.corrupt}`);
        up.from.close();
        up.to.close();
        up = undefined;
      } else if (up.from.state === TcpState.Closed) {
        errors.push(`upload died: ${up.from.error}`);
        up = undefined;
      }
    }
    if (traffic && down === undefined) {
      const client = hp.tcpA.connect(ADDR_B, 82);
      down = new Transfer(client, client, BULK_CHUNK);
    }
    if (down !== undefined && down.to === down.from && uploadConns.length > 0) {
      down = new Transfer(down.from, uploadConns.shift()!, BULK_CHUNK);
    }
    if (down !== undefined && down.to !== down.from) {
      if (down.pump()) {
        bulkBytes += down.received;
        if (down.corrupt) errors.push(`download: ${down.corrupt}`);
        down.from.close();
        down.to.close();
        down = undefined;
      } else if (down.from.state === TcpState.Closed) {
        errors.push(`download died: ${down.from.error}`);
        down = undefined;
      }
    }
    if (!traffic) {
      // Draining: the receiving ends read what is left and close once the sender has.
      for (const c of [...sinkConns, ...uploadConns]) {
        while (c.read(scratch) > 0);
        if (c.readClosed) c.close();
      }
    }
    sinkConns = sinkConns.filter((c) => c.state !== TcpState.Closed);
    uploadConns = uploadConns.filter((c) => c.state !== TcpState.Closed);
    // Short request/response connections.
    if (traffic && now >= nextShort && shorts.length < 32) {
      nextShort = now + shortGap;
      const length = 1 + rng.below(3000);
      const request = new Uint8Array(length);
      for (let i = 0; i < length; i++) request[i] = (i * 3 + length) & 0xff;
      const client = hp.tcpB.connect(ADDR_A, 80);
      shorts.push({ client, request, got: 0, opened: now });
    }
    for (let i = 0; i < shorts.length; i++) {
      const s = shorts[i];
      const c = s.client;
      if (
        c.state === TcpState.Established && s.got === 0 && c.unacknowledged === 0 && !c.writeClosed
      ) {
        c.write(s.request);
        c.closeWrite();
      }
      for (let n = c.read(scratch); n > 0; n = c.read(scratch)) {
        for (let k = 0; k < n; k++) {
          if (scratch[k] !== s.request[s.got + k]) {
            errors.push(`short echo byte ${s.got + k} wrong`);
            break;
          }
        }
        s.got += n;
      }
      if (c.readClosed || c.state === TcpState.Closed) {
        if (s.got === s.request.length && c.error === undefined) shortCompleted++;
        else shortFailed++;
        c.close();
        shorts.splice(i--, 1);
      }
    }
    for (let i = 0; i < servers.length; i++) {
      const c = servers[i];
      for (let n = c.read(scratch); n > 0; n = c.read(scratch)) {
        if (c.write(scratch, 0, n) !== n) errors.push("echo server's send buffer overflowed");
      }
      if (c.readClosed && c.unacknowledged === 0) c.close();
      if (c.state === TcpState.Closed) servers.splice(i--, 1);
    }
    // UDP (every fifth datagram is fragmented) and ping.
    if (traffic && now >= nextUdp) {
      nextUdp = now + 10;
      const length = udpSent % 5 === 4 ? 3000 : 1 + rng.below(1000);
      const first = udpSent & 0xff;
      for (let i = 0; i < length; i++) scratch[i] = (first + i) & 0xff;
      hp.b.udp.send(4007, ADDR_A, 7, scratch.subarray(0, length));
      udpSent++;
    }
    if (traffic && now >= nextPing) {
      nextPing = now + 100;
      hp.b.icmp.ping(ADDR_A, { ident: 1, seq: pingsSent & 0xffff, now });
      pingsSent++;
    }
  };

  const nextApp = () => {
    if (!traffic) return Infinity;
    return Math.min(nextShort, nextUdp, nextPing);
  };

  let steps = 0;
  const runUntil = (done: () => boolean, limit: number) => {
    while (hp.now < limit) {
      hp.settle();
      appStep();
      hp.settle();
      if (done()) return true;
      steps++;
      if (steps % 20_000 === 0) peak = Math.max(peak, Deno.memoryUsage().heapUsed);
      const at = Math.min(hp.next() ?? Infinity, nextApp(), limit);
      hp.now = Math.max(at, hp.now + 0.01);
    }
    return done();
  };

  runUntil(() => false, end);
  traffic = false;
  // Stop: close what is open and let everything finish (TIME-WAIT included).
  for (const s of shorts) s.client.close();
  for (const t of [up, down]) {
    if (t === undefined) continue;
    t.from.close();
    if (t.to !== t.from) (t.from === up?.from ? sinkConns : uploadConns).push(t.to);
  }
  up = undefined;
  down = undefined;
  const idle = () =>
    hp.tcpA.connectionCount === 0 && hp.tcpB.connectionCount === 0 && shorts.length === 0 &&
    servers.length === 0 && sinkConns.length === 0 && uploadConns.length === 0;
  runUntil(idle, end + 600_000);
  hp.run(() => false, 60_000); // ARP retries, reassembly timeouts
  peak = Math.max(peak, Deno.memoryUsage().heapUsed);
  const leftover: Record<string, number> = {
    connectionsA: hp.tcpA.connectionCount,
    connectionsB: hp.tcpB.connectionCount,
    acceptQueues: echo.pending + sink.pending + uploads.pending,
    halfOpen: echo.synReceived + sink.synReceived + uploads.synReceived,
    reassemblyA: hp.a.ipv4.reassembler.bytesHeld + hp.a.ipv4.reassembler.inProgress,
    reassemblyB: hp.b.ipv4.reassembler.bytesHeld + hp.b.ipv4.reassembler.inProgress,
    arpPendingA: hp.a.arp.cache.pendingBytes,
    arpPendingB: hp.b.arp.cache.pendingBytes,
    appShorts: shorts.length,
    appServers: servers.length,
  };
  const nicA = hp.pair.a.stats;
  // Measured with every test object still alive but the traffic over: only leaks remain.
  collectGarbage();
  const heapAfter = Deno.memoryUsage().heapUsed;
  const nicB = hp.pair.b.stats;
  return {
    simulatedMs: hp.now,
    realMs: performance.now() - start,
    bulkBytes,
    shortCompleted,
    shortFailed,
    udpSent,
    udpEchoed,
    pingsSent,
    pingsAnswered,
    errors,
    leftover,
    heapBeforeBytes: heapBefore,
    heapAfterBytes: heapAfter,
    peakHeapBytes: peak,
    framesLost: (nicA.lossDropped ?? 0) + (nicB.lossDropped ?? 0),
    framesCorrupted: (nicA.corrupted ?? 0) + (nicB.corrupted ?? 0),
  };
}

/** Runs the garbage collector when V8 exposes it (`--v8-flags=--expose-gc`), so heap figures are exact. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
