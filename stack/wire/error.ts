/**
 * The error every wire view and repr returns (never throws) for bytes it cannot accept.
 *
 * @module
 */

/** Why a packet was rejected; layers count drops by this code. */
export type WireErrorCode = "truncated" | "malformed" | "checksum" | "unsupported";

/** A packet that cannot be parsed, with a machine-readable `code` and a sentence-case message. */
export class WireError extends Error {
  /** Why the packet was rejected. */
  readonly code: WireErrorCode;

  /** Creates an error such as `new WireError("truncated", "Cannot parse IPv4 header: 12 bytes")`. */
  constructor(code: WireErrorCode, message: string) {
    super(message);
    this.name = "WireError";
    this.code = code;
  }
}

/** True when `value` is a `WireError` (narrows `Repr | WireError` results). */
export function isWireError(value: unknown): value is WireError {
  return value instanceof WireError;
}
