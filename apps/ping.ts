/**
 * ping: sends ICMP echo requests through our stack and prints each reply and the usual summary (sent,
 * received, loss, rtt min/avg/max/mdev), like ping(8).
 *
 *   deno run -A apps/ping.ts --nic memory --count 3            # pings the in-process peer 10.0.0.1
 *   deno run -A apps/ping.ts --nic tap:tap0 --ip 10.0.0.2/24 10.0.0.1
 *
 * @module
 */

import { formatIpv4 } from "../stack/wire/address.ts";
import { exitWithError, formatStats, watchSignals } from "./lib/cli.ts";
import { openLink } from "./lib/link.ts";
import {
  LINK_HELP,
  LINK_OPTIONS,
  parseAddressArgument,
  parseCommandLine,
  parseIntegerOption,
  parseLinkValues,
  UsageError,
} from "./lib/link_options.ts";

const OPTIONS = {
  ...LINK_OPTIONS,
  count: { type: "string", short: "c" },
  interval: { type: "string", short: "i" },
  size: { type: "string", short: "s" },
  timeout: { type: "string", short: "W" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const HELP = `Usage: ping.ts [options] [TARGET]

Sends ICMP echo requests to TARGET (default with --nic memory: the peer, 10.0.0.1).

Options:
  -c, --count N       stop after N requests (default: until interrupted)
  -i, --interval MS   milliseconds between requests (default 1000)
  -s, --size N        echo data bytes (default 56)
  -W, --timeout MS    how long to wait for replies after the last request (default 2000)
  -h, --help          show this help

${LINK_HELP}`;

/** The outcome of a ping run. */
export interface PingSummary {
  transmitted: number;
  received: number;
  duplicates: number;
  rtts: number[];
}

/** Runs ping with command-line `args`; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args,
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = parseLinkValues(values);
  const count = parseIntegerOption("count", values.count, Infinity, 1, 2 ** 31);
  const interval = parseIntegerOption("interval", values.interval, 1000, 1, 3_600_000);
  const size = parseIntegerOption("size", values.size, 56, 0, 65507);
  const timeout = parseIntegerOption("timeout", values.timeout, 2000, 0, 3_600_000);
  if (positionals.length > 1) throw new UsageError(`Unexpected argument '${positionals[1]}'`);
  let target = positionals.length > 0 ? parseAddressArgument("target", positionals[0]) : undefined;
  if (target === undefined && config.nic !== "memory") {
    throw new UsageError("Missing target: give an address such as 10.0.0.1");
  }

  const link = await openLink(config);
  target ??= link.peer!.address;
  const { iface } = link;
  const name = formatIpv4(target);
  const ident = crypto.getRandomValues(new Uint16Array(1))[0];
  const outstanding = new Set<number>();
  const summary: PingSummary = { transmitted: 0, received: 0, duplicates: 0, rtts: [] };
  let lastTtl = 0;
  let allAnswered: () => void = () => {};
  const signals = watchSignals(() => console.error(`Counters:\n${formatStats(iface.stats())}`));
  iface.icmp.onMessage = (message, packet) => {
    if (message.type === 0) lastTtl = packet.ttl;
  };
  iface.icmp.onEchoReply = (reply, now) => {
    if (reply.ident !== ident || reply.src !== target) return;
    if (!outstanding.delete(reply.seq)) {
      summary.duplicates++;
      return;
    }
    summary.received++;
    const rtt = reply.sentAt === undefined ? NaN : now - reply.sentAt;
    if (!Number.isNaN(rtt)) summary.rtts.push(rtt);
    console.log(
      `${reply.length + 8} bytes from ${name}: icmp_seq=${reply.seq} ttl=${lastTtl} time=${
        rtt.toFixed(3)
      } ms`,
    );
    if (outstanding.size === 0) allAnswered();
  };

  const started = link.now();
  console.log(`PING ${name} ${size}(${size + 28}) bytes of data.`);
  try {
    for (let seq = 1; seq <= count && !signals.isStopped; seq++) {
      const result = iface.icmp.ping(target, {
        ident,
        seq: seq & 0xffff,
        payloadLength: size,
        now: link.now(),
      });
      link.runtime.wake();
      if (result === "unroutable") throw new Error(`Cannot ping ${name}: no route to it`);
      summary.transmitted++;
      if (result !== "busy") outstanding.add(seq & 0xffff);
      if (seq < count) await sleep(interval, signals.stopped);
    }
    if (outstanding.size > 0 && !signals.isStopped) {
      const answered = new Promise<void>((resolve) => (allAnswered = resolve));
      await sleep(timeout, Promise.race([answered, signals.stopped]));
    }
    printSummary(name, summary, link.now() - started);
    console.error(`Counters:\n${formatStats(iface.stats())}`);
  } finally {
    signals.dispose();
    await link.close();
  }
  return summary.received > 0 ? 0 : 1;
}

/** Prints ping(8)'s closing lines. */
function printSummary(name: string, s: PingSummary, elapsed: number): void {
  const loss = s.transmitted === 0 ? 0 : ((s.transmitted - s.received) / s.transmitted) * 100;
  const dups = s.duplicates > 0 ? `, +${s.duplicates} duplicates` : "";
  console.log(`\n--- ${name} ping statistics ---`);
  console.log(
    `${s.transmitted} packets transmitted, ${s.received} received${dups}, ${+loss.toFixed(
      1,
    )}% packet loss, time ${Math.round(elapsed)}ms`,
  );
  if (s.rtts.length === 0) return;
  const min = Math.min(...s.rtts);
  const max = Math.max(...s.rtts);
  const avg = s.rtts.reduce((a, b) => a + b, 0) / s.rtts.length;
  const mdev = Math.sqrt(s.rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / s.rtts.length);
  console.log(
    `rtt min/avg/max/mdev = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)}/${
      mdev.toFixed(3)
    } ms`,
  );
}

/** Waits `ms`, or less when `stop` settles first; leaves no timer behind. */
function sleep(ms: number, stop: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([elapsed, stop.then(() => {})]).finally(() => clearTimeout(timer));
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    exitWithError("ping", error);
  }
}
