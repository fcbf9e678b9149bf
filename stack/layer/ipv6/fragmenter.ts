/**
 * Source fragmentation (RFC 8200 §4.5): a whole packet built once is sent as fragments of at most the
 * path MTU, each a copy of the fixed header, a fragment header and a slice of the payload written in
 * place into a NIC buffer. Identifications come from a counter started at a random value.
 *
 * @module
 */

import { ETHERTYPE_IPV6, IPV6_HEADER_LENGTH, Ipv6NextHeader, Ipv6Packet } from "../../wire/ipv6.ts";
import {
  IPV6_FRAGMENT_HEADER_LENGTH,
  Ipv6FragmentHeader,
  Ipv6FragmentRepr,
} from "../../wire/ipv6_ext.ts";
import type { EthFill } from "../eth/endpoint.ts";
import type { SendResult } from "../handler.ts";

/** Where fragments go: the Ethernet layer's send. */
export interface FragmentLink {
  send(dst: number, etherType: number, payloadLength: number, fill: EthFill, now: number): boolean;
}

/** The counters the fragmenter updates (the IPv6 layer's). */
export interface FragmentStats {
  txPackets: number;
  txFragments: number;
  txBusy: number;
  dropTooBig: number;
}

/** Sends IPv6 packets in fragments. */
export class Ipv6Fragmenter {
  #link: FragmentLink;
  #stats: FragmentStats;
  #ident: number;
  #repr = new Ipv6FragmentRepr();
  #header = new Ipv6FragmentHeader();
  #ip = new Ipv6Packet();
  // The fragment being written, read by the fill bound once.
  #packet: Uint8Array = new Uint8Array(0);
  #headerAt = 0;
  #dataAt = 0;
  #size = 0;
  #fill: EthFill;

  /** Creates a fragmenter sending through `link`, counting in `stats`, identifications from `ident`. */
  constructor(link: FragmentLink, stats: FragmentStats, ident: number) {
    this.#link = link;
    this.#stats = stats;
    this.#ident = ident >>> 0;
    this.#fill = (bytes, offset) => this.#write(bytes, offset);
  }

  /**
   * Sends the packet at `packet[at ..]` (fixed header, then `length` payload bytes) to `mac` in
   * fragments carrying at most `limit` bytes after the fixed header.
   */
  send(
    mac: number,
    packet: Uint8Array,
    at: number,
    length: number,
    limit: number,
    now: number,
  ): SendResult {
    const chunk = Math.floor((limit - IPV6_FRAGMENT_HEADER_LENGTH) / 8) * 8;
    if (chunk <= 0) {
      this.#stats.dropTooBig++;
      return "unroutable";
    }
    const repr = this.#repr;
    // The hop-by-hop header (MLD only, never this large) would belong to the unfragmentable part.
    repr.nextHeader = packet[at + 6];
    repr.ident = this.#ident;
    this.#ident = (this.#ident + 1) >>> 0;
    this.#packet = packet;
    this.#headerAt = at;
    for (let off = 0; off < length; off += chunk) {
      const size = Math.min(chunk, length - off);
      repr.fragmentOffset = off;
      repr.moreFragments = off + size < length;
      this.#dataAt = at + IPV6_HEADER_LENGTH + off;
      this.#size = size;
      const frame = IPV6_HEADER_LENGTH + IPV6_FRAGMENT_HEADER_LENGTH + size;
      if (!this.#link.send(mac, ETHERTYPE_IPV6, frame, this.#fill, now)) {
        // The fragments already sent are wasted; the receiver's reassembly timer frees them.
        this.#stats.txBusy++;
        this.#packet = EMPTY;
        return "busy";
      }
      this.#stats.txFragments++;
    }
    this.#packet = EMPTY;
    this.#stats.txPackets++;
    return "sent";
  }

  #write(bytes: Uint8Array, offset: number): void {
    const packet = this.#packet;
    bytes.set(packet.subarray(this.#headerAt, this.#headerAt + IPV6_HEADER_LENGTH), offset);
    const ip = this.#ip.wrap(bytes, offset, IPV6_HEADER_LENGTH);
    ip.payloadLength = IPV6_FRAGMENT_HEADER_LENGTH + this.#size;
    ip.nextHeader = Ipv6NextHeader.Fragment;
    this.#repr.emit(this.#header.wrap(bytes, offset + IPV6_HEADER_LENGTH));
    bytes.set(
      packet.subarray(this.#dataAt, this.#dataAt + this.#size),
      offset + IPV6_HEADER_LENGTH + IPV6_FRAGMENT_HEADER_LENGTH,
    );
  }
}

const EMPTY = new Uint8Array(0);
