/**
 * Interop fixtures: a throwaway namespace holding Linux, joined to our stack by a TAP or by a veth pair
 * driven through AF_PACKET. The stack runs in this process on the real-time `Runtime`; `close` stops it
 * and removes everything the fixture made.
 *
 * @module
 */

import { Interface } from "../../stack/layer/interface.ts";
import type { Nic } from "../../stack/nic/nic.ts";
import { PacketNic } from "../../stack/nic/packet.ts";
import { TapNic } from "../../stack/nic/tap.ts";
import { Runtime } from "../../stack/runtime.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr, parseIpv4 } from "../../stack/wire/address.ts";
import { Netns, uniqueName } from "../nic/netns.ts";

/** The link kinds the in-process interop tests cover: `tap-offload` is a TAP with virtio-net offloads. */
export const LINKS = ["tap", "tap-offload", "packet"] as const;
/** The link kinds an app opens from its `--nic` option. */
export const APP_LINKS = ["tap", "packet"] as const;
/** A link kind. */
export type LinkKind = typeof LINKS[number];

/** Linux and the stack on one link. */
export interface Link {
  kind: LinkKind;
  ns: Netns;
  /** The Linux interface name inside the namespace. */
  linuxIf: string;
  /** The interface name our NIC opens in this namespace (TAP name or host veth end). */
  stackIf: string;
  linuxIp: string;
  stackIp: string;
  /** Removes the link and the namespace. */
  close(): Promise<void>;
}

/** A stack running on a link. */
export interface RunningStack {
  nic: Nic;
  iface: Interface;
  runtime: Runtime;
  stop(): Promise<void>;
}

let subnet = 10;

/** Creates a namespace with Linux at 10.78.N.1/24 and a link for the stack at 10.78.N.2. */
export async function createLink(kind: LinkKind): Promise<Link> {
  const n = subnet++;
  const linuxIp = `10.78.${n}.1`;
  const stackIp = `10.78.${n}.2`;
  const ns = await Netns.create("ni");
  try {
    await ns.quiet();
    if (kind !== "packet") {
      // A persistent TAP, moved into the namespace; the stack (here or in a child) attaches to it.
      const name = uniqueName("it");
      await ns.exec("ip", ["tuntap", "add", "dev", name, "mode", "tap"]);
      await ns.ip("addr", "add", `${linuxIp}/24`, "dev", name);
      await ns.ip("link", "set", name, "up");
      return { kind, ns, linuxIf: name, stackIf: name, linuxIp, stackIp, close: () => ns.close() };
    }
    const host = uniqueName("ia");
    const inner = uniqueName("ib");
    await ns.veth(host, inner, `${linuxIp}/24`);
    // A local veth peer would hand AF_PACKET TCP super-frames of up to 64 KiB (TSO/GSO).
    await ns.exec("ethtool", ["-K", inner, "tso", "off", "gso", "off"]);
    return { kind, ns, linuxIf: inner, stackIf: host, linuxIp, stackIp, close: () => ns.close() };
  } catch (e) {
    await ns.close();
    throw e;
  }
}

/**
 * Opens our NIC on the link. A TAP lives inside the namespace, so it is opened there: this process
 * enters the namespace with setns(2) on the calling thread only for the open, then returns.
 */
export function openLinkNic(link: Link): Nic {
  if (link.kind === "packet") return new PacketNic(link.stackIf);
  const offload = link.kind === "tap-offload";
  return inNamespace(link.ns.name, () => new TapNic(link.stackIf, { offload }));
}

/** Starts an `Interface` at the link's stack address on the real-time runtime. */
export function startStack(link: Link, nic: Nic = openLinkNic(link)): RunningStack {
  const iface = new Interface(nic, {
    addresses: [Ipv4Cidr.parse(`${link.stackIp}/24`)],
    rng: new Rng(7),
  });
  const runtime = new Runtime([{ iface, nic }]);
  runtime.start();
  return {
    nic,
    iface,
    runtime,
    stop: async () => {
      await runtime.stop();
      nic.close();
    },
  };
}

/** The stack's IPv4 address as a number. */
export function stackAddress(link: Link): number {
  return parseIpv4(link.stackIp);
}

/** The Linux side's IPv4 address as a number. */
export function linuxAddress(link: Link): number {
  return parseIpv4(link.linuxIp);
}

const CLONE_NEWNET = 0x40000000;
let setnsLib:
  | Deno.DynamicLibrary<{
    setns: { parameters: ["i32", "i32"]; result: "i32" };
    open: { parameters: ["buffer", "i32"]; result: "i32" };
    close: { parameters: ["i32"]; result: "i32" };
  }>
  | undefined;

/** Runs `fn` with the calling thread in namespace `name`, then moves the thread back. */
export function inNamespace<T>(name: string, fn: () => T): T {
  setnsLib ??= Deno.dlopen("libc.so.6", {
    setns: { parameters: ["i32", "i32"], result: "i32" },
    open: { parameters: ["buffer", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  const c = setnsLib.symbols;
  const path = (p: string) => new TextEncoder().encode(p + "\0");
  const home = c.open(path("/proc/thread-self/ns/net"), 0);
  const target = c.open(path(`/run/netns/${name}`), 0);
  if (home < 0 || target < 0) throw new Error(`Cannot enter namespace ${name}: open failed`);
  const entered = c.setns(target, CLONE_NEWNET) === 0;
  c.close(target);
  if (!entered) {
    c.close(home);
    throw new Error(`Cannot enter namespace ${name}`);
  }
  let outcome: { value: T } | { error: unknown };
  try {
    outcome = { value: fn() };
  } catch (error) {
    outcome = { error };
  }
  const back = c.setns(home, CLONE_NEWNET) === 0;
  c.close(home);
  if (!back) throw new Error(`Cannot return from namespace ${name}: this thread is left inside it`);
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
}
