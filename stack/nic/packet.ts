/**
 * An AF_PACKET socket bound to one interface, with PACKET_MMAP rings: frames are read and written in place
 * through views of the shared ring (zero copy). Receive uses TPACKET_V2 (one slot per frame) by default, or
 * TPACKET_V3 (frames packed in blocks); transmit fills a TX ring that `flush` hands to the kernel with one
 * `sendto` per batch. See Linux Documentation/networking/packet_mmap.rst.
 *
 * Frames larger than the MTU are dropped and counted (`rxTruncated`): turn off GRO/LRO on the interface,
 * and TSO/GSO on a local veth peer, since the kernel hands packet sockets merged super-frames otherwise.
 *
 * Why V2 by default: V3 hands a block over only when it is full or its timeout (1 ms here) ends, so at
 * low rates every frame waits up to that long. Measured in tests/bench/nic_bench.ts on a 2-vCPU VM, a
 * single-frame echo took a median of ~100 µs with V2 and ~920 µs with V3. V3 receives bursts with less
 * CPU and packs small frames tighter (no drops at ~450k frames/s of 64 B), so it suits receive-heavy
 * bulk work: pass `version: 3`.
 *
 * @module
 */

import { Errno, errno, lastError, libc, Linux, MAP_FAILED, NicError } from "./ffi/libc.ts";
import { Logger } from "../util/log.ts";
import { completeTransportChecksum } from "./checksum_fixup.ts";
import { interfaceIndex, interfaceMtu, localMac } from "./ffi/netdev.ts";
import { PollWait } from "./ffi/poll_wait.ts";
import { type FrameFill, type FrameHandler, newNicStats, type Nic, type NicCaps } from "./nic.ts";
import type { NicStats } from "./nic.ts";

const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_PROMISC = 1;
const PACKET_RX_RING = 5;
const PACKET_STATISTICS = 6;
const PACKET_VERSION = 10;
const PACKET_TX_RING = 13;
const PACKET_LOSS = 14;
const PACKET_QDISC_BYPASS = 20;
const PACKET_IGNORE_OUTGOING = 23;
const TPACKET_V2 = 1;
const TPACKET_V3 = 2;

const TP_STATUS_KERNEL = 0;
const TP_STATUS_USER = 1;
const TP_STATUS_LOSING = 4;
/** The frame is CHECKSUM_PARTIAL: its transport checksum is not computed yet. */
const TP_STATUS_CSUMNOTREADY = 8;
const TP_STATUS_VLAN_VALID = 0x10;
const TP_STATUS_VLAN_TPID_VALID = 0x40;
const ETHERTYPE_VLAN = 0x8100;
const TP_STATUS_AVAILABLE = 0;
const TP_STATUS_SEND_REQUEST = 1;
const TP_STATUS_WRONG_FORMAT = 4;
const PACKET_OUTGOING = 4;

/** struct tpacket2_hdr: status, len, snaplen, mac, then struct sockaddr_ll at 32. */
const V2 = {
  status: 0,
  len: 4,
  snaplen: 8,
  mac: 12,
  vlanTci: 24,
  vlanTpid: 26,
  pkttype: 32 + 10,
  txData: 32,
} as const;
/** struct tpacket3_hdr: next_offset, ..., snaplen, len, status, mac, then sockaddr_ll at 48. */
const V3 = {
  next: 0,
  snaplen: 12,
  len: 16,
  status: 20,
  mac: 24,
  vlanTci: 32,
  vlanTpid: 36,
  pkttype: 48 + 10,
  txData: 48,
} as const;
/** struct tpacket_block_desc with struct tpacket_hdr_v1. */
const BLOCK = { status: 8, count: 12, first: 16 } as const;
const ETHERNET_HEADER = 14;
const log = new Logger("packet");

/** Options of `PacketNic`. */
export interface PacketOptions {
  /** Our MAC (default: a stable locally administered one derived from the interface name). */
  mac?: number;
  /** Overrides the MTU read from the interface. */
  mtu?: number;
  /** Receive ring layout: 2 (TPACKET_V2, default: no added latency) or 3 (TPACKET_V3 blocks). */
  version?: 2 | 3;
  /**
   * Receive ring size in 2048-byte frame slots (default 4096, 8 MiB): enough to ride out a few ms of
   * scheduling delay at 500k frames/s. V3 packs small frames tighter into the same memory.
   */
  rxFrames?: number;
  /** Transmit ring size in frames (default 512). */
  txFrames?: number;
  /** V3 only: how long the kernel keeps a partly filled block before handing it over (ms, default 1). */
  blockTimeoutMs?: number;
  /** Put the interface in promiscuous mode so frames to our own MAC arrive (default true). */
  promiscuous?: boolean;
  /** Skip the qdisc on send (faster, but invisible to captures on this host; default false). */
  qdiscBypass?: boolean;
}

