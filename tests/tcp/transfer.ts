/**
 * Bulk transfers for link tests and benchmarks: side A connects to side B, each sends its own seeded
 * pseudo-random bytes, shuts its sending side when done, and reads until the peer's FIN.
 *
 * @module
 */

import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import type { TcpEvent } from "../../stack/layer/tcp/events.ts";
import { Rng } from "../../stack/util/rng.ts";
import { ADDR_B, type Sim } from "./sim.ts";

/** One direction's data and progress. */
class Flow {
  readonly data: Uint8Array;
  readonly got: Uint8Array;
  sent = 0;
  received = 0;
  eof = false;

  constructor(sendBytes: number, recvBytes: number, seed: number) {
    this.data = new Uint8Array(sendBytes);
    new Rng(seed).fill(this.data);
    this.got = new Uint8Array(recvBytes + 1); // one spare byte reveals any excess
  }

  pump(conn: TcpConnection): void {
    for (let i = 0; i < 1000 && conn.readable > 0; i++) {
      const n = conn.read(this.got, this.received, this.got.length - this.received);
      if (n === 0) break;
      this.received += n;
    }
    if (conn.readClosed) this.eof = true;
    if (this.sent < this.data.length && conn.writable > 0) {
      this.sent += conn.write(this.data, this.sent, this.data.length - this.sent);
    }
    if (this.sent === this.data.length && !conn.writeClosed) conn.closeWrite();
  }
}

/** The outcome of `transfer`. */
export interface TransferResult {
  /** Both sides got every byte and the FIN. */
  done: boolean;
  /** Virtual time it took (ms). */
  elapsedMs: number;
  /** Bytes each side received. */
  receivedByA: number;
  receivedByB: number;
  /** The data each side sent, and what the other side received (compare with SHA-256). */
  sentByA: Uint8Array;
  sentByB: Uint8Array;
  gotByA: Uint8Array;
  gotByB: Uint8Array;
  errorA?: string;
  errorB?: string;
}

/** Runs one transfer of `aToB` and `bToA` bytes over `sim`. */
export function transfer(
  sim: Sim,
  aToB: number,
  bToA: number,
  seed = 1,
  port = 5001,
): TransferResult {
  const flowA = new Flow(aToB, bToA, seed * 2 + 1);
  const flowB = new Flow(bToA, aToB, seed * 2 + 2);
  let connB: TcpConnection | undefined;
  const listener = sim.tcpB.listen(port, {
    handler: {
      receive: (event: TcpEvent) => {
        if (event.kind !== "open") return;
        connB = event.listener.accept();
        if (connB === undefined) return;
        connB.handler = { receive: () => flowB.pump(connB!) };
        flowB.pump(connB);
      },
    },
  });
  const connA = sim.tcpA.connect(ADDR_B, port, {
    handler: { receive: () => flowA.pump(connA) },
  });
  const start = sim.now;
  const done = sim.run(
    () =>
      flowA.eof && flowB.eof && flowA.received === bToA && flowB.received === aToB &&
      connA.unacknowledged === 0,
  );
  listener.close();
  return {
    done,
    elapsedMs: sim.now - start,
    receivedByA: flowA.received,
    receivedByB: flowB.received,
    sentByA: flowA.data,
    sentByB: flowB.data,
    gotByA: flowA.got.subarray(0, flowA.received),
    gotByB: flowB.got.subarray(0, flowB.received),
    errorA: connA.error,
    errorB: connB?.error,
  };
}

/** SHA-256 of some bytes, as hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
