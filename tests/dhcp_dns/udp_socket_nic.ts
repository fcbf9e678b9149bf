/**
 * A test-only NIC that carries raw Ethernet frames in UDP datagrams on loopback, the format of QEMU's
 * `-netdev socket,udp=...` backend. It lets the stack in this process talk to QEMU's user-mode network
 * (slirp) with no VM: `qemu-system-x86_64 -M none` joins slirp and the socket on a hub. It allocates per
 * frame, which is fine for DHCP tests and wrong for anything fast.
 *
 * @module
 */

import dgram from "node:dgram";
import {
  type FrameFill,
  type FrameHandler,
  newNicStats,
  type Nic,
  type NicStats,
} from "../../stack/nic/nic.ts";

/** A NIC over a UDP socket bound to 127.0.0.1, exchanging frames with one peer port. */
export class UdpSocketNic implements Nic {
  readonly name: string;
  readonly mac: number;
  readonly mtu = 1500;
  readonly caps = { rxChecksumVerified: false, txChecksumOffload: false };
  readonly stats: NicStats = newNicStats();
  #socket: dgram.Socket;
  #peerPort: number;
  #queue: Uint8Array[] = [];
  #wake: (() => void) | undefined;

  private constructor(socket: dgram.Socket, peerPort: number, mac: number) {
    this.#socket = socket;
    this.#peerPort = peerPort;
    this.mac = mac;
    this.name = `udp:${socket.address().port}`;
    socket.on("message", (frame: Uint8Array) => {
      this.#queue.push(new Uint8Array(frame));
      this.#wake?.();
    });
  }

  /** Binds 127.0.0.1 on `port` (0 picks one) and sends frames to 127.0.0.1:`peerPort`. */
  static async open(port: number, peerPort: number, mac: number): Promise<UdpSocketNic> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port, "127.0.0.1", () => resolve());
    });
    return new UdpSocketNic(socket, peerPort, mac);
  }

  /** A free UDP port on 127.0.0.1 at the time of the call (for QEMU's side of the socket). */
  static async freePort(): Promise<number> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return port;
  }

  /** The local port. */
  get port(): number {
    return this.#socket.address().port;
  }

  receive(_now: number, handler: FrameHandler, budget = 64): number {
    let n = 0;
    while (n < budget && this.#queue.length > 0) {
      const frame = this.#queue.shift()!;
      this.stats.rxFrames++;
      this.stats.rxBytes += frame.length;
      handler(frame, 0, frame.length);
      n++;
    }
    return n;
  }

  send(_now: number, length: number, fill: FrameFill): boolean {
    const frame = new Uint8Array(length);
    fill(frame, 0, length);
    this.#socket.send(frame, this.#peerPort, "127.0.0.1");
    this.stats.txFrames++;
    this.stats.txBytes += length;
    return true;
  }

  flush(_now: number): void {}

  wait(timeoutMs: number): Promise<void> {
    if (this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  close(): void {
    this.#wake?.();
    this.#socket.close();
  }
}