/** An interface driven through AF_PACKET with PACKET_MMAP rings. */
export class PacketNic implements Nic {
  readonly name: string;
  readonly mac: number;
  readonly mtu: number;
  readonly caps: NicCaps = { rxChecksumVerified: false, txChecksumOffload: false };
  readonly stats: NicStats;
  /** The Linux interface name. */
  readonly ifname: string;
  /** The TPACKET version of the rings. */
  readonly version: 2 | 3;
  #fd: number;
  #poll: PollWait | undefined;
  #map: Deno.PointerValue = null;
  #mapSize = 0n;
  #bytes = new Uint8Array(0);
  #words = new Int32Array(0);
  #view = new DataView(new ArrayBuffer(0));
  #frameSize = 2048;
  #rxFrames = 0;
  #rxHead = 0;
  #blockSize = 0;
  #blocks = 0;
  #block = 0;
  #inBlock = false;
  #left = 0;
  #packet = 0;
  #txBase = 0;
  #txFrames = 0;
  #txHead = 0;
  #txPending = 0;
  #maxFrame: number;
  #statsBuffer = new Uint8Array(12);
  #statsLength = new Uint32Array(1);
  #closed = false;

  /** Opens an AF_PACKET socket on `ifname` and maps its rings. */
  constructor(ifname: string, opts: PacketOptions = {}) {
    const c = libc();
    const index = interfaceIndex(ifname);
    if (index === undefined) {
      throw new NicError(
        `Cannot open packet:${ifname}: interface ${ifname} does not exist`,
        "ENODEV",
        Errno.ENODEV,
      );
    }
    this.ifname = ifname;
    this.name = `packet:${ifname}`;
    this.version = opts.version ?? 2;
    this.mtu = opts.mtu ?? interfaceMtu(ifname);
    this.mac = opts.mac ?? localMac(this.name);
    this.#maxFrame = this.mtu + ETHERNET_HEADER;
    this.stats = newNicStats();
    Object.assign(this.stats, {
      rxTruncated: 0,
      rxVlan: 0,
      rxChecksumCompleted: 0,
      txErrors: 0,
      txKicks: 0,
    });
    // Protocol 0 receives nothing until bind, so no frame of another interface slips in meanwhile.
    const fd = c.socket(Linux.AF_PACKET, Linux.SOCK_RAW | Linux.SOCK_CLOEXEC, 0);
    if (fd < 0) throw lastError(`Cannot open packet:${ifname}`, errno(), "CAP_NET_RAW");
    this.#fd = fd;
    try {
      this.#setup(index, opts);
    } catch (e) {
      this.#release();
      throw e;
    }
  }

