/**
 * Initial sequence numbers per RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), where M is a 4-microsecond timer and F is a keyed hash (SipHash-2-4 here). The clock keeps
 * successive incarnations of one 4-tuple moving forward (RFC 9293 §3.4.1); the hash keeps off-path
 * attackers from guessing them.
 *
 * @module
 */

import { siphash24 } from "../../util/siphash.ts";

/** Produces RFC 6528 initial sequence numbers from a secret key and the clock. */
export class IsnGenerator {
  #key: Uint8Array;
  #tuple = new Uint8Array(12);

  /** Uses `key` (16 bytes) as the secret, or 16 fresh random bytes from `crypto.getRandomValues`. */
  constructor(key?: Uint8Array) {
    if (key !== undefined && key.length !== 16) {
      throw new RangeError(`The ISN key must be 16 bytes, got ${key.length}`);
    }
    this.#key = key?.slice() ?? crypto.getRandomValues(new Uint8Array(16));
  }

  /** The ISN for a connection of this 4-tuple opened at `nowMs`. */
  next(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    nowMs: number,
  ): number {
    const t = this.#tuple;
    writeTuple(t, localAddr, localPort, remoteAddr, remotePort);
    // M ticks every 4 µs (RFC 6528 §3), so it wraps every ~4.77 hours.
    const m = Math.floor(nowMs * 250) % 0x100000000;
    return (m + siphash24(this.#key, t, 12)) >>> 0;
  }
}

/** Writes the 4-tuple as 12 bytes (addresses then ports, big-endian) for hashing. */
export function writeTuple(
  bytes: Uint8Array,
  localAddr: number,
  localPort: number,
  remoteAddr: number,
  remotePort: number,
): void {
  bytes[0] = localAddr >>> 24;
  bytes[1] = localAddr >>> 16;
  bytes[2] = localAddr >>> 8;
  bytes[3] = localAddr;
  bytes[4] = remoteAddr >>> 24;
  bytes[5] = remoteAddr >>> 16;
  bytes[6] = remoteAddr >>> 8;
  bytes[7] = remoteAddr;
  bytes[8] = localPort >>> 8;
  bytes[9] = localPort;
  bytes[10] = remotePort >>> 8;
  bytes[11] = remotePort;
}
