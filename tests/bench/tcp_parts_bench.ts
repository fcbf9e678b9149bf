/**
 * Micro-benchmarks of TCP's building blocks: TcpRepr parse and emit of a segment with timestamps and
 * SACK options, SipHash-2-4 of a 4-tuple (ISNs and SYN cookies), the send and receive rings moving
 * 1460-byte segments, and SACK scoreboard updates. Heap growth over a long parse/emit run shows whether
 * the hot path allocates. Run alone with `deno run -A tests/bench/tcp_parts_bench.ts`.
 *
 * @module
 */

import { TcpFlags, TcpPacket, TcpRepr } from "../../stack/wire/tcp.ts";
import { siphash24 } from "../../stack/util/siphash.ts";
import { IsnGenerator } from "../../stack/layer/tcp/isn.ts";
import { RecvBuffer } from "../../stack/layer/tcp/recv_buffer.ts";
import { SendBuffer } from "../../stack/layer/tcp/send_buffer.ts";
import { SackScoreboard } from "../../stack/layer/tcp/sack_scoreboard.ts";

const SRC = 0x0a000001;
const DST = 0x0a000002;
const MSS = 1460;

/** Calls `run(n)` with growing `n` until one batch takes `ms`; returns operations per second. */
function rate(run: (n: number) => void, ms = 300): number {
  let n = 1000;
  for (;;) {
    const start = performance.now();
    run(n);
    const elapsed = performance.now() - start;
    if (elapsed >= ms) return (n / elapsed) * 1000;
    n = Math.ceil(n * Math.min(10, Math.max(2, (ms * 1.2) / Math.max(elapsed, 1))));
  }
}

function heapGrowth(run: () => void): number {
  const before = Deno.memoryUsage().heapUsed;
  run();
  return Deno.memoryUsage().heapUsed - before;
}

/** Runs the benchmarks and returns their figures. */
export function benchTcpParts(): Promise<Record<string, number | string>> {
  const repr = new TcpRepr();
  Object.assign(repr, {
    srcPort: 80,
    dstPort: 40000,
    seq: 1,
    ack: 2,
    flags: TcpFlags.ACK,
    window: 1000,
    tsVal: 5,
    tsEcr: 6,
  });
  repr.sackBlocks.push(100, 200, 300, 400);
  const bytes = new Uint8Array(repr.bufferLength(MSS));
  const view = new TcpPacket(bytes);
  repr.emit(view, SRC, DST, "full");
  const into = new TcpRepr();
  const figures: Record<string, number | string> = {};

  figures["TcpRepr.parse, options, no checksum (seg/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) TcpRepr.parse(view, SRC, DST, false, into);
  });
  figures["TcpRepr.parse + verify 1460 B (seg/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) TcpRepr.parse(view, SRC, DST, true, into);
  });
  figures["TcpRepr.emit, pseudo checksum (seg/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) repr.emit(view, SRC, DST, "pseudo");
  });
  figures["TcpRepr.emit, full checksum 1460 B (seg/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) repr.emit(view, SRC, DST, "full");
  });
  figures["heap growth over 1e6 parse+emit (bytes)"] = heapGrowth(() => {
    for (let i = 0; i < 1_000_000; i++) {
      TcpRepr.parse(view, SRC, DST, false, into);
      repr.emit(view, SRC, DST, "pseudo");
    }
  });

  const key = new Uint8Array(16).fill(7);
  const tuple = new Uint8Array(12).fill(9);
  figures["siphash24, 12 bytes (hash/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) tuple[0] = siphash24(key, tuple, 12);
  });
  const isn = new IsnGenerator(key);
  figures["IsnGenerator.next (ISN/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) isn.next(SRC, 80, DST, i & 0xffff, i);
  });

  const payload = new Uint8Array(MSS).fill(1);
  const out = new Uint8Array(MSS);
  const send = new SendBuffer(256 * 1024);
  const sendRate = rate((n) => {
    for (let i = 0; i < n; i++) {
      send.write(payload);
      send.copyOut(0, out, 0, MSS);
      send.consume(MSS);
    }
  });
  figures["SendBuffer write+copyOut+consume 1460 B (Gbit/s)"] = (sendRate * MSS * 8) / 1e9;
  const recv = new RecvBuffer(256 * 1024, 32);
  const recvRate = rate((n) => {
    for (let i = 0; i < n; i++) {
      recv.write(0, payload, 0, MSS);
      recv.read(out);
    }
  });
  figures["RecvBuffer in-order write+read 1460 B (Gbit/s)"] = (recvRate * MSS * 8) / 1e9;
  const oooRate = rate((n) => {
    for (let i = 0; i < n; i++) {
      // One segment lost, then three after it, then the retransmission.
      recv.write(MSS, payload, 0, MSS);
      recv.write(2 * MSS, payload, 0, MSS);
      recv.write(3 * MSS, payload, 0, MSS);
      recv.write(0, payload, 0, MSS);
      recv.consume(4 * MSS);
    }
  });
  figures["RecvBuffer reordered 4-segment burst (Gbit/s)"] = (oooRate * 4 * MSS * 8) / 1e9;

  const sb = new SackScoreboard();
  const blocks = [0, 0, 0, 0, 0, 0];
  let una = 0;
  figures["SackScoreboard update+pipe+NextSeg, 3 blocks (ACK/s)"] = rate((n) => {
    for (let i = 0; i < n; i++) {
      for (let b = 0; b < 3; b++) {
        blocks[2 * b] = (una + (2 * b + 1) * MSS) >>> 0;
        blocks[2 * b + 1] = (una + (2 * b + 2) * MSS) >>> 0;
      }
      const nxt = (una + 64 * MSS) >>> 0;
      sb.update(una, blocks, nxt);
      sb.pipe(una, nxt, una, MSS);
      sb.nextSegmentToRetransmit(una, nxt, una, MSS);
      una = (una + MSS) >>> 0;
    }
  });
  return Promise.resolve(figures);
}

if (import.meta.main) {
  for (const [name, value] of Object.entries(await benchTcpParts())) {
    const shown = typeof value === "number"
      ? value.toLocaleString("en-US", { maximumSignificantDigits: 4 })
      : value;
    console.log(`${name.padEnd(56)} ${shown}`);
  }
}
