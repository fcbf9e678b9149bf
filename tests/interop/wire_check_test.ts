/**
 * Wire check: tshark captures Linux's side of a TAP or of the veth driven through AF_PACKET (to a
 * temporary pcap, read back with `tshark -r`) while Linux connects to the stack and the stack
 * connects to Linux. Both SYNs and both SYN-ACKs
 * carry MSS, window scale, SACK-permitted and timestamps, every segment the stack sent has good IP
 * and TCP checksums, and Wireshark finds no malformed packet.
 */

import assert from "node:assert/strict";
import { APP_LINKS, createLink, linuxAddress } from "./setup.ts";
import {
  killChild,
  serveEcho,
  startTcpStack,
  streamSender,
  TestStream,
  watchStderr,
  withDeadline,
} from "./tcp_fixture.ts";

/** One SYN or SYN-ACK as tshark decodes it. */
interface Syn {
  src: string;
  synAck: boolean;
  mss: string;
  wscale: string;
  sackPerm: boolean;
  tsval: string;
  tsecr: string;
}

const FIELDS = [
  "ip.src",
  "tcp.flags.ack",
  "tcp.options.mss_val",
  "tcp.options.wscale.shift",
  "tcp.options.sack_perm",
  "tcp.options.timestamp.tsval",
  "tcp.options.timestamp.tsecr",
];

async function tshark(args: string[]): Promise<string> {
  const out = await new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  assert.equal(out.code, 0, text.decode(out.stderr));
  return text.decode(out.stdout);
}

/** The SYNs in a capture, in order. */
async function syns(pcap: string): Promise<Syn[]> {
  const filter = `tcp.flags.syn == 1 && tcp.port != ${PROBE_PORT}`;
  const args = ["-r", pcap, "-Y", filter, "-T", "fields", "-E", "separator=|"];
  for (const f of FIELDS) args.push("-e", f);
  const text = await tshark(args);
  return text.trim().split("\n").filter((l) => l !== "").map((line) => {
    const [src, ack, mss, wscale, sackPerm, tsval, tsecr] = line.split("|");
    return {
      src,
      synAck: ack === "1" || ack === "True",
      mss,
      wscale,
      sackPerm: sackPerm !== "",
      tsval,
      tsecr,
    };
  });
}

/** A closed port on the stack: connecting to it makes a SYN and a RST, the capture's markers. */
const PROBE_PORT = 8;

/** Everything a child prints on stdout, and a way to wait for more of it. */
interface Printed {
  text: () => string;
  next: () => Promise<void>;
}

function watchStdout(child: Deno.ChildProcess): Printed {
  let text = "";
  let waiters: (() => void)[] = [];
  (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const w of waiters) w();
      waiters = [];
    }
  })();
  return { text: () => text, next: () => new Promise((resolve) => waiters.push(resolve)) };
}

/** Runs `probe` until tshark prints the RST that answers it (at most 20 tries of 1 s). */
async function captured(printed: Printed, probe: () => Promise<unknown>): Promise<void> {
  const rst = new RegExp(` ${PROBE_PORT} → \\d+ \\[RST`, "g");
  const rsts = () => printed.text().match(rst)?.length ?? 0;
  const before = rsts();
  for (let attempt = 0; attempt < 20; attempt++) {
    await probe();
    try {
      while (rsts() === before) await withDeadline(printed.next(), 1000, "no packet printed");
      return;
    } catch {
      // Nothing printed within a second: probe again.
    }
  }
  throw new Error(`tshark never printed the probe: ${printed.text()}`);
}

