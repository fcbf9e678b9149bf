/**
 * The transmission control block (RFC 9293 §3.3.1): the variables of one connection that the modules
 * of its state machine share (`arrival.ts`, `ack.ts`, `recovery.ts`, `output.ts`, `timeouts.ts`,
 * `lifecycle.ts`). Internal to `stack/layer/tcp/`: apps see a connection through `TcpConnection`.
 *
 * @module
 */

import { seqAdd } from "../../wire/seq.ts";
import type { TcpConfig } from "./config.ts";
import type { TcpHost } from "./connection.ts";
import type { CongestionController } from "./congestion/controller.ts";
import { cubic } from "./congestion/cubic.ts";
import { ConnOptions, DEFAULT_MSS } from "./options.ts";
import { ReceiveWindow } from "./rcv_window.ts";
import type { RecvBuffer } from "./recv_buffer.ts";
import { RttEstimator } from "./rtt.ts";
import { SackScoreboard } from "./sack_scoreboard.ts";
import type { SendBuffer } from "./send_buffer.ts";
import type { SendTimes } from "./send_times.ts";
import { ConnTimers } from "./timers.ts";

/** Event bits a connection raises for its endpoint to deliver. */
export const ConnEvent = {
  /** Data, window space or a state change for the app. */
  In: 1,
  /** A passively opened connection reached ESTABLISHED. */
  Open: 2,
  /** The connection reached CLOSED and must leave the tables. */
  Closed: 4,
} as const;

/** One connection's variables; the connection's state, four-tuple and events stay on `TcpConnection`. */
export class Tcb {
  readonly host: TcpHost;
  cfg: TcpConfig;
  // Buffers are allocated on first use and dropped once a closing connection has emptied them, so idle
  // and TIME-WAIT connections cost little memory.
  sendBuf: SendBuffer | undefined = undefined;
  recvBuf: RecvBuffer | undefined = undefined;
  /** The segment being processed may be lent to the receive buffer. */
  lend = false;
  readonly rtt: RttEstimator;
  cc: CongestionController;
  readonly sack = new SackScoreboard();
  readonly timers = new ConnTimers();
  sent: SendTimes | undefined = undefined; // allocated with the first data sent
  readonly opts: ConnOptions;
  readonly rcvWindow = new ReceiveWindow();
  readonly sackOut: number[] = [];

  // Send sequence space (RFC 9293 §3.3.1); sndMax is the highest sequence number sent so far.
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  sndBufSeq = 0; // the sequence number of the send buffer's first byte
  finQueued = false;
  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  pendingFin: number | undefined = undefined;
  finReceived = false;
  readShut = false;
  // RTT timing without timestamps (Karn's rule: never time a retransmitted segment).
  rttSeq: number | undefined = undefined;
  rttStart = 0;
  rexmitTs: number | undefined = undefined; // TSval of the last timeout's resend
  // Loss recovery (RFC 6582 NewReno, RFC 6675 SACK).
  dupAcks = 0;
  inRecovery = false;
  recover = 0;
  highRxt = 0;
  holeRexmitAt: number | undefined = undefined; // when the hole at SND.UNA was last resent
  // RFC 6937 RecoverFS, prr_delivered, prr_out, and the bytes it allows now.
  recoverFs = 0;
  prrDelivered = 0;
  prrOut = 0;
  prrAllow = 0;
  rexmitHead = false;
  // Deadlines.
  tlpProbe = false;
  tlpOut = false; // a probe is unacknowledged: no second one
  lastActivity = 0;
  lastDataSentAt = -Infinity;
  retries = 0;
  // Pending output.
  ackNow = false;
  challengeSecond = -1;
  lastOowAckAt = -Infinity;
  challengeCount = 0;
  ackPending = 0;
  probe = false;
  /** The app filled the send buffer since the last ACK: it may grow (`expandSendBuffer`). */
  sendFull = false;
  probesOut = 0; // zero-window probes since the last acceptable ACK
  noDelay: boolean;

  /** Creates the block of a closed connection. */
  constructor(host: TcpHost, config: TcpConfig, tsOffset: number) {
    this.host = host;
    this.cfg = config;
    this.noDelay = config.noDelay;
    this.rtt = new RttEstimator({
      initialRtoMs: config.initialRtoMs,
      minRtoMs: config.minRtoMs,
      maxRtoMs: config.maxRtoMs,
    });
    this.cc = (config.congestion ?? cubic)(DEFAULT_MSS);
    this.opts = new ConnOptions(config, tsOffset);
  }

  /** Starts the send sequence space at the initial sequence number. */
  setIss(iss: number): void {
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.sndBufSeq = seqAdd(this.iss, 1);
    this.recover = this.iss;
  }

  /** Free receive-buffer space (all of it before the buffer exists). */
  recvFree(): number {
    return this.recvBuf?.window ?? this.cfg.recvBufferSize;
  }

  /** The sequence number just past the last byte the app wrote (where FIN goes). */
  dataEnd(): number {
    return seqAdd(this.sndBufSeq, this.sendBuf?.length ?? 0);
  }
}
