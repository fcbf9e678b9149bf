/**
 * A TAP device as a NIC: /dev/net/tun opened non-blocking with IFF_TAP | IFF_NO_PI. Frames are read and
 * written with synchronous FFI calls until EAGAIN; only an idle `wait` makes one nonblocking `poll` call.
 * The TAP is created when missing (and then disappears on close); configuring its Linux side is the
 * caller's job.
 *
 * @module
 */

import { Errno, errno, lastError, libc, Linux, NicError } from "./ffi/libc.ts";
import { ifreq, interfaceMtu, localMac } from "./ffi/netdev.ts";
import { PollWait } from "./ffi/poll_wait.ts";
import { type FrameFill, type FrameHandler, newNicStats, type Nic, type NicCaps } from "./nic.ts";
import type { NicStats } from "./nic.ts";

const TUNSETIFF = 0x400454can;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const ETHERNET_HEADER = 14;
/** Room for a frame with a VLAN tag, and for oversized frames that must be counted, not truncated. */
const RX_BUFFER = 65536;
const RX_BUFFER_SIZE = BigInt(RX_BUFFER);

/** Options of `TapNic`. */
export interface TapOptions {
  /** Our MAC (default: a stable locally administered one derived from the TAP name). */
  mac?: number;
  /** Overrides the MTU read from the device. */
  mtu?: number;
  /** Frames kept for retry when the kernel refuses a write with EAGAIN (default 64). */
  txBacklog?: number;
  /** The tun device path (default /dev/net/tun). */
  device?: string;
}

/** A TAP interface driven from user space. */
export class TapNic implements Nic {
  readonly name: string;
  readonly mac: number;
  readonly mtu: number;
  readonly caps: NicCaps = { rxChecksumVerified: false, txChecksumOffload: false };
  readonly stats: NicStats;
  /** The Linux interface name. */
  readonly ifname: string;
  #fd: number;
  #poll: PollWait;
  #rx = new Uint8Array(RX_BUFFER);
  #rxPtr: Deno.PointerValue;
  #tx: Uint8Array;
  #txPtrs: Deno.PointerValue[] = [];
  #txLength: Int32Array;
  /** `BigInt(n)` for every frame length, made once: a bigint per write would allocate. */
  #sizes: bigint[] = [];
  #slotSize: number;
  #backlogHead = 0;
  #backlogCount = 0;
  #closed = false;