  #setup(index: number, opts: PacketOptions): void {
    const c = libc();
    const what = `Cannot open packet:${this.ifname}`;
    const setInt = (option: number, value: number, label: string) => {
      const v = new Int32Array([value]);
      if (c.setsockopt(this.#fd, Linux.SOL_PACKET, option, new Uint8Array(v.buffer), 4) < 0) {
        throw lastError(`${what}: setting ${label} failed`);
      }
    };
    setInt(PACKET_VERSION, this.version === 3 ? TPACKET_V3 : TPACKET_V2, "PACKET_VERSION");
    setInt(PACKET_LOSS, 1, "PACKET_LOSS");
    if (opts.qdiscBypass) setInt(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
    // Our own transmissions would otherwise come back on the receive ring (Linux 4.20+).
    setInt(PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");

    // A frame slot holds the header, the sockaddr_ll, padding to a 16-byte data offset, and the frame.
    let frame = 2048;
    while (frame < 128 + this.#maxFrame) frame *= 2;
    this.#frameSize = frame;
    const page = 4096;
    let rxBytes: number;
    const req = new Uint32Array(7);
    if (this.version === 2) {
      const block = Math.max(page, frame * 16);
      const perBlock = block / frame;
      const blocks = Math.max(1, Math.ceil((opts.rxFrames ?? 4096) / perBlock));
      this.#rxFrames = blocks * perBlock;
      req.set([block, blocks, frame, this.#rxFrames]);
      rxBytes = block * blocks;
      this.#setRing(PACKET_RX_RING, req.subarray(0, 4), "the receive ring");
    } else {
      const block = 1 << 18;
      const blocks = Math.max(2, Math.ceil(((opts.rxFrames ?? 4096) * frame) / block));
      this.#blockSize = block;
      this.#blocks = blocks;
      req.set([block, blocks, frame, (block / frame) * blocks, opts.blockTimeoutMs ?? 1, 0, 0]);
      rxBytes = block * blocks;
      this.#setRing(PACKET_RX_RING, req, "the receive ring");
    }
    const txBlock = Math.max(page, frame * 16);
    const txPerBlock = txBlock / frame;
    const txBlocks = Math.max(1, Math.ceil((opts.txFrames ?? 512) / txPerBlock));
    this.#txFrames = txBlocks * txPerBlock;
    req.fill(0);
    req.set([txBlock, txBlocks, frame, this.#txFrames]);
    this.#setRing(
      PACKET_TX_RING,
      this.version === 3 ? req : req.subarray(0, 4),
      "the transmit ring",
    );
    this.#txBase = rxBytes;

    const total = rxBytes + txBlock * txBlocks;
    this.#mapSize = BigInt(total);
    const map = c.mmap(
      null,
      this.#mapSize,
      Linux.PROT_READ | Linux.PROT_WRITE,
      Linux.MAP_SHARED,
      this.#fd,
      0n,
    );
    if (map === null || Deno.UnsafePointer.value(map) === MAP_FAILED) {
      throw lastError(`${what}: mapping ${total} bytes of rings failed`);
    }
    this.#map = map;
    const buffer = Deno.UnsafePointerView.getArrayBuffer(map, total);
    this.#bytes = new Uint8Array(buffer);
    this.#words = new Int32Array(buffer);
    this.#view = new DataView(buffer);

    const sll = new Uint8Array(20);
    const s = new DataView(sll.buffer);
    s.setUint16(0, Linux.AF_PACKET, true);
    s.setUint16(2, Linux.ETH_P_ALL, false);
    s.setInt32(4, index, true);
    if (c.bind(this.#fd, sll, sll.length) < 0) throw lastError(`${what}: bind failed`);
    if (opts.promiscuous ?? true) {
      // Membership ends when the socket closes, so the interface leaves promiscuous mode with us.
      const mreq = new Uint8Array(16);
      const m = new DataView(mreq.buffer);
      m.setInt32(0, index, true);
      m.setUint16(4, PACKET_MR_PROMISC, true);
      if (c.setsockopt(this.#fd, Linux.SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 16) < 0) {
        throw lastError(`${what}: entering promiscuous mode failed`);
      }
    }
    this.#poll = new PollWait(this.#fd, what);
  }

  #setRing(option: number, req: Uint32Array, label: string): void {
    const bytes = new Uint8Array(req.buffer, req.byteOffset, req.byteLength);
    if (libc().setsockopt(this.#fd, Linux.SOL_PACKET, option, bytes, bytes.length) < 0) {
      throw lastError(`Cannot open packet:${this.ifname}: setting up ${label} failed`);
    }
  }

  /** Hands up to `budget` frames from the receive ring to `handler`, in place. */
  receive(_now: number, handler: FrameHandler, budget = Infinity): number {
    if (this.#closed) return 0;
    return this.version === 2 ? this.#receiveV2(handler, budget) : this.#receiveV3(handler, budget);
  }

  #receiveV2(handler: FrameHandler, budget: number): number {
    const words = this.#words;
    const view = this.#view;
    let handed = 0;
    while (handed < budget) {
      const base = this.#rxHead * this.#frameSize;
      const status = Atomics.load(words, base >>> 2);
      if ((status & TP_STATUS_USER) === 0) break;
      if (status & TP_STATUS_LOSING) this.#collectDrops();
      const snaplen = view.getUint32(base + V2.snaplen, true);
      const accepted = this.#accept(
        status,
        snaplen,
        view.getUint32(base + V2.len, true),
        this.#bytes[base + V2.pkttype],
      );
      try {
        if (accepted) {
          handed++;
          const at = base + view.getUint16(base + V2.mac, true);
          if (status & TP_STATUS_CSUMNOTREADY) this.#completeChecksum(at, snaplen);
          if (status & TP_STATUS_VLAN_VALID) {
            const tci = view.getUint16(base + V2.vlanTci, true);
            const tpid = view.getUint16(base + V2.vlanTpid, true);
            handler(this.#bytes, this.#restoreVlan(at, status, tci, tpid), snaplen + 4);
          } else {
            handler(this.#bytes, at, snaplen);
          }
        }
      } finally {
        Atomics.store(words, base >>> 2, TP_STATUS_KERNEL);
        this.#rxHead = this.#rxHead + 1 === this.#rxFrames ? 0 : this.#rxHead + 1;
      }
    }
    return handed;
  }

  #receiveV3(handler: FrameHandler, budget: number): number {
    const words = this.#words;
    const view = this.#view;
    let handed = 0;
    while (handed < budget) {
      const blockBase = this.#block * this.#blockSize;
      if (!this.#inBlock) {
        const status = Atomics.load(words, (blockBase + BLOCK.status) >>> 2);
        if ((status & TP_STATUS_USER) === 0) break;
        if (status & TP_STATUS_LOSING) this.#collectDrops();
        this.#inBlock = true;
        this.#left = view.getUint32(blockBase + BLOCK.count, true);
        this.#packet = blockBase + view.getUint32(blockBase + BLOCK.first, true);
      }
      if (this.#left > 0) {
        const p = this.#packet;
        const snaplen = view.getUint32(p + V3.snaplen, true);
        const status = view.getUint32(p + V3.status, true);
        const accepted = this.#accept(
          status,
          snaplen,
          view.getUint32(p + V3.len, true),
          this.#bytes[p + V3.pkttype],
        );
        this.#packet = p + view.getUint32(p + V3.next, true);
        this.#left--;
        if (accepted) {
          handed++;
          try {
            const at = p + view.getUint16(p + V3.mac, true);
            if (status & TP_STATUS_CSUMNOTREADY) this.#completeChecksum(at, snaplen);
            if (status & TP_STATUS_VLAN_VALID) {
              const tci = view.getUint32(p + V3.vlanTci, true) & 0xffff;
              const tpid = view.getUint16(p + V3.vlanTpid, true);
              handler(this.#bytes, this.#restoreVlan(at, status, tci, tpid), snaplen + 4);
            } else {
              handler(this.#bytes, at, snaplen);
            }
          } finally {
            if (this.#left === 0) this.#releaseBlock(blockBase);
          }
          continue;
        }
      }
      if (this.#left === 0) this.#releaseBlock(blockBase);
    }
    return handed;
  }

  #releaseBlock(blockBase: number): void {
    Atomics.store(this.#words, (blockBase + BLOCK.status) >>> 2, TP_STATUS_KERNEL);
    this.#inBlock = false;
    this.#block = this.#block + 1 === this.#blocks ? 0 : this.#block + 1;
  }

  /** Counts and filters a received frame; true when it goes to the handler. */
  #accept(status: number, snaplen: number, len: number, pkttype: number): boolean {
    if (pkttype === PACKET_OUTGOING) return false;
    if (snaplen !== len || snaplen > this.#maxFrame + 4) {
      if (this.stats.rxTruncated++ === 0) {
        // Almost always GRO here or TSO/GSO on a local peer (a veth): merged segments beyond the MTU.
        log.warn(
          `Dropped a ${len}-byte frame on ${this.name}: above the MTU of ${this.mtu}; turn off ` +
            `receive offloads (ethtool -K ${this.ifname} gro off lro off) and, for a veth, ` +
            `segmentation offloads on its peer (ethtool -K PEER tso off gso off)`,
        );
      }
      this.stats.rxDropped++;
      return false;
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += status & TP_STATUS_VLAN_VALID ? snaplen + 4 : snaplen;
    return true;
  }

  /**
   * Puts back the 802.1Q tag the kernel moved into the ring header (VLAN receive offload), in the
   * slot's headroom before the frame: the MAC addresses move 4 bytes back, the tag follows them.
   * Returns the frame's new start.
   */
  #restoreVlan(at: number, status: number, tci: number, tpid: number): number {
    const b = this.#bytes;
    b.copyWithin(at - 4, at, at + 12);
    const type = status & TP_STATUS_VLAN_TPID_VALID ? tpid : ETHERTYPE_VLAN;
    b[at + 8] = type >> 8;
    b[at + 9] = type & 0xff;
    b[at + 10] = tci >> 8;
    b[at + 11] = tci & 0xff;
    this.stats.rxVlan++;
    return at - 4;
  }

  #completeChecksum(at: number, length: number): void {
    if (completeTransportChecksum(this.#bytes, at, length)) this.stats.rxChecksumCompleted++;
  }

  /** Adds the kernel's ring-overrun drops (PACKET_STATISTICS, reset on read) to `rxDropped`. */
  #collectDrops(): void {
    this.#statsLength[0] = 12;
    const len = new Uint8Array(this.#statsLength.buffer);
    if (
      libc().getsockopt(this.#fd, Linux.SOL_PACKET, PACKET_STATISTICS, this.#statsBuffer, len) === 0
    ) {
      this.stats.rxDropped += new DataView(this.#statsBuffer.buffer).getUint32(4, true);
    }
  }

  /** Fills the next free transmit slot in place; `flush` sends the batch. */
  send(_now: number, length: number, fill: FrameFill): boolean {
    if (this.#closed) return false;
    if (length > this.#maxFrame || length < 0) {
      throw new RangeError(
        `Cannot send a frame of ${length} bytes on ${this.name}: the MTU of ${this.mtu} allows at most ${this.#maxFrame}`,
      );
    }
    const base = this.#txBase + this.#txHead * this.#frameSize;
    const statusAt = (base + (this.version === 2 ? V2.status : V3.status)) >>> 2;
    let status = Atomics.load(this.#words, statusAt);
    if (
      status !== TP_STATUS_AVAILABLE && status !== TP_STATUS_WRONG_FORMAT && this.#txPending > 0
    ) {
      // The ring is full of our own unsent frames: hand them over now rather than refuse.
      this.flush(_now);
      status = Atomics.load(this.#words, statusAt);
    }
    if (status === TP_STATUS_WRONG_FORMAT) {
      this.stats.txErrors++;
    } else if (status !== TP_STATUS_AVAILABLE) {
      this.stats.txBusy++;
      return false;
    }
    const layout = this.version === 2 ? V2 : V3;
    fill(this.#bytes, base + layout.txData, length);
    this.#view.setUint32(base + layout.len, length, true);
    if (this.version === 2) this.#view.setUint32(base + V2.snaplen, length, true);
    else this.#view.setUint32(base + V3.next, 0, true);
    Atomics.store(this.#words, statusAt, TP_STATUS_SEND_REQUEST);
    this.#txHead = this.#txHead + 1 === this.#txFrames ? 0 : this.#txHead + 1;
    this.#txPending++;
    this.stats.txFrames++;
    this.stats.txBytes += length;
    return true;
  }

  /** Asks the kernel to send every filled transmit slot, with one non-blocking `sendto`. */
  flush(_now: number): void {
    if (this.#closed || this.#txPending === 0) return;
    this.stats.txKicks++;
    const n = libc().sendto(this.#fd, null, 0n, Linux.MSG_DONTWAIT, null, 0);
    if (n < 0) {
      const code = errno();
      // EAGAIN/ENOBUFS: the device queue is full; the slots stay requested for the next flush.
      if (code !== Errno.EAGAIN && code !== Errno.ENOBUFS && code !== Errno.EINTR) {
        this.stats.txErrors++;
        this.#txPending = 0;
      }
      return;
    }
    this.#txPending = 0;
  }

  /** Waits in one nonblocking `poll` until the receive ring has data, `close`, or the timeout. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#closed || this.#poll === undefined) return Promise.resolve();
    return this.#poll.wait(timeoutMs);
  }

  /** Unmaps the rings and closes the socket; a pending wait returns at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poll !== undefined) this.#poll.close(() => this.#release());
    else this.#release();
  }

  #release(): void {
    const c = libc();
    // Drop the views before unmapping: touching them afterwards would fault.
    this.#bytes = new Uint8Array(0);
    this.#words = new Int32Array(0);
    this.#view = new DataView(new ArrayBuffer(0));
    if (this.#map !== null) c.munmap(this.#map, this.#mapSize);
    this.#map = null;
    if (this.#fd >= 0) c.close(this.#fd);
    this.#fd = -1;
  }
}
