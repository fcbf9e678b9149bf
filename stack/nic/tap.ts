/**
 * A TAP device as a NIC: /dev/net/tun opened non-blocking with IFF_TAP | IFF_NO_PI. Frames are read
 * and written with synchronous FFI calls until EAGAIN; only an idle `wait` makes one nonblocking
 * `poll` call. The TAP is created when missing (and then disappears on close); configuring its
 * Linux side is the caller's job.
 *
 * Offload is on by default, as in QEMU and gVisor: frames carry a virtio-net header, Linux leaves
 * TCP/UDP checksums to us and hands over TCP segments of up to 64 KiB, and we hand it 64 KiB TCP
 * frames (TSO), so one system call moves ~40 segments. TCP bulk on 2 shared vCPUs, same runs
 * (tests/bench/tap_tcp_bench.ts): Linux→stack 5–16 Gbit/s instead of 0.9–4.7 without, stack→Linux
 * 4–32 instead of 0.5–2.6, beside 5–13 Gbit/s Linux↔Linux over a veth.
 *
 * @module
 */

import { Errno, errno, lastError, libc, Linux, NicError } from "./ffi/libc.ts";
import {
  type ChecksumPlace,
  transportChecksumPlace,
  verifyTransportChecksum,
} from "./checksum_fixup.ts";
import { ifreq, interfaceMtu, localMac } from "./ffi/netdev.ts";
import { PollWait } from "./ffi/poll_wait.ts";
import { zeroBytes } from "../util/zero_bytes.ts";
import { type FrameFill, type FrameHandler, newNicStats, type Nic, type NicCaps } from "./nic.ts";
import type { NicStats } from "./nic.ts";

const TUNSETIFF = 0x400454can;
const TUNSETOFFLOAD = 0x400454d0n;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
/** struct virtio_net_hdr (virtio 1.x §5.1.6), native byte order on a TAP. */
const VNET_HEADER = 10;
const VNET_F_NEEDS_CSUM = 1;
const VNET_F_DATA_VALID = 2;
const VNET_GSO_NONE = 0;
const VNET_GSO_TCPV4 = 1;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERNET_HEADER = 14;
/** The largest TSO payload: a 64 KiB IPv4 datagram less the IPv4 and the longest TCP header. */
export const TAP_TSO_MAX_BYTES = 0xffff - 20 - 60;
/**
 * Room for the largest frame a read can return: the virtio-net header, an Ethernet header with a
 * VLAN tag and a whole 64 KiB IPv4 datagram (a GSO frame); oversized frames are counted, not
 * truncated.
 */
const RX_BUFFER = VNET_HEADER + ETHERNET_HEADER + 4 + 0xffff;
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
  /**
   * Checksum and segmentation offload through a virtio-net header (IFF_VNET_HDR): the NIC reports
   * `rxChecksumVerified` and `txChecksumOffload`, so TCP must write pseudo-header sums (checksum
   * mode "pseudo") and may skip verification, and Linux may hand over TCP segments of up to 64 KiB
   * (TSO). Only IPv4 TCP/UDP frames are sent with a partial checksum: IPv6 layers write whole ones.
   * Default true; false for a plain TAP (every checksum computed and checked here, MTU-sized frames
   * only).
   */
  offload?: boolean;
  /**
   * With `offload`, also TCP segmentation offload on send (default: as `offload`): the NIC reports
   * `tsoMaxBytes`, and a TCP/IPv4 frame over the MTU goes to Linux with a GSO_TCPV4 header whose
   * gso_size is the MTU less the frame's IPv4 and TCP headers, so Linux cuts it into MSS-sized
   * segments when it forwards them (locally it takes the train whole, as from a virtio guest).
   */
  tso?: boolean;
}

