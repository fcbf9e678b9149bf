import assert from "node:assert/strict";

const PING = new URL("../../apps/ping.ts", import.meta.url).pathname;
const UDP_ECHO = new URL("../../apps/udp_echo.ts", import.meta.url).pathname;

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const result = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: result.code, out: decode(result.stdout), err: decode(result.stderr) };
}

function deno(script: string, args: string[]) {
  return run(Deno.execPath(), ["run", "-A", "--no-config", script, ...args]);
}

Deno.test("ping --nic memory --count 3 --pcap: three replies, a summary, and a clean capture", async () => {
  const dir = await Deno.makeTempDir();
  const pcap = `${dir}/ping.pcap`;
  try {
    const { code, out, err } = await deno(PING, [
      "--nic",
      "memory",
      "--count",
      "3",
      "--interval",
      "50",
      "--pcap",
      pcap,
    ]);
    assert.equal(code, 0, err);
    assert.match(out, /^PING 10\.0\.0\.1 56\(84\) bytes of data\./m);
    for (const seq of [1, 2, 3]) {
      assert.match(out, new RegExp(`64 bytes from 10\\.0\\.0\\.1: icmp_seq=${seq} ttl=64 time=`));
    }
    assert.match(out, /3 packets transmitted, 3 received, 0% packet loss/);
    assert.match(out, /rtt min\/avg\/max\/mdev = [0-9.]+\/[0-9.]+\/[0-9.]+\/[0-9.]+ ms/);
    assert.match(err, /icmp: .*rxEchoReplies=3/);

    const all = await run("tshark", ["-r", pcap]);
    assert.equal(all.code, 0, all.err);
    const frames = all.out.trim().split("\n");
    assert.ok(frames.length >= 8, all.out); // ARP request and reply, 3 requests, 3 replies
    const bad = await run("tshark", [
      "-r",
      pcap,
      "-Y",
      "_ws.malformed || _ws.expert.severity >= error",
    ]);
    assert.equal(bad.code, 0, bad.err);
    assert.equal(bad.out.trim(), "", `tshark found malformed packets:\n${bad.out}`);
    const replies = await run("tshark", ["-r", pcap, "-Y", "icmp.type == 0 && icmp.resp_to"]);
    assert.equal(replies.out.trim().split("\n").length, 3, replies.out);
    const arp = await run("tshark", [
      "-r",
      pcap,
      "-Y",
      "arp.opcode == 2 && arp.src.proto_ipv4 == 10.0.0.1",
    ]);
    assert.equal(arp.out.trim().split("\n").length, 1, arp.out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (
  const [name, script, args, message] of [
    [
      "a bad target address",
      PING,
      ["--nic", "memory", "10.0.0.256"],
      /^ping: Bad target '10\.0\.0\.256'/,
    ],
    ["a bad CIDR", PING, ["--ip", "10.0.0.2/33"], /^ping: Bad --ip '10\.0\.0\.2\/33'/],
    [
      "an unknown NIC",
      PING,
      ["--nic", "carrier-pigeon", "10.0.0.1"],
      /^ping: Unknown NIC 'carrier-pigeon'/,
    ],
    ["a bad MAC", PING, ["--mac", "02:00:00"], /^ping: Bad --mac '02:00:00'/],
    ["a bad MTU", PING, ["--mtu", "20"], /^ping: Bad --mtu '20'/],
    ["a bad count", PING, ["--count", "-1"], /^ping: /],
    ["an unknown option", UDP_ECHO, ["--bogus"], /^udp_echo: Unknown option '--bogus'/],
    ["a bad port", UDP_ECHO, ["--port", "70000"], /^udp_echo: Bad --port '70000'/],
    ["a missing target off memory", PING, ["--nic", "tap:x"], /^ping: Missing target/],
  ] as const
) {
  Deno.test(`CLI: ${name} gives one clear line on stderr and a non-zero exit`, async () => {
    const { code, out, err } = await deno(script, [...args]);
    assert.notEqual(code, 0);
    assert.equal(out, "");
    const lines = err.trimEnd().split("\n");
    assert.equal(lines.length, 1, err);
    assert.match(lines[0], message);
    assert.doesNotMatch(err, /\n\s+at /);
  });
}

Deno.test("CLI: --help prints usage with the link options and exits 0", async () => {
  for (const script of [PING, UDP_ECHO]) {
    const { code, out } = await deno(script, ["--help"]);
    assert.equal(code, 0);
    assert.match(out, /^Usage: /);
    assert.match(out, /--nic SPEC/);
    assert.match(out, /--pcap FILE/);
  }
});

Deno.test("udp_echo --nic memory --probe 3 echoes every probe", async () => {
  const { code, out, err } = await deno(UDP_ECHO, ["--nic", "memory", "--probe", "3"]);
  assert.equal(code, 0, err);
  assert.match(out, /udp_echo listening on 10\.0\.0\.2:7 \(nic memory\)/);
  for (const i of [1, 2, 3]) {
    assert.match(out, new RegExp(`echo from 10\\.0\\.0\\.2:7: probe ${i}`));
  }
  assert.match(out, /echoed 3 datagrams/);
});

Deno.test("ping prints counters on SIGUSR1 and stops cleanly on SIGINT", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", PING, "--nic", "memory", "--interval", "20"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  // Wait for two replies, so that the app is up and its signal listeners are in place.
  while ((out.match(/bytes from/g) ?? []).length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  child.kill("SIGUSR1");
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  const status = await child.status;
  const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  assert.equal(status.code, 0);
  assert.match(out, /packets transmitted, [0-9]+ received/);
  assert.match(err, /Counters:/);
});
