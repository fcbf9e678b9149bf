/**
 * udp_echo: an RFC 862 echo server on our stack. Every datagram received on the port is sent back to
 * its source. With `--nic memory` and `--probe N`, the in-process peer sends N datagrams and checks the
 * echoes, which makes a self-contained demo.
 *
 *   deno run -A apps/udp_echo.ts --nic tap:tap0 --ip 10.0.0.2/24          # serve port 7
 *   deno run -A apps/udp_echo.ts --nic memory --probe 3                    # demo, then exit
 *
 * @module
 */

import { formatIpv4 } from "../stack/wire/address.ts";
import { exitWithError, formatStats, watchSignals } from "./lib/cli.ts";
import { type Link, openLink } from "./lib/link.ts";
import {
  LINK_HELP,
  LINK_OPTIONS,
  parseCommandLine,
  parseIntegerOption,
  parseLinkValues,
  UsageError,
} from "./lib/link_options.ts";

const OPTIONS = {
  ...LINK_OPTIONS,
  port: { type: "string", short: "p" },
  probe: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const HELP = `Usage: udp_echo.ts [options]

Echoes every UDP datagram received on the port back to its sender, until interrupted.

Options:
  -p, --port N      the port to serve (default 7)
  --probe N         with --nic memory: have the peer send N datagrams, check the echoes, and exit
  -h, --help        show this help

${LINK_HELP}`;

/** Runs the echo server with command-line `args`; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseCommandLine({
    args,
    options: OPTIONS,
    allowPositionals: false,
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = parseLinkValues(values);
  const port = parseIntegerOption("port", values.port, 7, 1, 65535);
  const probe = parseIntegerOption("probe", values.probe, 0, 0, 1_000_000);
  if (probe > 0 && config.nic !== "memory") {
    throw new UsageError("Bad --probe: it needs --nic memory, whose peer sends the probes");
  }
  const link = await openLink(config);
  const { iface } = link;
  const signals = watchSignals(() => console.error(`Counters:\n${formatStats(iface.stats())}`));
  let echoed = 0;
  try {
    iface.udp.bind(port, (d) => {
      const result = iface.udp.send(
        d.dstPort,
        d.src,
        d.srcPort,
        d.bytes.subarray(d.offset, d.offset + d.length),
        d.dst,
      );
      if (result === "sent" || result === "queued") echoed++;
    });
    const where = iface.ipv4.addresses.map((a) => `${formatIpv4(a.address)}:${port}`).join(", ");
    console.log(`udp_echo listening on ${where} (nic ${config.nic})`);
    let status = 0;
    if (probe > 0) {
      status = await runProbe(link, port, probe, signals.stopped);
    } else {
      await signals.stopped;
    }
    console.log(`echoed ${echoed} datagrams`);
    console.error(`Counters:\n${formatStats(iface.stats())}`);
    return status;
  } finally {
    signals.dispose();
    await link.close();
  }
}

/** Has the memory peer send `count` datagrams to the server and waits for every echo. */
async function runProbe(
  link: Link,
  port: number,
  count: number,
  stopped: Promise<void>,
): Promise<number> {
  const peer = link.peer!;
  const server = link.iface.ipv4.addresses[0].address;
  const expected = new Set<string>();
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const binding = peer.iface.udp.bind(0, (d) => {
    const text = new TextDecoder().decode(d.bytes.subarray(d.offset, d.offset + d.length));
    if (expected.delete(text)) console.log(`echo from ${formatIpv4(d.src)}:${d.srcPort}: ${text}`);
    if (expected.size === 0) done();
  });
  for (let i = 1; i <= count; i++) {
    const text = `probe ${i}`;
    expected.add(text);
    peer.iface.udp.send(binding.port, server, port, new TextEncoder().encode(text));
  }
  link.runtime.wake();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)));
  await Promise.race([finished, stopped, timeout]);
  clearTimeout(timer);
  binding.close();
  if (expected.size > 0) {
    console.error(`udp_echo: ${expected.size} of ${count} probes got no echo`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    exitWithError("udp_echo", error);
  }
}
