/**
 * Limits that keep a hostile or broken client from exhausting the server.
 *
 * @module
 */

/** Size and time limits; every field is optional in `serve` options. */
export interface HttpLimits {
  /** Longest request line in bytes, without its CRLF (answered with 414). */
  maxRequestLineBytes: number;
  /** Largest request head in bytes, CRLFs included (431); also bounds the trailer section. */
  maxHeaderBytes: number;
  /** Most header field lines in one request (431). */
  maxHeaderCount: number;
  /** Largest request body in bytes, declared or received (413). */
  maxBodyBytes: number;
  /** Longest chunk-size line including extensions, in bytes (400). */
  maxChunkLineBytes: number;
  /** Time to receive a whole request head once its first byte arrived (408). */
  headersTimeoutMs: number;
  /** Time a connection may sit between requests before it is closed silently. */
  idleTimeoutMs: number;
  /** Longest wait for more request body bytes while the handler is reading (408). */
  bodyTimeoutMs: number;
  /** Longest time from a request's first byte to the end of its body, so a trickle ends (408). */
  requestTimeoutMs: number;
  /** Longest wait for one response write to be accepted before the connection is closed. */
  writeTimeoutMs: number;
  /** Unread request body the server discards after a response to keep the connection alive. */
  maxDrainBytes: number;
}

/** The defaults, close to what Node and hyper use. */
export const DEFAULT_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxRequestLineBytes: 8 * 1024,
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxBodyBytes: 16 * 1024 * 1024,
  maxChunkLineBytes: 1024,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 5_000,
  bodyTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  writeTimeoutMs: 30_000,
  maxDrainBytes: 64 * 1024,
});

/** Fills the missing fields of `limits` from {@linkcode DEFAULT_LIMITS}. */
export function resolveLimits(limits: Partial<HttpLimits> = {}): HttpLimits {
  const out = { ...DEFAULT_LIMITS, ...limits };
  for (const [key, value] of Object.entries(out)) {
    if (!(typeof value === "number" && value >= 0)) {
      throw new RangeError(`Cannot use HTTP limit ${key}: ${value} is not a non-negative number`);
    }
  }
  return out;
}
