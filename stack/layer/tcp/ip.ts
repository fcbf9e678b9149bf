/**
 * The parts of the IPv4 layer's transport contract (stack/DESIGN.md) that TCP uses. They are structural
 * subsets, so the IPv4 endpoint's own `Ipv4Incoming` and `Ipv4Sender` satisfy them, and packet-level tests
 * can drive TCP with a small fake.
 *
 * @module
 */

/** What `Ipv4Sender.send` reports. */
export type TcpSendResult = "sent" | "queued" | "busy" | "unroutable";

/** Writes a transport payload in place at `bytes[offset ..]`. */
export type TcpIpFill = (bytes: Uint8Array, offset: number, src: number, dst: number) => void;

/** An incoming IPv4 datagram carrying a TCP segment, valid during the call. */
export interface TcpIpIncoming {
  src: number;
  dst: number;
  bytes: Uint8Array;
  offset: number;
  length: number;
  /** True when sent to a broadcast or multicast address (unset counts as unicast). */
  broadcast?: boolean;
}

/** The IPv4 layer's send side as TCP needs it. */
export interface TcpIpSender {
  send(
    dst: number,
    protocol: number,
    payloadLength: number,
    fill: TcpIpFill,
    src?: number,
  ): TcpSendResult;
  sourceFor(dst: number): number | undefined;
  readonly mtu: number;
}
