/**
 * The NIC interface: every link (in-memory, TAP, AF_PACKET, virtio) and every wrapper (pcap, impairment)
 * implements it. Receive lends the driver's own buffer (a ring slot) for the duration of a callback; send
 * lends a free transmit buffer that the caller fills in place. Neither copies nor allocates per frame.
 *
 * @module
 */

/** Offloads a NIC provides; layers skip or leave checksums accordingly. */
export interface NicCaps {
  /** Received frames had their transport checksums verified by the device (virtio GUEST_CSUM). */
  rxChecksumVerified: boolean;
  /** The device completes transport checksums on send (virtio CSUM); layers write the pseudo-header sum. */
  txChecksumOffload: boolean;
  /**
   * TCP segmentation offload: the largest TCP payload of one TCP/IPv4 frame the device accepts beyond the
   * MTU (0 or unset: none). Such a frame is a train of segments of MTU − IP header − TCP header payload
   * bytes each, the last maybe shorter, that the device (or the peer, on a memory link) cuts or takes whole.
   */
  tsoMaxBytes?: number;
}

/** Counters every NIC keeps. */
export interface NicStats {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames dropped on receive (ring overrun, malformed descriptor, impairment). */
  rxDropped: number;
  /** Sends refused because no transmit buffer was free. */
  txBusy: number;
  [counter: string]: number;
}

/**
 * Called with one received frame: `bytes[offset .. offset + length)` is the Ethernet frame (no FCS). The
 * buffer belongs to the NIC and is only valid during the call.
 */
export type FrameHandler = (bytes: Uint8Array, offset: number, length: number) => void;

/** Fills `bytes[offset .. offset + length)` with one outgoing Ethernet frame, in place. */
export type FrameFill = (bytes: Uint8Array, offset: number, length: number) => void;

/** A network interface card as the stack sees it. */
export interface Nic {
  /** A name for logs and counters, such as `tap:tap0` or `memory:a`. */
  readonly name: string;
  /** The link's MAC address, 48 bits in a number. */
  readonly mac: number;
  /** The largest Ethernet payload (IP datagram) the link carries, usually 1500. */
  readonly mtu: number;
  /** Offloads the device provides. */
  readonly caps: NicCaps;
  /** Counters. */
  readonly stats: NicStats;
  /**
   * Hands up to `budget` received frames to `handler`, one call each, and returns how many it handed out.
   * `now` is the stack's clock in milliseconds (for capture timestamps and simulated delay).
   */
  receive(now: number, handler: FrameHandler, budget?: number): number;
  /**
   * Sends one frame of `length` bytes that `fill` writes in place into a free transmit buffer. Returns false,
   * without calling `fill`, when no buffer is free (the caller retries on a later poll).
   */
  send(now: number, length: number, fill: FrameFill): boolean;
  /** Pushes out frames batched by `send` (a doorbell or ring flush); a no-op for unbatched links. */
  flush(now: number): void;
  /**
   * Resolves when a frame may be ready to receive, or after `timeoutMs` at the latest. Used by the runtime
   * loop only when the stack is idle; it must not busy-spin.
   */
  wait(timeoutMs: number): Promise<void>;
  /** The next time (ms) the link itself has something due (a delayed frame), or undefined. */
  pollAt?(now: number): number | undefined;
  /** Releases the device. */
  close(): void;
}

/** Creates the counters every NIC starts with. */
export function newNicStats(): NicStats {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, rxDropped: 0, txBusy: 0 };
}
