/**
 * The Ethernet layer: filters received frames by destination MAC (own unicast, broadcast, joined
 * multicast groups), strips an IEEE 802.1Q tag, and hands the payload to the Recv handler registered for
 * its EtherType (ARP, IPv4, or an app's raw handler). On send it writes the header in place in a NIC
 * buffer, tags it when the interface is on a VLAN, and pads short frames to the 60-byte minimum.
 *
 * @module
 */

import { isBroadcastMac, isMulticastMac } from "../../wire/address.ts";
import {
  ETHERNET_HEADER_LENGTH,
  ETHERNET_MIN_FRAME_LENGTH,
  ETHERNET_VLAN_HEADER_LENGTH,
  EthernetFrame,
  EtherType,
} from "../../wire/ethernet.ts";
import type { Nic } from "../../nic/nic.ts";
import { zeroBytes } from "../../util/zero_bytes.ts";
import { addHandler, type SendHandler } from "../handler.ts";
import { countWireError, newLayerStats } from "../stats.ts";

/** An incoming frame as a Recv handler sees it; reused, valid only during the call. */
export interface EthIncoming {
  src: number;
  dst: number;
  /** The payload's EtherType (the inner one of a tagged frame). */
  etherType: number;
  /** The VLAN id of a tagged frame, else undefined. */
  vlanId: number | undefined;
  /** The payload, padding included: `bytes[offset .. offset + length)`. */
  bytes: Uint8Array;
  offset: number;
  length: number;
  /** The whole frame. */
  frame: EthernetFrame;
}

/** A Recv handler for one EtherType. */
export interface EthRecv {
  receive(packet: EthIncoming, now: number): void;
}

/** Writes `length` payload bytes in place at `bytes[offset ..]`. */
export type EthFill = (bytes: Uint8Array, offset: number, length: number) => void;

/** The Ethernet transmit side Send handlers get. */
export interface EthTx {
  /** Sends one frame to `dst` whose payload `fill` writes; false when no NIC buffer was free. */
  send(dst: number, etherType: number, payloadLength: number, fill: EthFill, now: number): boolean;
  /** The largest payload a frame may carry. */
  readonly mtu: number;
  /** The interface's MAC. */
  readonly mac: number;
}

/** Options of the Ethernet layer. */
export interface EthOptions {
  /** The interface's MAC (default: the NIC's). */
  mac?: number;
  /** Tag sent frames with this VLAN id and accept only frames of it. */
  vlanId?: number;
  /** Accept every multicast frame, not only joined groups. */
  allMulticast?: boolean;
  /** Accept every frame whatever its destination. */
  promiscuous?: boolean;
}

/** The Ethernet endpoint of an interface. */
export class EthEndpoint implements EthTx {
  /** Counters. */
  readonly stats = newLayerStats(
    "dropNotForUs",
    "dropOwnSource",
    "dropVlan",
    "dropUnknownType",
    "txBusy",
  );
  /** The interface's MAC. */
  readonly mac: number;
  /** The 802.1Q VLAN the interface is on, or undefined when untagged. */
  readonly vlanId: number | undefined;
  #nic: Nic;
  #handlers = new Map<number, EthRecv>();
  #senders: SendHandler<EthTx>[] = [];
  #groups = new Set<number>();
  #allMulticast: boolean;
  #promiscuous: boolean;
  #frame = new EthernetFrame();
  #txFrame = new EthernetFrame();
  #incoming: EthIncoming;
  // The frame being sent, read by the fill bound once in the constructor (no closure per frame).
  #txDst = 0;
  #txType = 0;
  #txPayload = 0;
  #txFill: EthFill = () => {};
  #frameFill: (bytes: Uint8Array, offset: number, length: number) => void;

