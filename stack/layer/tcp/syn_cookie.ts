/**
 * SYN cookies (RFC 4987 §3.6) in the layout Linux uses (net/ipv4/syncookies.c): a listener under a SYN
 * flood keeps no state for a SYN and instead encodes what it needs into its own ISN,
 *
 *   cookie = H1(tuple) + peerIsn + (count << 24) + ((H2(tuple, count) + mssIndex) mod 2^24)
 *
 * where `count` is a minute counter and H1, H2 are SipHash-2-4 under a secret key. The ACK that completes
 * the handshake returns cookie + 1, from which the MSS index is recovered and the cookie's age checked.
 * Window scale and SACK-permitted do not fit; like Linux they ride in the low bits of our timestamp
 * (`cookieTsVal`), which the peer echoes.
 *
 * @module
 */

import { siphash24 } from "../../util/siphash.ts";
import { writeTuple } from "./isn.ts";

/** The MSS values a cookie can carry (Linux's IPv4 table); a peer's MSS is rounded down to one. */
export const SYN_COOKIE_MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];

const COUNT_BITS = 8;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** The counter's period: one minute, like Linux's `tcp_cookie_time()`. */
const COUNT_PERIOD_MS = 60_000;
/** Cookies from this and the previous period are accepted, so a cookie lives one to two minutes. */
const MAX_AGE_PERIODS = 2;

/** Stateless SYN-ACK cookies for one listener (or one endpoint). */
export class SynCookies {
  #key: Uint8Array;
  #data = new Uint8Array(17);

  /** Uses `key` (16 bytes) as the secret, or 16 fresh random bytes from `crypto.getRandomValues`. */
  constructor(key?: Uint8Array) {
    if (key !== undefined && key.length !== 16) {
      throw new RangeError(`The SYN cookie key must be 16 bytes, got ${key.length}`);
    }
    this.#key = key?.slice() ?? crypto.getRandomValues(new Uint8Array(16));
  }

  /** Our ISN for the SYN-ACK answering a SYN with sequence number `peerIsn` and MSS option `mss`. */
  encode(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    peerIsn: number,
    mss: number,
    nowMs: number,
  ): number {
    const count = Math.floor(nowMs / COUNT_PERIOD_MS) >>> 0;
    let index = SYN_COOKIE_MSS_TABLE.length - 1;
    while (index > 0 && mss < SYN_COOKIE_MSS_TABLE[index]) index--;
    const h1 = this.#hash(localAddr, localPort, remoteAddr, remotePort, 0, 0);
    const h2 = this.#hash(localAddr, localPort, remoteAddr, remotePort, count, 1);
    return (h1 + peerIsn + ((count << COOKIE_BITS) >>> 0) + ((h2 + index) & COOKIE_MASK)) >>> 0;
  }

  /**
   * The MSS encoded in `cookie` (the ACK's ack number minus 1; `peerIsn` is its seq minus 1), or
   * `undefined` when the cookie is forged, belongs to another connection or is too old. As in Linux, a
   * change of the cookie's lowest bits (or of `peerIsn`) by 1 to 3 may yield another table entry: the
   * peer can only pick a different MSS for a connection it could open anyway.
   */
  decode(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    peerIsn: number,
    cookie: number,
    nowMs: number,
  ): number | undefined {
    const count = Math.floor(nowMs / COUNT_PERIOD_MS) >>> 0;
    const h1 = this.#hash(localAddr, localPort, remoteAddr, remotePort, 0, 0);
    const rest = (cookie - h1 - peerIsn) >>> 0;
    const age = (count - (rest >>> COOKIE_BITS)) & ((1 << COUNT_BITS) - 1);
    if (age >= MAX_AGE_PERIODS) return undefined;
    const h2 = this.#hash(localAddr, localPort, remoteAddr, remotePort, (count - age) >>> 0, 1);
    const index = (rest - h2) & COOKIE_MASK;
    // A forged cookie passes this only with chance 4 in 2^24 per guess.
    return index < SYN_COOKIE_MSS_TABLE.length ? SYN_COOKIE_MSS_TABLE[index] : undefined;
  }

  #hash(
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    count: number,
    which: number,
  ): number {
    const d = this.#data;
    writeTuple(d, localAddr, localPort, remoteAddr, remotePort);
    d[12] = count >>> 24;
    d[13] = count >>> 16;
    d[14] = count >>> 8;
    d[15] = count;
    d[16] = which;
    return siphash24(this.#key, d, 17);
  }
}

const TS_OPTION_BITS = 6;
const TS_OPTION_MASK = (1 << TS_OPTION_BITS) - 1;
const TS_NO_WSCALE = 0xf;
const TS_SACK_BIT = 0x10;

/**
 * The 6 low bits of a cookie SYN-ACK's TSval (Linux's `cookie_init_timestamp`): bits 0-3 hold the
 * peer's window scale (15 when it sent none), bit 4 SACK-permitted.
 */
export function encodeTsOptions(windowScale: number | undefined, sackPermitted: boolean): number {
  const scale = windowScale === undefined ? TS_NO_WSCALE : Math.min(windowScale, 14);
  return scale | (sackPermitted ? TS_SACK_BIT : 0);
}

/** The options in the low bits of an echoed cookie TSval (`tsEcr`), or `undefined` if invalid. */
export function decodeTsOptions(
  tsEcr: number,
): { windowScale: number | undefined; sackPermitted: boolean } | undefined {
  const scale = tsEcr & 0xf;
  // Bit 5 (ECN in Linux) is never set by `encodeTsOptions`.
  if ((tsEcr & TS_OPTION_MASK & ~(0xf | TS_SACK_BIT)) !== 0) return undefined;
  return {
    windowScale: scale === TS_NO_WSCALE ? undefined : scale,
    sackPermitted: (tsEcr & TS_SACK_BIT) !== 0,
  };
}

/**
 * A TSval for a cookie SYN-ACK: `tsNow` with its low 6 bits replaced by the options, stepped back one
 * period if that would put it ahead of `tsNow`, so that timestamps never run ahead of the clock.
 */
export function cookieTsVal(
  tsNow: number,
  windowScale: number | undefined,
  sackPermitted: boolean,
): number {
  let ts = ((tsNow & ~TS_OPTION_MASK) | encodeTsOptions(windowScale, sackPermitted)) >>> 0;
  if (((ts - tsNow) | 0) > 0) ts = (ts - (1 << TS_OPTION_BITS)) >>> 0;
  return ts;
}
