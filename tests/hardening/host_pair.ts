/**
 * Two whole stacks (A = 10.0.0.1, B = 10.0.0.2, each with TCP attached) on an in-memory cable with
 * seeded impairments and a virtual clock, for attack tests that need a real peer beside the attacker.
 * A routes everything off-link through B, so that spoofed sources get their answers sent to B (which
 * drops them), as a server behind a router would. Attack frames are injected into A's receive side.
 *
 * @module
 */

import { Interface } from "../../stack/layer/interface.ts";
import type { TcpConfig } from "../../stack/layer/tcp/config.ts";
import type { TcpConnection } from "../../stack/layer/tcp/connection.ts";
import { TcpEndpoint, type TcpEndpointOptions } from "../../stack/layer/tcp/endpoint.ts";
import { type Impairments, MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr } from "../../stack/wire/address.ts";

/** A's address. */
export const ADDR_A = 0x0a000001;
/** B's address. */
export const ADDR_B = 0x0a000002;

/** Options of a `HostPair`. */
export interface HostPairOptions {
  seed?: number;
  impair?: Impairments | { aToB?: Impairments; bToA?: Impairments };
  tcp?: Partial<TcpConfig>;
  endpointA?: TcpEndpointOptions;
  ringFrames?: number;
}

/** Two stacks on one cable. */
export class HostPair {
  readonly pair: MemoryPair;
  readonly a: Interface;
  readonly b: Interface;
  readonly tcpA: TcpEndpoint;
  readonly tcpB: TcpEndpoint;
  now = 0;

  /** Builds both stacks. */
  constructor(options: HostPairOptions = {}) {
    const seed = options.seed ?? 1;
    this.pair = new MemoryPair({
      seed,
      impair: options.impair,
      ringFrames: options.ringFrames ?? 4096,
    });
    this.a = new Interface(this.pair.a, {
      addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
      gateway: ADDR_B,
      rng: new Rng(seed + 10),
    });
    this.b = new Interface(this.pair.b, {
      addresses: [Ipv4Cidr.parse("10.0.0.2/24")],
      rng: new Rng(seed + 20),
    });
    const key = (n: number) => {
      const k = new Uint8Array(16);
      new Rng(seed * 31 + n).fill(k);
      return k;
    };
    this.tcpA = new TcpEndpoint({
      rng: new Rng(seed + 30),
      isnKey: key(1),
      cookieKey: key(2),
      config: options.tcp,
      ...options.endpointA,
    });
    this.tcpB = new TcpEndpoint({
      rng: new Rng(seed + 40),
      isnKey: key(3),
      cookieKey: key(4),
      config: options.tcp,
    });
    this.a.attach(6, this.tcpA);
    this.b.attach(6, this.tcpB);
  }

  /** Sends a raw frame to A, as if from the cable; false when the link is full. */
  injectToA(frame: Uint8Array): boolean {
    return this.pair.b.send(this.now, frame.length, (bytes, offset) => bytes.set(frame, offset));
  }

  /** Polls both stacks at the current time until idle (bounded). */
  settle(): void {
    for (let i = 0; i < 10_000; i++) {
      const wa = this.a.poll(this.now);
      const wb = this.b.poll(this.now);
      if (!wa && !wb) return;
    }
    throw new Error(`The stacks did not settle at ${this.now} ms`);
  }

  /** The earliest deadline of either stack. */
  next(): number | undefined {
    const x = this.a.pollAt(this.now);
    const y = this.b.pollAt(this.now);
    if (x === undefined) return y;
    if (y === undefined) return x;
    return Math.min(x, y);
  }

  /** Runs until `done()` or `limitMs` of virtual time pass; returns whether done. */
  run(done: () => boolean, limitMs: number): boolean {
    const end = this.now + limitMs;
    for (let i = 0; i < 1_000_000; i++) {
      this.settle();
      if (done()) return true;
      const at = this.next();
      if (at === undefined || at > end) {
        this.now = end;
        this.settle();
        return done();
      }
      this.now = Math.max(at, this.now + 0.001);
    }
    return done();
  }

  /** Connects B to A's `port`, accepting on A; returns both ends once established (or throws). */
  connect(port: number, limitMs = 10_000): { client: TcpConnection; server: TcpConnection } {
    let server: TcpConnection | undefined;
    const listener = this.tcpA.listen(port, { backlog: 64 });
    const client = this.tcpB.connect(ADDR_A, port);
    this.run(() => (server ??= listener.accept()) !== undefined && client.state === 4, limitMs);
    if (server === undefined) throw new Error("The connection did not open");
    return { client, server };
  }
}

/** A pump that moves `total` bytes from `from` to `to`, checking their order; call it each step. */
export class Transfer {
  sent = 0;
  received = 0;
  /** The first wrong byte seen, if any. */
  corrupt: string | undefined = undefined;
  #buf = new Uint8Array(16384);
  #rx = new Uint8Array(65536);

  /** Moves `total` bytes. */
  constructor(readonly from: TcpConnection, readonly to: TcpConnection, readonly total: number) {}

  /** Writes what fits and reads what arrived; true when everything arrived. */
  pump(): boolean {
    while (this.sent < this.total && this.from.writable > 0) {
      const n = Math.min(this.#buf.length, this.total - this.sent);
      for (let i = 0; i < n; i++) this.#buf[i] = (this.sent + i) * 31 + 7;
      const w = this.from.write(this.#buf, 0, n);
      if (w === 0) break;
      this.sent += w;
    }
    for (let n = this.to.read(this.#rx); n > 0; n = this.to.read(this.#rx)) {
      for (let i = 0; i < n && this.corrupt === undefined; i++) {
        const want = ((this.received + i) * 31 + 7) & 0xff;
        if (this.#rx[i] !== want) {
          this.corrupt = `byte ${this.received + i}: ${this.#rx[i]} != ${want}`;
        }
      }
      this.received += n;
    }
    return this.received >= this.total;
  }
}
