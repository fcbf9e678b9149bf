/**
 * The connection states of RFC 9293 §3.3.2.
 *
 * @module
 */

/** A TCP connection state (RFC 9293 §3.3.2, Figure 5). */
export const TcpState = {
  Closed: 0,
  Listen: 1,
  SynSent: 2,
  SynReceived: 3,
  Established: 4,
  FinWait1: 5,
  FinWait2: 6,
  CloseWait: 7,
  Closing: 8,
  LastAck: 9,
  TimeWait: 10,
} as const;

/** One of the `TcpState` values. */
export type TcpState = typeof TcpState[keyof typeof TcpState];

const NAMES = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

/** The RFC's name of a state, such as `SYN-RECEIVED`. */
export function tcpStateName(state: TcpState): string {
  return NAMES[state];
}

/** True once both sides' SYNs are acknowledged (RFC 9293 §3.3.2 "synchronized states"). */
export function isSynchronized(state: TcpState): boolean {
  return state >= TcpState.Established;
}

/** True in the states where the peer may still send data to us. */
export function canReceiveData(state: TcpState): boolean {
  return state === TcpState.Established || state === TcpState.FinWait1 ||
    state === TcpState.FinWait2;
}
