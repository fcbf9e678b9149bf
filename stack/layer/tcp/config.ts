/**
 * Per-connection TCP settings with the defaults Linux uses where a choice exists.
 *
 * @module
 */

import type { CongestionFactory } from "./congestion/controller.ts";

/** Settings of one connection; every field has a default (`resolveTcpConfig`). */
export interface TcpConfig {
  /** Receive buffer bytes (the most we advertise). */
  recvBufferSize: number;
  /** Send buffer bytes (what `write` may queue) at first. */
  sendBufferSize: number;
  /**
   * The send buffer grows up to this many bytes while the app keeps it full and the windows would
   * carry more (Linux tcp_wmem[2] autotuning). Setting `sendBufferSize` alone fixes the size, as
   * SO_SNDBUF does.
   */
  sendBufferMax: number;
  /** Most out-of-order holes the receive buffer tracks (bounds reassembly memory). */
  maxOutOfOrderHoles: number;
  /** Largest MSS we announce; the path MTU lowers it. */
  maxMss: number;
  /** Offer and accept RFC 7323 window scaling. */
  windowScaling: boolean;
  /** Offer and accept RFC 7323 timestamps (RTTM and PAWS). */
  timestamps: boolean;
  /** Offer and accept RFC 2018 selective acknowledgments. */
  sack: boolean;
  /** Disable Nagle's algorithm (RFC 9293 §3.8.6.2.1), like TCP_NODELAY. */
  noDelay: boolean;
  /** Longest delay of an ACK (RFC 9293 §3.8.6.3 allows up to 500 ms). */
  delayedAckMs: number;
  /** Time spent in TIME-WAIT, 2×MSL (RFC 9293 §3.4.2). */
  timeWaitMs: number;
  /** How long a fully closed connection waits in FIN-WAIT-2 for the peer's FIN (Linux tcp_fin_timeout). */
  finWait2TimeoutMs: number;
  /** Initial retransmission timeout (RFC 6298 §2.1). */
  initialRtoMs: number;
  /** Lower bound of the RTO (Linux uses 200 ms; RFC 6298 says 1 s). */
  minRtoMs: number;
  /** Upper bound of the RTO. */
  maxRtoMs: number;
  /** SYN retransmissions before `connect` fails with a time-out. */
  synRetries: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped. */
  synAckRetries: number;
  /** Retransmissions of data, or unanswered zero-window probes, before the connection times out. */
  maxRetries: number;
  /** Zero-window probes before a connection the app closed is reset (Linux tcp_orphan_retries). */
  orphanRetries: number;
  /** Send keepalive probes on an idle connection (RFC 9293 §3.8.4). */
  keepalive: boolean;
  /** Idle time before the first keepalive probe. */
  keepaliveIdleMs: number;
  /** Time between unanswered keepalive probes. */
  keepaliveIntervalMs: number;
  /** Unanswered probes before the connection fails with a time-out. */
  keepaliveProbes: number;
  /** Congestion control; CUBIC by default, as in Linux. */
  congestion: CongestionFactory | undefined;
}

/** The defaults of `TcpConfig`. */
export const TCP_DEFAULTS: Readonly<TcpConfig> = Object.freeze({
  recvBufferSize: 256 * 1024,
  sendBufferSize: 256 * 1024,
  sendBufferMax: 4 * 1024 * 1024,
  maxOutOfOrderHoles: 32,
  maxMss: 65495,
  windowScaling: true,
  timestamps: true,
  sack: true,
  noDelay: false,
  delayedAckMs: 40,
  timeWaitMs: 60_000,
  finWait2TimeoutMs: 60_000,
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 120_000,
  synRetries: 6,
  synAckRetries: 5,
  maxRetries: 15,
  orphanRetries: 8,
  keepalive: false,
  keepaliveIdleMs: 7_200_000,
  keepaliveIntervalMs: 75_000,
  keepaliveProbes: 9,
  congestion: undefined,
});

/** Fills the unset fields of `partial` from `base` (the endpoint's settings or the defaults). */
export function resolveTcpConfig(
  partial: Partial<TcpConfig> | undefined,
  base: Readonly<TcpConfig> = TCP_DEFAULTS,
): TcpConfig {
  const config = { ...base };
  if (partial !== undefined) {
    for (const [name, value] of Object.entries(partial)) {
      if (value !== undefined) (config as Record<string, unknown>)[name] = value;
    }
    if (partial.sendBufferSize !== undefined && partial.sendBufferMax === undefined) {
      config.sendBufferMax = partial.sendBufferSize;
    }
  }
  return config;
}
