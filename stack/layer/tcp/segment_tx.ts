/**
 * Builds outgoing segments in place: one reused `TcpRepr` that the caller fills, and one fill callback
 * that writes header, options and payload straight into the IP layer's buffer.
 *
 * @module
 */

import type { ChecksumMode } from "../../wire/checksum.ts";
import { TCP_PROTOCOL, TcpPacket, TcpRepr } from "../../wire/tcp.ts";
import type { TcpIpFill, TcpIpSender, TcpSendResult } from "./ip.ts";
import type { SendBuffer } from "./send_buffer.ts";

/** How outgoing checksums are written (TCP's name for `ChecksumMode`). */
export type TcpChecksumMode = ChecksumMode;

/** The shared transmit path of one TCP endpoint. */
export class SegmentTx {
  /** The segment being built; `begin` resets it. */
  readonly repr: TcpRepr = new TcpRepr();
  /** How checksums are written. */
  checksum: TcpChecksumMode;
  /** The NIC's `tsoMaxBytes`: new data may go in frames of this many payload bytes (0: MSS only). */
  tsoMaxBytes: number;
  #view = new TcpPacket();
  #payload: SendBuffer | undefined;
  #payloadFrom = 0;
  #payloadLength = 0;
  /** `repr.headerLength` as `send` found it: the getter walks the options, so it is read once. */
  #headerLength = 0;
  #fill: TcpIpFill;

  /** Creates the transmit path. */
  constructor(checksum: TcpChecksumMode = "full", tsoMaxBytes = 0) {
    this.checksum = checksum;
    this.tsoMaxBytes = tsoMaxBytes;
    this.#fill = (bytes, offset, src, dst) => {
      const repr = this.repr;
      const headerLength = this.#headerLength;
      const view = this.#view.wrap(bytes, offset, headerLength + this.#payloadLength);
      if (this.#payloadLength > 0) {
        this.#payload!.copyOut(
          this.#payloadFrom,
          bytes,
          offset + headerLength,
          this.#payloadLength,
        );
      }
      repr.emit(view, src, dst, this.checksum);
    };
  }

  /** Resets the repr to a segment without options or payload and returns it for the caller to adjust. */
  begin(
    srcPort: number,
    dstPort: number,
    seq: number,
    ack: number,
    flags: number,
    window: number,
  ): TcpRepr {
    const repr = this.repr;
    repr.srcPort = srcPort;
    repr.dstPort = dstPort;
    repr.seq = seq >>> 0;
    repr.ack = ack >>> 0;
    repr.flags = flags;
    repr.window = window;
    repr.urgent = 0;
    repr.mss = undefined;
    repr.windowScale = undefined;
    repr.sackPermitted = false;
    // Setting an array's length is a runtime call in V8; most segments have no SACK blocks to clear.
    if (repr.sackBlocks.length !== 0) repr.sackBlocks.length = 0;
    repr.tsVal = undefined;
    repr.tsEcr = undefined;
    repr.payloadOffset = 0;
    repr.payloadLength = 0;
    return repr;
  }

  /**
   * Sends the segment in `repr` from `src` to `dst`, with `length` payload bytes copied from `payload`
   * starting at byte `from` of that buffer.
   */
  send(
    ip: TcpIpSender,
    src: number,
    dst: number,
    payload?: SendBuffer,
    from = 0,
    length = 0,
  ): TcpSendResult {
    this.#payload = payload;
    this.#payloadFrom = from;
    this.#payloadLength = length;
    this.repr.payloadLength = length;
    const headerLength = this.repr.headerLength;
    this.#headerLength = headerLength;
    const result = ip.send(dst, TCP_PROTOCOL, headerLength + length, this.#fill, src);
    this.#payload = undefined;
    return result;
  }
}