/** A TAP interface driven from user space. */
export class TapNic implements Nic {
  readonly name: string;
  readonly mac: number;
  readonly mtu: number;
  readonly caps: NicCaps;
  readonly stats: NicStats;
  /** The Linux interface name. */
  readonly ifname: string;
  #fd: number;
  /** Bytes of virtio-net header before each frame: 10 with offloads, else 0. */
  #header: number;
  #place: ChecksumPlace = { start: 0, offset: 0 };
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
    const offload = opts.offload ?? true;
    const flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
    new DataView(req.buffer).setUint16(16, flags, true);
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
    this.#header = offload ? VNET_HEADER : 0;
    this.caps = { rxChecksumVerified: offload, txChecksumOffload: offload };
    const tso = offload && (opts.tso ?? true);
    if (tso) this.caps.tsoMaxBytes = TAP_TSO_MAX_BYTES;
    // Telling the kernel we take partial checksums and TSO segments turns those features on for the
    // Linux side, which then skips its own checksums and segmentation towards us.
    // Without offloads they are turned off explicitly: a persistent TAP (`ip tuntap add`) keeps the
    // features its last holder set, and Linux would then hand us partial checksums we cannot tell
    // from bad ones (without the virtio-net header nothing says which they are).
    const features = offload ? TUN_F_CSUM | TUN_F_TSO4 : 0;
    if (c.ioctlValue(fd, TUNSETOFFLOAD, BigInt(features)) < 0) {
      const err = lastError(
        `Cannot ${offload ? "enable" : "clear"} offloads on TAP ${this.ifname}`,
      );
      c.close(fd);
      throw err;
    }
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
    Object.assign(this.stats, {
      rxOversize: 0,
      rxErrors: 0,
      rxSegmentsMerged: 0,
      rxChecksumBad: 0,
      txErrors: 0,
      txChecksumOffloaded: 0,
      txSegmentationOffloaded: 0,
    });
    this.#rxPtr = Deno.UnsafePointer.of(this.#rx);
    this.#slotSize = this.#header + ETHERNET_HEADER + (tso ? Math.max(this.mtu, 0xffff) : this.mtu);
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
    const rx = this.#rx;
    const header = this.#header;
    const limit = this.mtu + ETHERNET_HEADER + 4;
    let handed = 0;
    while (handed < budget) {
      const n = c.read(this.#fd, this.#rxPtr, RX_BUFFER_SIZE);
      if (n < 0) {
        const code = errno();
        if (code === Errno.EINTR) continue;
        // EBADFD/EIO once the interface is gone: counted; the app sees no frames, not an exception.
        if (code !== Errno.EAGAIN) this.stats.rxErrors++;
        break;
      }
      const length = n - header;
      // A TSO segment from Linux may exceed the MTU; anything else that does is dropped.
      const merged = header > 0 && rx[1] !== VNET_GSO_NONE;
      if ((length > limit && !merged) || length < ETHERNET_HEADER || n > RX_BUFFER) {
        this.stats.rxOversize++;
        this.stats.rxDropped++;
        continue;
      }
      if (header > 0) {
        if (merged) this.stats.rxSegmentsMerged++;
        // NEEDS_CSUM: generated here, checksum left partial; DATA_VALID: the kernel checked it.
        // Otherwise nobody vouched for it, and the stack was told it need not check: we do.
        if ((rx[0] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID)) === 0) {
          if (verifyTransportChecksum(rx, header, length) === false) {
            this.stats.rxChecksumBad++;
            this.stats.rxDropped++;
            continue;
          }
        }
      }
      this.stats.rxFrames++;
      this.stats.rxBytes += length;
      handed++;
      handler(rx, header, length);
    }
    return handed;
  }

  /** Writes one frame at once; when the kernel says EAGAIN it waits in the backlog for `flush`. */
  send(_now: number, length: number, fill: FrameFill): boolean {
    if (this.#closed) return false;
    const max = this.#slotSize - this.#header;
    if (length > max || length < 0) {
      throw new RangeError(
        `Cannot send a frame of ${length} bytes on ${this.name}: the MTU of ${this.mtu} allows at most ${max}`,
      );
    }
    if (this.#backlogCount > 0) this.#drainBacklog();
    const slots = this.#txLength.length;
    if (this.#backlogCount === slots) {
      this.stats.txBusy++;
      return false;
    }
    const slot = (this.#backlogHead + this.#backlogCount) % slots;
    const base = slot * this.#slotSize;
    fill(this.#tx, base + this.#header, length);
    if (this.#header > 0) this.#writeHeader(base, length);
    this.#txLength[slot] = this.#header + length;
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

  /** The virtio-net header of an outgoing frame: where the NIC (Linux) must finish its checksum. */
  #writeHeader(base: number, length: number): void {
    const tx = this.#tx;
    zeroBytes(tx, base, base + VNET_HEADER);
    const frame = base + VNET_HEADER;
    // IPv6 layers write whole checksums; Linux would sum over them again and get it wrong.
    if (((tx[frame + 12] << 8) | tx[frame + 13]) !== ETHERTYPE_IPV4) return;
    if (!transportChecksumPlace(tx, frame, length, this.#place)) return;
    // The layers wrote the pseudo-header sum into the checksum field (txChecksumOffload).
    tx[base] = VNET_F_NEEDS_CSUM;
    tx[base + 6] = this.#place.start & 0xff;
    tx[base + 7] = this.#place.start >> 8;
    tx[base + 8] = this.#place.offset;
    this.stats.txChecksumOffloaded++;
    if (length - ETHERNET_HEADER > this.mtu) this.#writeGso(base, length);
  }

  /**
   * A TCP/IPv4 frame over the MTU is a TSO frame (stack/DESIGN.md, NICs): GSO_TCPV4 with hdr_len
   * covering the Ethernet, IPv4 and TCP headers and gso_size the payload that fits the MTU behind
   * them. Anything else over the MTU goes as it is, and Linux drops it as it would from a wire.
   */
  #writeGso(base: number, length: number): void {
    const tx = this.#tx;
    const frame = base + VNET_HEADER;
    if (this.caps.tsoMaxBytes === undefined || this.#place.offset !== 16) return;
    const start = this.#place.start;
    const tcpHeader = (tx[frame + start + 12] >> 4) * 4;
    const gsoSize = this.mtu - (start - ETHERNET_HEADER) - tcpHeader;
    if (tcpHeader < 20 || gsoSize <= 0 || start + tcpHeader > length) return;
    const headers = start + tcpHeader;
    tx[base + 1] = VNET_GSO_TCPV4;
    tx[base + 2] = headers & 0xff;
    tx[base + 3] = headers >> 8;
    tx[base + 4] = gsoSize & 0xff;
    tx[base + 5] = gsoSize >> 8;
    this.stats.txSegmentationOffloaded++;
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
        this.stats.txBytes += length - this.#header;
      }
      this.#backlogHead = (this.#backlogHead + 1) % slots;
      this.#backlogCount--;
    }
  }
}
