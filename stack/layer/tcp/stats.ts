/**
 * The TCP endpoint's counters.
 *
 * @module
 */

/** Named counters of one TCP endpoint; drops are counted by reason. */
export interface TcpStats {
  [counter: string]: number;
  rxSegments: number;
  txSegments: number;
  txDataSegments: number;
  dropMalformed: number;
  dropChecksum: number;
  dropOutOfWindow: number;
  dropPaws: number;
  dropNoAck: number;
  dropAckUnsent: number;
  dropAckTooOld: number;
  dropAfterFin: number;
  dropStray: number;
  dropBroadcast: number;
  dropConnectionLimit: number;
  dropOutOfOrderFull: number;
  dropBacklogFull: number;
  dropControlQueueFull: number;
  rxOutOfOrder: number;
  rstReceived: number;
  rstSent: number;
  challengeAcks: number;
  challengeAcksSuppressed: number;
  oowAcksSuppressed: number;
  retransmits: number;
  fastRetransmits: number;
  rtoExpired: number;
  tailLossProbes: number;
  lostRetransmits: number;
  timeouts: number;
  windowProbes: number;
  keepaliveProbes: number;
  synCookiesSent: number;
  synCookiesAccepted: number;
  synCookiesRejected: number;
  activeOpens: number;
  timeWaitReused: number;
  passiveOpens: number;
}

/** Zeroed counters. */
export function newTcpStats(): TcpStats {
  return {
    rxSegments: 0,
    txSegments: 0,
    txDataSegments: 0,
    dropMalformed: 0,
    dropChecksum: 0,
    dropOutOfWindow: 0,
    dropPaws: 0,
    dropNoAck: 0,
    dropAckUnsent: 0,
    dropAckTooOld: 0,
    dropAfterFin: 0,
    dropStray: 0,
    dropBroadcast: 0,
    dropConnectionLimit: 0,
    dropOutOfOrderFull: 0,
    dropBacklogFull: 0,
    dropControlQueueFull: 0,
    rxOutOfOrder: 0,
    rstReceived: 0,
    rstSent: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    oowAcksSuppressed: 0,
    retransmits: 0,
    fastRetransmits: 0,
    rtoExpired: 0,
    tailLossProbes: 0,
    lostRetransmits: 0,
    timeouts: 0,
    windowProbes: 0,
    keepaliveProbes: 0,
    synCookiesSent: 0,
    synCookiesAccepted: 0,
    synCookiesRejected: 0,
    activeOpens: 0,
    timeWaitReused: 0,
    passiveOpens: 0,
  };
}
