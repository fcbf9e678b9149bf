/**
 * The host side of MLDv2 (RFC 3810): reports every joined group when it is joined or left (state
 * change reports, sent Robustness Variable times, RFC 3810 §6.1) and answers queries with current-state
 * reports after a random delay (§6.2). All-nodes and groups of interface scope are never reported
 * (§6). While an MLDv1 querier is present, reports are MLDv1 (RFC 3810 §8.2.1, RFC 2710). Reports go to
 * ff02::16 (v2) with hop limit 1 and a router alert, from the link-local address, or
 * from :: while it is still tentative (RFC 3590 §4).
 *
 * @module
 */

import { Icmpv6Packet, Icmpv6Type } from "../../wire/icmpv6.ts";
import {
  IPV6_ALL_MLDV2_ROUTERS,
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_UNSPECIFIED,
  type Ipv6Address,
} from "../../wire/ipv6_address.ts";
import { type MldQueryRepr, type MldRecord, MldRecordType, MldReportRepr } from "../../wire/mld.ts";
import type { Ipv6Endpoint } from "./endpoint.ts";

/** Robustness Variable (RFC 3810 §9.1). */
const ROBUSTNESS = 2;
/** Unsolicited Report Interval (RFC 3810 §9.11). */
const UNSOLICITED_MS = 1000;
/** Older Version Querier Present Timeout (RFC 3810 §9.12): 2 × 125 s + 10 s. */
const V1_QUERIER_MS = 260_000;
/** The length of an MLDv1 report or done message (RFC 2710 §3). */
const V1_LENGTH = 24;

interface Change {
  record: MldRecord;
  left: number;
}

/** MLDv2 reports of one IPv6 endpoint. */
export class MldHost {
  /** Counters. */
  readonly stats = { rxQueries: 0, txReports: 0, dropQuery: 0 };
  #ip: Ipv6Endpoint;
  #changes: Change[] = [];
  #changeAt = Infinity;
  #queryAt = Infinity;
  /** Groups a group-specific query asked about; undefined for a general query. */
  #queried: Ipv6Address[] | undefined;
  #report = new MldReportRepr();
  /** Until when an MLDv1 querier was heard: reports are then v1 (RFC 3810 §8.2.1). */
  #v1Until = -Infinity;
  #v1Type = 0;
  #v1Group: Ipv6Address = IPV6_ALL_NODES;
  #v1Fill: (bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address) => void;
  #view = new Icmpv6Packet();
  #fill: (bytes: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address) => void;

  /** Creates the MLD host of `ip`. */
  constructor(ip: Ipv6Endpoint) {
    this.#ip = ip;
    this.#fill = (bytes, offset, src, dst) => {
      this.#report.emit(this.#view.wrap(bytes, offset, this.#report.bufferLength), src, dst);
    };
    this.#v1Fill = (bytes, offset, src, dst) => {
      bytes.fill(0, offset, offset + V1_LENGTH);
      bytes[offset] = this.#v1Type;
      this.#v1Group.write(bytes, offset + 8);
      this.#view.wrap(bytes, offset, V1_LENGTH).fillChecksum(src, dst);
    };
  }

  /** True while an MLDv1 querier is present and reports are sent in version 1. */
  compatV1(now: number): boolean {
    return now < this.#v1Until;
  }

  /** Schedules the state change report of a newly joined group. */
  joined(group: Ipv6Address, now: number): void {
    this.#change(group, MldRecordType.ChangeToExclude, now);
  }

  /** Schedules the state change report of a left group. */
  left(group: Ipv6Address, now: number): void {
    this.#change(group, MldRecordType.ChangeToInclude, now);
  }

  /** Handles a query (RFC 3810 §6.2): schedules a current-state report within its response delay. */
  query(repr: MldQueryRepr, hopLimit: number, now: number): void {
    // RFC 3810 §5.1.15: queries come with hop limit 1 (and a link-local source, checked by the caller).
    if (hopLimit !== 1) {
      this.stats.dropQuery++;
      return;
    }
    this.stats.rxQueries++;
    if (repr.version === 1) this.#v1Until = now + V1_QUERIER_MS;
    const at = now + this.#ip.rng.below(Math.max(1, repr.maxResponseMs));
    if (repr.group.isUnspecified) {
      this.#queried = undefined;
    } else {
      if (!this.#reportable(repr.group) || !this.#ip.groups().some((g) => g.equals(repr.group))) {
        return;
      }
      if (this.#queryAt !== Infinity && this.#queried === undefined) return;
      this.#queried = [...(this.#queried ?? []), repr.group];
    }
    if (at < this.#queryAt) this.#queryAt = at;
  }

  /** Sends due reports. */
  poll(now: number): boolean {
    let work = false;
    if (this.#changeAt <= now) {
      work = true;
      const records = this.#changes.map((c) => c.record);
      if (records.length > 0) this.#send(records, now);
      for (const c of this.#changes) c.left--;
      this.#changes = this.#changes.filter((c) => c.left > 0);
      this.#changeAt = this.#changes.length > 0
        ? now + 1 + this.#ip.rng.below(UNSOLICITED_MS)
        : Infinity;
    }
    if (this.#queryAt <= now) {
      work = true;
      const groups = this.#queried ?? this.#ip.groups().filter((g) => this.#reportable(g));
      const records = groups.map((group) => ({ type: MldRecordType.ModeIsExclude, group }));
      if (records.length > 0) this.#send(records, now);
      this.#queryAt = Infinity;
      this.#queried = undefined;
    }
    return work;
  }

  /** The next report due. */
  pollAt(): number | undefined {
    const at = Math.min(this.#changeAt, this.#queryAt);
    return at === Infinity ? undefined : at;
  }

  #reportable(group: Ipv6Address): boolean {
    return !group.equals(IPV6_ALL_NODES) && group.multicastScope >= 2;
  }

  #change(group: Ipv6Address, type: number, now: number): void {
    if (!this.#reportable(group)) return;
    this.#changes = this.#changes.filter((c) => !c.record.group.equals(group));
    this.#changes.push({ record: { type, group }, left: ROBUSTNESS });
    // The first report goes on the next poll.
    if (this.#changeAt > now) this.#changeAt = now;
  }

  #send(records: MldRecord[], now: number): void {
    if (this.compatV1(now)) {
      for (const record of records) this.#sendV1(record);
      return;
    }
    // Records of 20 bytes each: well inside the minimum MTU for the groups a host joins.
    this.#report.records = records.slice(0, 60);
    const src = this.#ip.config.linkLocal ?? IPV6_UNSPECIFIED;
    this.stats.txReports++;
    this.#ip.sendWith(
      IPV6_ALL_MLDV2_ROUTERS,
      58,
      this.#report.bufferLength,
      this.#fill,
      src,
      { hopLimit: 1, routerAlert: true },
    );
  }

  /** An MLDv1 report to the group itself, or a done to all routers when it was left (RFC 2710 §4). */
  #sendV1(record: MldRecord): void {
    const left = record.type === MldRecordType.ChangeToInclude;
    this.#v1Type = left ? Icmpv6Type.MldDoneV1 : Icmpv6Type.MldReportV1;
    this.#v1Group = record.group;
    const src = this.#ip.config.linkLocal ?? IPV6_UNSPECIFIED;
    this.stats.txReports++;
    this.#ip.sendWith(
      left ? IPV6_ALL_ROUTERS : record.group,
      58,
      V1_LENGTH,
      this.#v1Fill,
      src,
      { hopLimit: 1, routerAlert: true },
    );
  }
}
