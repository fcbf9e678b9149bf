/**
 * Typed errors of the TCP socket API, named like `Deno.errors` so that code written for `Deno.Conn` can
 * catch them the same way (by class or by `name`).
 *
 * @module
 */

/** The peer answered the SYN with RST: nothing listens there. */
export class ConnectionRefused extends Error {
  /** Creates the error. */
  constructor(message = "Connection refused", options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionRefused";
  }
}

/** The peer reset an established connection. */
export class ConnectionReset extends Error {
  /** Creates the error. */
  constructor(message = "Connection reset by peer", options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionReset";
  }
}

/** The peer stopped answering: retransmissions, SYNs or keepalive probes ran out. */
export class TimedOut extends Error {
  /** Creates the error. */
  constructor(message = "Connection timed out", options?: ErrorOptions) {
    super(message, options);
    this.name = "TimedOut";
  }
}

/** The local port is already listening, or the four-tuple is taken. */
export class AddrInUse extends Error {
  /** Creates the error. */
  constructor(message = "Address already in use", options?: ErrorOptions) {
    super(message, options);
    this.name = "AddrInUse";
  }
}

/** The connection or listener was closed by this side, or never had a route. */
export class BadResource extends Error {
  /** Creates the error. */
  constructor(message = "Connection is closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "BadResource";
  }
}
