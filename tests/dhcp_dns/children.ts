/**
 * What the dnsmasq and link tests share for the processes they start in their own namespace: a bounded
 * wait, an output watcher, a dnsmasq command line, and the final sweep of the namespace's processes.
 *
 * @module
 */

import { must, type Netns } from "../nic/netns.ts";

/** Settles with `promise`, or rejects after `limitMs` so that a broken stack fails instead of hanging. */
export async function within<T>(promise: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), limitMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects a child's output and waits (bounded) for a pattern to appear in it. */
export class Output {
  /** Everything read so far. */
  text = "";
  #waiters: (() => void)[] = [];
  /** Resolves when the stream has ended. */
  readonly done: Promise<void>;

  /** Starts reading `stream` to its end. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.text += decoder.decode(chunk, { stream: true });
        for (const wake of this.#waiters.splice(0)) wake();
      }
      for (const wake of this.#waiters.splice(0)) wake();
    })();
  }

  /** Resolves with the match once `pattern` has appeared; rejects after `limitMs` with what was seen. */
  async waitFor(pattern: RegExp, limitMs: number, who: string): Promise<RegExpMatchArray> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${who} never printed ${pattern}; it printed:\n${this.text}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#waiters.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, left))),
      ]);
      clearTimeout(timer);
    }
  }
}

/** Where and how `dnsmasqArgs` runs dnsmasq. */
export interface DnsmasqSetup {
  /** The interface to serve (and bind to alone). */
  iface: string;
  /** The test's private temp dir for the lease and PID files. */
  dir: string;
  /** Our router and DNS server address, offered to clients. */
  router: string;
  /** The `--dhcp-range` value. */
  range: string;
}

/** dnsmasq's command line: an authoritative DHCP server on one interface, logging to stderr, plus `extra`. */
export function dnsmasqArgs(setup: DnsmasqSetup, extra: string[] = []): string[] {
  return [
    // In the foreground but not in debug mode, so that each DNS-over-TCP connection gets its own
    // child and DHCP is never held up behind one.
    "--keep-in-foreground",
    // Outside debug mode dnsmasq drops to nobody, who cannot read the test's private temp dir.
    "--user=root",
    "--conf-file=/dev/null",
    `--interface=${setup.iface}`,
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    `--dhcp-leasefile=${setup.dir}/leases`,
    `--pid-file=${setup.dir}/pid`,
    `--dhcp-range=${setup.range}`,
    `--dhcp-option=option:router,${setup.router}`,
    `--dhcp-option=option:dns-server,${setup.router}`,
    "--dhcp-authoritative",
    // dnsmasq pings an address before offering it and waits up to 3 s for no answer; skip that.
    "--no-ping",
    "--log-facility=-",
    "--log-dhcp",
    ...extra,
  ];
}

/** Sends SIGKILL, by PID, to every process left in the test's own namespace `ns`. */
export async function killNamespaceProcesses(ns: Netns): Promise<void> {
  const pids = (await must("ip", ["netns", "pids", ns.name])).split("\n").filter((p) => p !== "");
  for (const pid of pids) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch {
      // It has already exited.
    }
  }
}