for (const kind of APP_LINKS) {
  Deno.test(`interop ${kind}: tshark sees full SYN options both ways, no malformed packet`, async (t) => {
    const link = await createLink(kind);
    const { stack, tcp } = startTcpStack(link);
    serveEcho(tcp, 7);
    const dir = await Deno.makeTempDir();
    const pcap = `${dir}/wire.pcap`;
    // -P -l: also print each packet as it is written, so the test knows what the file holds.
    const capture = link.ns.spawn("tshark", [
      "-n",
      "-l",
      "-P",
      "-i",
      link.linuxIf,
      "-f",
      "tcp",
      "-w",
      pcap,
    ]);
    const printed = watchStdout(capture);
    const linuxProbe = () => link.ns.exec("nc", ["-z", "-w", "1", link.stackIp, `${PROBE_PORT}`]);
    let nc: Deno.ChildProcess | undefined;
    try {
      await withDeadline(watchStderr(capture, /Capturing on/).seen, 20_000, "tshark did not start");
      // "Capturing on" can come before packets are really captured: probe until one shows up.
      await captured(printed, linuxProbe);
      // Linux → stack: 256 KiB echoed.
      const stream = new TestStream(256 << 10, 51);
      await stream.writeFile(`${dir}/in`);
      const echo = await link.ns.exec("sh", [
        "-c",
        `timeout 20 nc -N ${link.stackIp} 7 < ${dir}/in | sha256sum`,
      ]);
      assert.equal(echo.stdout.split(" ")[0], stream.sha256(), echo.stderr);
      // Stack → Linux: 256 KiB into nc.
      nc = link.ns.spawn("sh", ["-c", "timeout 20 nc -n -v -l -N -p 5001 > /dev/null"]);
      await withDeadline(watchStderr(nc, /Listening/).seen, 10_000, "nc did not listen");
      const sender = streamSender(new TestStream(256 << 10, 52));
      tcp.connect(linuxAddress(link), 5001, { handler: sender.handler });
      stack.runtime.wake();
      assert.equal((await nc.status).code, 0);
      // Once a last probe is printed, everything before it is in the file; SIGINT closes it cleanly.
      await captured(printed, linuxProbe);
      await killChild(capture, "SIGINT");

      const seen = await syns(pcap);
      const fromStack = seen.filter((s) => s.src === link.stackIp);
      const fromLinux = seen.filter((s) => s.src === link.linuxIp);
      assert.deepEqual(fromStack.map((s) => s.synAck), [true, false], JSON.stringify(seen));
      assert.deepEqual(fromLinux.map((s) => s.synAck), [false, true], JSON.stringify(seen));
      for (const s of seen) {
        assert.ok(Number(s.mss) >= 536 && Number(s.mss) <= 1460, `MSS in ${JSON.stringify(s)}`);
        assert.match(s.wscale, /^\d+$/, `window scale in ${JSON.stringify(s)}`);
        assert.ok(s.sackPerm, `SACK-permitted in ${JSON.stringify(s)}`);
        assert.match(s.tsval, /^\d+$/, `timestamps in ${JSON.stringify(s)}`);
      }
      // Over a 1500-byte MTU both ends announce 1460.
      // Each SYN-ACK echoes the SYN's timestamp (RFC 7323 §3.2).
      assert.equal(fromStack[0].tsecr, fromLinux[0].tsval);
      assert.equal(fromLinux[1].tsecr, fromStack[1].tsval);

      const malformed = await tshark([
        "-r",
        pcap,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= error",
      ]);
      assert.equal(malformed.trim(), "", malformed);
      const all = await tshark(["-r", pcap]);
      assert.ok(!/Malformed/i.test(all), all);
      assert.ok(all.trim().split("\n").length > 100, "the capture holds the transfers");
      // Linux's own segments leave checksums to offload, so only the stack's are verified.
      const bad = await tshark([
        "-r",
        pcap,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-Y",
        `ip.src == ${link.stackIp} && (tcp.checksum.status == "Bad" || ip.checksum.status == "Bad")`,
      ]);
      assert.equal(bad.trim(), "", bad);

      // `ip.mtu` is the IP payload size (stack/layer/ipv4/contract.ts): only the TCP header comes off.
      await t.step({
        name: "the stack announces MSS 1460 and sends full 1448-byte segments",
        fn: async () => {
          assert.deepEqual(fromStack.map((s) => s.mss), ["1460", "1460"]);
          const lengths = await tshark([
            "-r",
            pcap,
            "-Y",
            `ip.src == ${link.stackIp}`,
            "-T",
            "fields",
            "-e",
            "tcp.len",
          ]);
          assert.equal(Math.max(...lengths.trim().split("\n").map(Number)), 1448);
        },
      });
    } finally {
      if (nc) await killChild(nc);
      await killChild(capture, "SIGINT");
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