  /** Creates the layer over `nic`. */
  constructor(nic: Nic, options: EthOptions = {}) {
    this.#nic = nic;
    this.mac = options.mac ?? nic.mac;
    this.vlanId = options.vlanId;
    this.#allMulticast = options.allMulticast ?? false;
    this.#promiscuous = options.promiscuous ?? false;
    this.#incoming = {
      src: 0,
      dst: 0,
      etherType: 0,
      vlanId: undefined,
      bytes: new Uint8Array(0),
      offset: 0,
      length: 0,
      frame: this.#frame,
    };
    this.#frameFill = (bytes, offset, length) => this.#writeFrame(bytes, offset, length);
  }

  /** The largest payload: the NIC's MTU, less the tag when on a VLAN (NICs size frames for untagged). */
  get mtu(): number {
    return this.#nic.mtu - (this.vlanId === undefined ? 0 : 4);
  }

  /** Registers the Recv handler of `etherType` (replacing any); the returned function removes it. */
  register(etherType: number, handler: EthRecv): () => void {
    this.#handlers.set(etherType, handler);
    return () => {
      if (this.#handlers.get(etherType) === handler) this.#handlers.delete(etherType);
    };
  }

  /** Adds a Send handler called on every poll; the returned function removes it. */
  addSender(handler: SendHandler<EthTx>): () => void {
    return addHandler(this.#senders, handler);
  }

  /** The Send handlers (the interface polls them). */
  get senders(): readonly SendHandler<EthTx>[] {
    return this.#senders;
  }

  /** Accepts frames sent to the multicast MAC `group`. */
  join(group: number): void {
    this.#groups.add(group);
  }

  /** Stops accepting frames sent to `group`. */
  leave(group: number): void {
    this.#groups.delete(group);
  }

  /** Handles one received frame; never throws on bad input (drops and counts it). */
  receive(bytes: Uint8Array, offset: number, length: number, now: number): void {
    const stats = this.stats;
    stats.rxPackets++;
    const frame = this.#frame.wrap(bytes, offset, length);
    const error = frame.check();
    if (error !== undefined) {
      countWireError(stats, error);
      return;
    }
    const dst = frame.dst;
    if (dst !== this.mac && !this.#promiscuous) {
      if (!isMulticastMac(dst)) {
        stats.dropNotForUs++;
        return;
      }
      if (!isBroadcastMac(dst) && !this.#allMulticast && !this.#groups.has(dst)) {
        stats.dropNotForUs++;
        return;
      }
    }
    const src = frame.src;
    if (src === this.mac || isMulticastMac(src)) {
      // Our own frame looped back by a switch or bridge, or a forged group source (IEEE 802.3 §3.2.3).
      stats.dropOwnSource++;
      return;
    }
    let vlanId: number | undefined;
    if (frame.vlanTagged) {
      vlanId = frame.vlanId;
      // VLAN 0 is a priority tag only (IEEE 802.1Q §9.6): it belongs to the untagged network.
      if (vlanId === 0) vlanId = undefined;
    }
    if (vlanId !== this.vlanId) {
      stats.dropVlan++;
      return;
    }
    const etherType = frame.payloadType;
    const handler = this.#handlers.get(etherType);
    if (handler === undefined) {
      stats.dropUnknownType++;
      return;
    }
    const incoming = this.#incoming;
    incoming.src = src;
    incoming.dst = dst;
    incoming.etherType = etherType;
    incoming.vlanId = vlanId;
    incoming.bytes = bytes;
    incoming.offset = frame.payloadOffset;
    incoming.length = frame.payloadLength;
    handler.receive(incoming, now);
  }

  /** Sends one frame to `dst` whose payload `fill` writes in place; false when the NIC is busy. */
  send(dst: number, etherType: number, payloadLength: number, fill: EthFill, now: number): boolean {
    const header = this.vlanId === undefined ? ETHERNET_HEADER_LENGTH : ETHERNET_VLAN_HEADER_LENGTH;
    const length = Math.max(ETHERNET_MIN_FRAME_LENGTH, header + payloadLength);
    this.#txDst = dst;
    this.#txType = etherType;
    this.#txPayload = payloadLength;
    this.#txFill = fill;
    const sent = this.#nic.send(now, length, this.#frameFill);
    this.#txFill = noFill;
    if (!sent) {
      this.stats.txBusy++;
      return false;
    }
    this.stats.txPackets++;
    return true;
  }

  #writeFrame(bytes: Uint8Array, offset: number, length: number): void {
    const frame = this.#txFrame.wrap(bytes, offset, length);
    frame.dst = this.#txDst;
    frame.src = this.mac;
    let header = ETHERNET_HEADER_LENGTH;
    if (this.vlanId === undefined) {
      frame.etherType = this.#txType;
    } else {
      frame.etherType = EtherType.Vlan;
      bytes[offset + 14] = 0;
      bytes[offset + 15] = 0;
      frame.vlanId = this.vlanId;
      bytes[offset + 16] = this.#txType >>> 8;
      bytes[offset + 17] = this.#txType & 0xff;
      header = ETHERNET_VLAN_HEADER_LENGTH;
    }
    const payloadEnd = offset + header + this.#txPayload;
    // Padding must be zero (RFC 894), not whatever the ring slot held before.
    if (payloadEnd < offset + length) zeroBytes(bytes, payloadEnd, offset + length);
    this.#txFill(bytes, offset + header, this.#txPayload);
  }
}

function noFill(): void {}
