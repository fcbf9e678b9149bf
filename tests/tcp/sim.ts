/**
 * A virtual-time driver for link tests: two interfaces joined by an impaired `MemoryPair`, each with a
 * TCP endpoint attached. `step` polls both until idle, then jumps the clock to the earliest deadline.
 *
 * @module
 */

import { Interface } from "../../stack/layer/interface.ts";
import { TcpEndpoint, type TcpEndpointOptions } from "../../stack/layer/tcp/endpoint.ts";
import type { TcpConfig } from "../../stack/layer/tcp/config.ts";
import { type Impairments, MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr } from "../../stack/wire/address.ts";

/** 10.0.0.1, side A. */
export const ADDR_A = 0x0a000001;
/** 10.0.0.2, side B. */
export const ADDR_B = 0x0a000002;

/** Options of a `Sim`. */
export interface SimOptions {
  seed?: number;
  impair?: Impairments | { aToB?: Impairments; bToA?: Impairments };
  tcp?: Partial<TcpConfig>;
  endpoint?: TcpEndpointOptions;
  mtu?: number;
  ringFrames?: number;
  /** The link claims checksum offload and TCP uses it, as `tcpFor` does (default false). */
  checksumOffload?: boolean;
  /** The link does TCP segmentation offload and TCP uses it, as `tcpFor` does (default false). */
  tso?: boolean;
}

/** Two stacks on one in-memory link, on a virtual clock. */
export class Sim {
  readonly pair: MemoryPair;
  readonly a: Interface;
  readonly b: Interface;
  readonly tcpA: TcpEndpoint;
  readonly tcpB: TcpEndpoint;
  now = 0;
  /** Steps taken (bounded by callers). */
  steps = 0;

  constructor(options: SimOptions = {}) {
    const seed = options.seed ?? 1;
    this.pair = new MemoryPair({
      seed,
      impair: options.impair,
      mtu: options.mtu,
      // TSO slots are 64 KiB each: a quarter of the frames keeps the pools at 32 MiB.
      ringFrames: options.ringFrames ?? (options.tso ? 256 : 1024),
      checksumOffload: options.checksumOffload,
      tso: options.tso,
    });
    // Static neighbours: the memory link flips bits without an Ethernet FCS to catch them, and a
    // corrupted ARP reply would poison a cache for good; these tests are about TCP.
    const arp = { entryTtlMs: 1e12, announcements: 0 };
    this.a = new Interface(this.pair.a, {
      addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
      rng: new Rng(seed * 2 + 1),
      arp,
    });
    this.b = new Interface(this.pair.b, {
      addresses: [Ipv4Cidr.parse("10.0.0.2/24")],
      rng: new Rng(seed * 2 + 2),
      arp,
    });
    this.a.arp.cache.learn(ADDR_B, this.pair.b.mac, 0, true);
    this.b.arp.cache.learn(ADDR_A, this.pair.a.mac, 0, true);
    const key = (n: number) => {
      const k = new Uint8Array(16);
      new Rng(seed * 16 + n).fill(k);
      return k;
    };
    const config = { ...options.tcp };
    // The NIC's offloads as stack/socket/tcp.ts `tcpFor` applies them.
    const caps = this.pair.a.caps;
    const checksum = caps.txChecksumOffload ? "pseudo" as const : "full" as const;
    const verifyChecksum = !caps.rxChecksumVerified;
    const tsoMaxBytes = caps.tsoMaxBytes ?? 0;
    this.tcpA = new TcpEndpoint({
      rng: new Rng(seed * 4 + 1),
      isnKey: key(1),
      cookieKey: key(2),
      config,
      checksum,
      verifyChecksum,
      tsoMaxBytes,
      ...options.endpoint,
    });
    this.tcpB = new TcpEndpoint({
      rng: new Rng(seed * 4 + 2),
      isnKey: key(3),
      cookieKey: key(4),
      config,
      checksum,
      verifyChecksum,
      tsoMaxBytes,
      ...options.endpoint,
    });
    this.a.attach(6, this.tcpA);
    this.b.attach(6, this.tcpB);
  }

  /** Polls both sides at the current time until neither has work (bounded). */
  pollNow(): void {
    for (let i = 0; i < 10_000; i++) {
      const wa = this.a.poll(this.now);
      const wb = this.b.poll(this.now);
      if (!wa && !wb) {
        const next = this.#next();
        if (next === undefined || next > this.now) return;
      }
    }
  }

  /** Polls, then moves the clock to the next deadline; false when nothing is pending at all. */
  step(): boolean {
    this.steps++;
    this.pollNow();
    const next = this.#next();
    if (next === undefined) return false;
    this.now = Math.max(this.now, next);
    return true;
  }

  /** Steps until `done()` or `limitMs` of virtual time or `maxSteps`; returns whether done. */
  run(done: () => boolean, limitMs = 600_000, maxSteps = 5_000_000): boolean {
    const end = this.now + limitMs;
    let idle = 0;
    for (let i = 0; i < maxSteps; i++) {
      this.steps++;
      const workedA = this.a.poll(this.now);
      const workedB = this.b.poll(this.now);
      const worked = workedA || workedB;
      if (done()) return true;
      if (worked) {
        idle = 0;
        continue;
      }
      const next = this.#next();
      if (next === undefined || next > end) return false;
      if (next > this.now) {
        this.now = next;
        idle = 0;
      } else if (++idle > 100) {
        return false; // something claims to be due but does no work: a stall
      }
    }
    return done();
  }

  /** Like `run`, letting promises settle between steps (for the socket API). */
  async runAsync(done: () => boolean, limitMs = 600_000, maxSteps = 1_000_000): Promise<boolean> {
    const end = this.now + limitMs;
    for (let i = 0; i < maxSteps; i++) {
      await settle();
      if (done()) return true;
      this.pollNow();
      await settle();
      if (done()) return true;
      const next = this.#next();
      if (next === undefined) {
        await settle();
        if (this.#next() === undefined) return done();
        continue;
      }
      this.now = Math.max(this.now, next);
      if (this.now > end) return done();
    }
    return done();
  }

  /** Runs until `promise` settles and returns its outcome; throws when the simulation stalls first. */
  async drive<T>(promise: Promise<T>, limitMs = 600_000): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => (settled = true));
    watched.catch(() => {});
    if (!(await this.runAsync(() => settled, limitMs))) throw new Error("the simulation stalled");
    return await watched;
  }

  #next(): number | undefined {
    const x = this.a.pollAt(this.now);
    const y = this.b.pollAt(this.now);
    if (x === undefined) return y;
    if (y === undefined) return x;
    return Math.min(x, y);
  }
}

/** Lets pending promise reactions and stream callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
