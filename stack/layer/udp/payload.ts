/**
 * The payload of the datagram being sent, held for the length of one send: either bytes to copy into
 * the NIC buffer or a fill that writes them there in place. The IPv4 and IPv6 UDP layers share it.
 *
 * @module
 */

import type { UdpFill } from "./endpoint.ts";

const EMPTY = new Uint8Array(0);

/** What `send` / `sendWith` asked to send, until the IP layer's fill callback writes it. */
export class UdpPayload {
  #data: Uint8Array = EMPTY;
  #fill: UdpFill | undefined;

  /** Holds `data`, to be copied. */
  copy(data: Uint8Array): void {
    this.#data = data;
    this.#fill = undefined;
  }

  /** Holds `fill`, to be called with the payload's place. */
  fillWith(fill: UdpFill): void {
    this.#fill = fill;
  }

  /** Lets go of the data or fill once the send is over. */
  clear(): void {
    this.#data = EMPTY;
    this.#fill = undefined;
  }

  /** Writes the `length`-byte payload at `bytes[at ..]`. */
  write(bytes: Uint8Array, at: number, length: number): void {
    if (this.#fill !== undefined) this.#fill(bytes, at, length);
    else bytes.set(this.#data, at);
  }
}
