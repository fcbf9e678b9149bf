/**
 * In-memory links for tests and simulations: `Loopback` (a NIC that receives what it sends) and
 * `MemoryPair` (two NICs joined by a cable with seeded impairments). Frames live in preallocated pools;
 * receive lends a pool slot, send fills one in place.
 *
 * @module
 */

import { Rng } from "../util/rng.ts";
import { type Impairments, MemoryChannel } from "./memory_channel.ts";
import { type FrameFill, type FrameHandler, newNicStats, type Nic, type NicCaps } from "./nic.ts";
import type { NicStats } from "./nic.ts";

export type { Impairments } from "./memory_channel.ts";

const ETHERNET_HEADER = 14;
/** The largest TSO payload: a 64 KiB IPv4 datagram less the IPv4 and the longest TCP header. */
export const MEMORY_TSO_MAX_BYTES = 0xffff - 20 - 60;

/** A NIC whose frames travel through in-memory channels. */
export class MemoryNic implements Nic {
  readonly name: string;
  readonly mac: number;
  readonly mtu: number;
  readonly caps: NicCaps;
  readonly stats: NicStats;
  #rx: MemoryChannel | undefined;
  #tx: MemoryChannel | undefined;
  #closed = false;

  /**
   * Creates an unconnected NIC; `MemoryPair` and `Loopback` wire its channels. `checksumOffload` makes
   * it claim both checksum offloads (see `MemoryPairOptions.checksumOffload`), `tso` segmentation
   * offload (see `MemoryPairOptions.tso`).
   */
  constructor(
    name: string,
    mac: number,
    mtu: number,
    stats: NicStats,
    checksumOffload = false,
    tso = false,
  ) {
    this.name = name;
    this.mac = mac;
    this.mtu = mtu;
    this.stats = stats;
    this.caps = { rxChecksumVerified: checksumOffload, txChecksumOffload: checksumOffload };
    if (tso) this.caps.tsoMaxBytes = MEMORY_TSO_MAX_BYTES;
  }

  /** Connects the NIC to its receive and transmit channels. */
  connect(rx: MemoryChannel, tx: MemoryChannel): void {
    this.#rx = rx;
    this.#tx = tx;
  }

  /** Hands deliverable frames to `handler`. */
  receive(now: number, handler: FrameHandler, budget?: number): number {
    if (this.#closed || this.#rx === undefined) return 0;
    return this.#rx.receive(now, handler, budget);
  }

  /** Sends one frame filled in place; false when the link's pool is full. */
  send(now: number, length: number, fill: FrameFill): boolean {
    if (this.#closed || this.#tx === undefined) return false;
    return this.#tx.send(now, length, fill);
  }

  /** Nothing is batched on a memory link. */
  flush(_now: number): void {}

  /** Resolves when the peer sends, or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#closed || this.#rx === undefined) return Promise.resolve();
    return this.#rx.wait(timeoutMs);
  }

  /** When the next delayed frame becomes deliverable. */
  pollAt(now: number): number | undefined {
    if (this.#closed || this.#rx === undefined) return undefined;
    return this.#rx.pollAt(now);
  }

  /** Stops the NIC and drops the frames in flight towards it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rx?.close();
  }
}

/** Options of `Loopback`. */
export interface LoopbackOptions {
  mac?: number;
  mtu?: number;
  /** Frames the loop holds before `send` reports busy (default 256). */
  ringFrames?: number;
  /** Claim checksum offload (see `MemoryPairOptions.checksumOffload`; default false). */
  checksumOffload?: boolean;
}

/** A NIC that receives every frame it sends, on its next `receive`. */
export class Loopback extends MemoryNic {
  /** Creates a loopback NIC with its own frame pool. */
  constructor(opts: LoopbackOptions = {}) {
    const mtu = opts.mtu ?? 1500;
    const stats = newNicStats();
    super("memory:loopback", opts.mac ?? 0x020000000000, mtu, stats, opts.checksumOffload);
    const channel = new MemoryChannel({
      maxFrame: mtu + ETHERNET_HEADER,
      ringFrames: opts.ringFrames,
      rng: new Rng(0),
      rxStats: stats,
      txStats: stats,
    });
    this.connect(channel, channel);
  }
}

/** Options of `MemoryPair`. */
export interface MemoryPairOptions {
  /** Seed of the impairments' random choices (default 1). */
  seed?: number;
  mtu?: number;
  macA?: number;
  macB?: number;
  /** Frames each direction holds before `send` reports busy, when no `queueFrames` is set (default 256). */
  ringFrames?: number;
  /** Impairments for both directions, or per direction. */
  impair?: Impairments | { aToB?: Impairments; bToA?: Impairments };
  /**
   * Both ends claim `txChecksumOffload` and `rxChecksumVerified` (default false): senders leave transport
   * checksums as pseudo-header sums and receivers skip verifying them, as a virtio link marks frames
   * DATA_VALID between guests on one host. Memory cannot damage a frame, so this is only refused with
   * `corrupt`, whose flipped bits nothing would then catch.
   */
  checksumOffload?: boolean;
  /**
   * Both ends claim TCP segmentation offload (`NicCaps.tsoMaxBytes`, default false) and the cable
   * carries their TCP frames of up to 64 KiB whole, as virtio GSO does between guests on one host: the
   * receiving stack takes the train of segments as one. Impairments hit such a frame as one frame.
   * Each direction's pool then holds 64 KiB slots.
   */
  tso?: boolean;
}

/** Two NICs joined by an in-memory cable: what `a` sends, `b` receives, and the other way round. */
export class MemoryPair {
  /** The first end, named `memory:a`. */
  readonly a: MemoryNic;
  /** The second end, named `memory:b`. */
  readonly b: MemoryNic;

  /** Creates both ends and their channels. */
  constructor(opts: MemoryPairOptions = {}) {
    const mtu = opts.mtu ?? 1500;
    const statsA = newNicStats();
    const statsB = newNicStats();
    const imp = opts.impair ?? {};
    const split = "aToB" in imp || "bToA" in imp;
    const aToBImp = split ? (imp as { aToB?: Impairments }).aToB : (imp as Impairments);
    const bToAImp = split ? (imp as { bToA?: Impairments }).bToA : (imp as Impairments);
    const offload = opts.checksumOffload ?? false;
    if (offload && ((aToBImp?.corrupt ?? 0) > 0 || (bToAImp?.corrupt ?? 0) > 0)) {
      throw new RangeError(
        "Cannot offload checksums on a corrupting link: nothing would catch the damage",
      );
    }
    const tso = opts.tso ?? false;
    this.a = new MemoryNic("memory:a", opts.macA ?? 0x020000000001, mtu, statsA, offload, tso);
    this.b = new MemoryNic("memory:b", opts.macB ?? 0x020000000002, mtu, statsB, offload, tso);
    const maxFrame = tso ? Math.max(mtu, 0xffff) + ETHERNET_HEADER : mtu + ETHERNET_HEADER;
    // Each direction draws from its own generator so that traffic one way never shifts the other's.
    const seed = opts.seed ?? 1;
    const aToB = new MemoryChannel({
      maxFrame,
      ringFrames: opts.ringFrames,
      impair: aToBImp,
      rng: new Rng(seed),
      rxStats: statsB,
      txStats: statsA,
    });
    const bToA = new MemoryChannel({
      maxFrame,
      ringFrames: opts.ringFrames,
      impair: bToAImp,
      rng: new Rng((seed ^ 0x5bd1e995) >>> 0),
      rxStats: statsA,
      txStats: statsB,
    });
    this.a.connect(bToA, aToB);
    this.b.connect(aToB, bToA);
  }
}
