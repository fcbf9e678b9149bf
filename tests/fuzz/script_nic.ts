/**
 * A scripted NIC for the fuzzer: the harness puts one frame in its receive slot before each poll, and
 * every frame the stack sends is checked (so a stack that emits a malformed frame is caught) and
 * counted, then discarded. Sends can be refused at a seeded rate to exercise the stack's busy paths.
 *
 * @module
 */

import { newNicStats, type Nic, type NicCaps, type NicStats } from "../../stack/nic/nic.ts";
import type { FrameFill, FrameHandler } from "../../stack/nic/nic.ts";
import type { Rng } from "../../stack/util/rng.ts";
import { checkOutgoing } from "./outgoing.ts";

/** A NIC that receives what the harness scripts and checks what the stack sends. */
export class ScriptNic implements Nic {
  readonly name = "fuzz:script";
  readonly mac: number;
  readonly mtu: number;
  readonly caps: NicCaps = { rxChecksumVerified: false, txChecksumOffload: false };
  readonly stats: NicStats = newNicStats();
  /** Frames the stack sent that failed `checkOutgoing`, with the reason of the first one. */
  badFrames = 0;
  /** Why the first bad outgoing frame was bad. */
  firstBad: string | undefined = undefined;
  /** Refuse this fraction of sends (0..1) to exercise "busy" paths. */
  busyRate = 0;
  /** The address every outgoing datagram must come from, when set. */
  ownAddress: number | undefined = undefined;
  /** Returns true for a bad-frame reason that is a known, reported bug (counted, not failed). */
  tolerate: ((reason: string) => boolean) | undefined = undefined;
  /** Bad frames tolerated as known bugs. */
  knownBadFrames = 0;
  /** Called with each frame the stack sent (valid during the call), when set. */
  onSend: FrameHandler | undefined = undefined;
  #rx: Uint8Array = new Uint8Array(0);
  #rxLength = -1;
  #tx: Uint8Array;
  #rng: Rng;

  /** Creates the NIC; `rng` decides which sends are refused. */
  constructor(mac: number, rng: Rng, mtu = 1500) {
    this.mac = mac;
    this.mtu = mtu;
    this.#rng = rng;
    this.#tx = new Uint8Array(mtu + 18);
  }

  /** Puts `bytes[0 .. length)` in the receive slot for the next poll (the bytes are not copied). */
  put(bytes: Uint8Array, length: number): void {
    this.#rx = bytes;
    this.#rxLength = length;
  }

  /** Hands the scripted frame, if any, to the stack. */
  receive(_now: number, handler: FrameHandler, budget = 1): number {
    if (this.#rxLength < 0 || budget < 1) return 0;
    const length = this.#rxLength;
    this.#rxLength = -1;
    this.stats.rxFrames++;
    this.stats.rxBytes += length;
    handler(this.#rx, 0, length);
    return 1;
  }

  /** Fills the transmit buffer, checks the frame and drops it. */
  send(_now: number, length: number, fill: FrameFill): boolean {
    if (this.busyRate > 0 && this.#rng.next() < this.busyRate) {
      this.stats.txBusy++;
      return false;
    }
    if (length > this.#tx.length || length < 0) {
      this.#bad(`send of ${length} bytes exceeds the ${this.#tx.length}-byte buffer`);
      return false;
    }
    const tx = this.#tx;
    fill(tx, 0, length);
    this.stats.txFrames++;
    this.stats.txBytes += length;
    const problem = checkOutgoing(tx, length, this.ownAddress);
    if (problem !== undefined) {
      if (this.tolerate?.(problem)) this.knownBadFrames++;
      else this.#bad(problem);
    }
    this.onSend?.(tx, 0, length);
    return true;
  }

  /** Nothing is batched. */
  flush(_now: number): void {}

  /** Never waits: the harness drives every poll. */
  wait(_timeoutMs: number): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release. */
  close(): void {}

  #bad(reason: string): void {
    this.badFrames++;
    this.firstBad ??= reason;
  }
}