  /** Opens (creating if missing) the TAP named `ifname`. */
  constructor(ifname: string, opts: TapOptions = {}) {
    const c = libc();
    const req = ifreq(ifname);
    const device = opts.device ?? "/dev/net/tun";
    const path = new TextEncoder().encode(device + "\0");
    const fd = c.open(path, Linux.O_RDWR | Linux.O_NONBLOCK | Linux.O_CLOEXEC, 0);
    if (fd < 0) {
      const code = errno();
      if (code === Errno.ENOENT || code === Errno.ENODEV || code === Errno.ENXIO) {
        throw new NicError(
          `Cannot open ${device}: no such device (load the tun module or create it with mknod)`,
          code === Errno.ENOENT ? "ENOENT" : "ENODEV",
          code,
        );
      }
      throw lastError(`Cannot open ${device}`, code);
    }
    new DataView(req.buffer).setUint16(16, IFF_TAP | IFF_NO_PI, true);
    if (c.ioctl(fd, TUNSETIFF, req) < 0) {
      const code = errno();
      c.close(fd);
      if (code === Errno.EBUSY) {
        throw new NicError(
          `Cannot attach to TAP ${ifname}: it is busy (another process holds it)`,
          "EBUSY",
          code,
        );
      }
      if (code === Errno.EINVAL) {
        throw new NicError(
          `Cannot attach to TAP ${ifname}: an interface of that name exists and is not a TAP`,
          "EINVAL",
          code,
        );
      }
      throw lastError(`Cannot attach to TAP ${ifname}`, code);
    }
    // The kernel may have completed a name pattern such as "tap%d".
    const end = req.indexOf(0);
    this.ifname = new TextDecoder().decode(req.subarray(0, end < 0 ? 16 : end));
    this.name = `tap:${this.ifname}`;
    this.#fd = fd;
    try {
      this.mtu = opts.mtu ?? interfaceMtu(this.ifname);
    } catch (e) {
      c.close(fd);
      throw e;
    }
    try {
      this.#poll = new PollWait(fd, `Cannot open ${this.name}`);
    } catch (e) {
      c.close(fd);
      throw e;
    }
    this.mac = opts.mac ?? localMac(this.name);
    this.stats = newNicStats();
    this.stats.rxOversize = 0;
    this.stats.txErrors = 0;
    this.#rxPtr = Deno.UnsafePointer.of(this.#rx);
    this.#slotSize = this.mtu + ETHERNET_HEADER;
    const slots = opts.txBacklog ?? 64;
    this.#tx = new Uint8Array(slots * this.#slotSize);
    this.#txLength = new Int32Array(slots);
    for (let n = 0; n <= this.#slotSize; n++) this.#sizes.push(BigInt(n));
    const base = Deno.UnsafePointer.of(this.#tx);
    for (let i = 0; i < slots; i++) {
      this.#txPtrs.push(Deno.UnsafePointer.offset(base!, i * this.#slotSize));
    }
  }

  /** Reads up to `budget` frames (default: until EAGAIN) and hands each to `handler`. */
  receive(_now: number, handler: FrameHandler, budget = Infinity): number {
    if (this.#closed) return 0;
    const c = libc();
    const limit = this.mtu + ETHERNET_HEADER + 4;
    let handed = 0;
    while (handed < budget) {
      const n = c.read(this.#fd, this.#rxPtr, RX_BUFFER_SIZE);
      if (n < 0) {
        const code = errno();
        if (code === Errno.EINTR) continue;
        if (code !== Errno.EAGAIN) this.stats.rxDropped++;
        break;
      }
      if (n > limit || n < ETHERNET_HEADER) {
        this.stats.rxOversize++;
        this.stats.rxDropped++;
        continue;
      }
      this.stats.rxFrames++;
      this.stats.rxBytes += n;
      handed++;
      handler(this.#rx, 0, n);
    }
    return handed;
  }

  /** Writes one frame at once; when the kernel says EAGAIN it waits in the backlog for `flush`. */
  send(_now: number, length: number, fill: FrameFill): boolean {
    if (this.#closed) return false;
    if (length > this.#slotSize || length < 0) {
      throw new RangeError(
        `Cannot send a frame of ${length} bytes on ${this.name}: the MTU of ${this.mtu} allows at most ${this.#slotSize}`,
      );
    }
    if (this.#backlogCount > 0) this.#drainBacklog();
    const slots = this.#txLength.length;
    if (this.#backlogCount === slots) {
      this.stats.txBusy++;
      return false;
    }
    const slot = (this.#backlogHead + this.#backlogCount) % slots;
    fill(this.#tx, slot * this.#slotSize, length);
    this.#txLength[slot] = length;
    this.#backlogCount++;
    this.#drainBacklog();
    return true;
  }

  /** Retries frames the kernel refused with EAGAIN. */
  flush(_now: number): void {
    if (!this.#closed && this.#backlogCount > 0) this.#drainBacklog();
  }

  /** Frames written but refused by the kernel so far (EAGAIN), waiting for `flush`. */
  get backlog(): number {
    return this.#backlogCount;
  }

  /** Waits in one nonblocking `poll` until a frame is readable, `close` is called, or the timeout. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#poll.events = this.#backlogCount > 0 ? Linux.POLLIN | Linux.POLLOUT : Linux.POLLIN;
    return this.#poll.wait(timeoutMs);
  }

  /** Closes the device; a pending wait returns at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll.close(() => {
      libc().close(this.#fd);
      this.#fd = -1;
    });
  }

  #drainBacklog(): void {
    const c = libc();
    const slots = this.#txLength.length;
    while (this.#backlogCount > 0) {
      const slot = this.#backlogHead;
      const length = this.#txLength[slot];
      const n = c.write(this.#fd, this.#txPtrs[slot], this.#sizes[length]);
      if (n < 0) {
        const code = errno();
        if (code === Errno.EAGAIN || code === Errno.ENOBUFS) return;
        if (code === Errno.EINTR) continue;
        // EIO while the Linux side is down, EINVAL for a malformed frame: the frame is lost.
        this.stats.txErrors++;
      } else {
        this.stats.txFrames++;
        this.stats.txBytes += length;
      }
      this.#backlogHead = (this.#backlogHead + 1) % slots;
      this.#backlogCount--;
    }
  }
}
