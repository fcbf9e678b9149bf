/**
 * A test fixture: two interfaces joined by an in-memory pair with seeded impairments, driven by a
 * virtual clock. `run(ms)` polls both until idle, then jumps the clock to the next deadline, so timers
 * (ARP retries, reassembly timeouts, delayed frames) fire without sleeping.
 *
 * @module
 */

import { type Impairments, MemoryPair } from "../../stack/nic/memory.ts";
import { Interface, type InterfaceOptions } from "../../stack/layer/interface.ts";
import { Ipv4Cidr, parseIpv4 } from "../../stack/wire/address.ts";
import { Rng } from "../../stack/util/rng.ts";

/** 10.0.0.1, the first stack's address. */
export const IP_A = parseIpv4("10.0.0.1");
/** 10.0.0.2, the second stack's address. */
export const IP_B = parseIpv4("10.0.0.2");

/**
 * IPv4 only: these tests count frames and drops exactly, and IPv6's own traffic (DAD, MLD, router
 * solicitations) would add to them. Typed loosely so that it also compiles where `Interface` has no
 * IPv6 option.
 */
const IPV4_ONLY: Record<string, unknown> = { ipv6: false };

/** Options of the fixture. */
export interface TwoStacksOptions {
  seed?: number;
  mtu?: number;
  impair?: Impairments | { aToB?: Impairments; bToA?: Impairments };
  a?: InterfaceOptions;
  b?: InterfaceOptions;
}

/** Two stacks over an in-memory cable, on a virtual clock. */
export class TwoStacks {
  readonly pair: MemoryPair;
  readonly a: Interface;
  readonly b: Interface;
  now = 0;

  /** Creates both stacks: a is 10.0.0.1/24, b is 10.0.0.2/24 unless options say otherwise. */
  constructor(options: TwoStacksOptions = {}) {
    const seed = options.seed ?? 1;
    this.pair = new MemoryPair({ seed, mtu: options.mtu, impair: options.impair });
    this.a = new Interface(this.pair.a, {
      addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
      rng: new Rng(seed + 100),
      ...IPV4_ONLY,
      ...options.a,
    });
    this.b = new Interface(this.pair.b, {
      addresses: [Ipv4Cidr.parse("10.0.0.2/24")],
      rng: new Rng(seed + 200),
      ...IPV4_ONLY,
      ...options.b,
    });
  }

  /** Polls both stacks at the current time until neither has work (bounded). */
  settle(): void {
    for (let i = 0; i < 10_000; i++) {
      const a = this.a.poll(this.now);
      const b = this.b.poll(this.now);
      if (!a && !b) return;
    }
    throw new Error("Stacks did not settle within 10000 polls");
  }

  /** Runs for `ms` of virtual time, jumping from deadline to deadline. */
  run(ms: number): void {
    const end = this.now + ms;
    for (let i = 0; i < 100_000; i++) {
      this.settle();
      const next = earliest(this.a.pollAt(this.now), this.b.pollAt(this.now));
      if (next === undefined || next > end) {
        this.now = end;
        this.settle();
        return;
      }
      // A deadline already due after settling would spin: step at least a microsecond.
      this.now = Math.max(next, this.now + 0.001);
    }
    throw new Error("Virtual clock did not reach the end within 100000 steps");
  }

  /** Closes both NICs. */
  close(): void {
    this.pair.a.close();
    this.pair.b.close();
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
