import assert from "node:assert/strict";
import { NicError } from "../../stack/nic/ffi/libc.ts";
import { TAP_TSO_MAX_BYTES, TapNic } from "../../stack/nic/tap.ts";
import { internetChecksum, onesSum, pseudoHeaderSum } from "../../stack/wire/checksum.ts";
import {
  ipv4,
  macFromText,
  macToText,
  putMac,
  readArp,
  receiveUntil,
  writeArp,
  writeFiller,
} from "./frames.ts";
import { must, Netns, run, stop, uniqueName } from "./netns.ts";

const LINUX_IP = ipv4("10.77.1.1");
const STACK_IP = ipv4("10.77.1.2");

Deno.test("TapNic exchanges frames with Linux through a TAP in a throwaway namespace", async () => {
  const ns = await Netns.create();
  const name = uniqueName("tt");
  let tap: TapNic | undefined;
  let ping: Deno.ChildProcess | undefined;
  try {
    await ns.quiet();
    tap = new TapNic(name, { mac: 0x02aa00000002 });
    assert.equal(tap.name, `tap:${name}`);
    assert.equal(tap.mac, 0x02aa00000002);
    assert.equal(tap.mtu, 1500);
    await ns.adopt(name, "10.77.1.1/24");
    const info = JSON.parse(await ns.ip("-j", "link", "show", name));
    const linuxMac = macFromText(info[0].address);
    assert.notEqual(linuxMac, tap.mac);

    // Linux resolves the stack's address before its ping: the ARP request reaches us.
    ping = ns.spawn("ping", ["-n", "-c", "3", "-i", "0.3", "-W", "1", "10.77.1.2"]);
    const heard = await receiveUntil(tap, (b, o, l) => {
      const arp = readArp(b, o, l);
      return arp !== undefined && arp.op === 1 && arp.dstIp === STACK_IP &&
        arp.srcIp === LINUX_IP &&
        arp.srcMac === linuxMac;
    });
    assert.ok(heard, "no ARP request from Linux");
    await stop(ping);
    ping = undefined;

    // Our ARP request reaches Linux, which answers to our MAC and learns us.
    assert.ok(tap.send(0, 42, (b, o) =>
      writeArp(b, o, {
        op: 1,
        srcMac: 0x02aa00000002,
        srcIp: STACK_IP,
        dstMac: 0,
        dstIp: LINUX_IP,
      })));
    tap.flush(0);
    const answered = await receiveUntil(tap, (b, o, l) => {
      const arp = readArp(b, o, l);
      return arp !== undefined && arp.op === 2 && arp.srcIp === LINUX_IP &&
        arp.srcMac === linuxMac && arp.ethDst === 0x02aa00000002 && arp.dstIp === STACK_IP;
    });
    assert.ok(answered, "no ARP reply from Linux");
    const neigh = await ns.ip("neigh", "show", "10.77.1.2", "dev", name);
    assert.match(neigh, new RegExp(macToText(0x02aa00000002)));

    // A burst: every frame we write is counted by the Linux side.
    const before = await ns.counter(name, "rx_packets");
    for (let i = 0; i < 1000; i++) {
      assert.ok(tap.send(0, i % 2 ? 1514 : 60, (b, o, l) => writeFiller(b, o, l, tap!.mac, i)));
    }
    tap.flush(0);
    assert.equal(tap.backlog, 0);
    assert.equal(await ns.counter(name, "rx_packets") - before, 1000);
    assert.equal(tap.stats.txFrames, 1001);
    assert.equal(tap.stats.txBytes, 42 + 500 * 60 + 500 * 1514);
    assert.ok(tap.stats.rxFrames >= 2);
  } finally {
    if (ping) await stop(ping);
    tap?.close();
    await ns.close();
  }
  assert.equal((await run("ip", ["link", "show", name])).code, 1, "the TAP outlived its NIC");
});

Deno.test("TapNic reads the MTU of an existing TAP and leaves it in place", async () => {
  const name = uniqueName("tt");
  await must("ip", ["tuntap", "add", "dev", name, "mode", "tap"]);
  try {
    await must("ip", ["link", "set", name, "mtu", "1280"]);
    const tap = new TapNic(name, { offload: false });
    try {
      assert.equal(tap.mtu, 1280);
      assert.throws(
        () => tap.send(0, 1295, () => {}),
        /Cannot send a frame of 1295 bytes on tap:tt\w+: the MTU of 1280 allows at most 1294/,
      );
      assert.equal(tap.stats.txFrames, 0);
      // A locally administered unicast default, not the Linux side's address.
      assert.equal(Math.floor(tap.mac / 2 ** 40) & 0x03, 0x02);
      const big = new TapNic(name + "x", { mtu: 9000 });
      assert.equal(big.mtu, 9000);
      big.close();
    } finally {
      tap.close();
    }
    assert.equal((await run("ip", ["link", "show", name])).code, 0);
  } finally {
    await run("ip", ["tuntap", "del", "dev", name, "mode", "tap"]);
  }
});

Deno.test("TapNic counts errors, without throwing, once its interface is deleted", async () => {
  const name = uniqueName("tt");
  await must("ip", ["tuntap", "add", "dev", name, "mode", "tap"]);
  const tap = new TapNic(name);
  try {
    await must("ip", ["link", "del", name]);
    assert.equal(tap.receive(0, () => {}), 0);
    assert.equal(tap.stats.rxErrors, 1);
    // The descriptor now polls as hung up; wait must still return (after its timeout).
    await tap.wait(5);
    assert.equal(tap.send(0, 60, (b, o, l) => writeFiller(b, o, l, tap.mac, 0)), true);
    assert.equal(tap.stats.txErrors, 1);
    assert.equal(tap.stats.txFrames, 0);
  } finally {
    tap.close();
    await run("ip", ["link", "del", name]);
  }
});

Deno.test("TapNic close wakes a pending wait", async () => {
  const tap = new TapNic(uniqueName("tt"));
  const waiting = tap.wait(60_000);
  tap.close();
  await waiting;
  assert.equal(tap.receive(0, () => {}), 0);
  assert.equal(tap.send(0, 60, () => {}), false);
});

Deno.test("TapNic wait returns after its timeout when nothing arrives", async () => {
  const tap = new TapNic(uniqueName("tt"));
  try {
    await tap.wait(1);
    assert.equal(tap.receive(0, () => {}), 0);
  } finally {
    tap.close();
  }
});

Deno.test("TapNic honours a short wait while a long poll is in flight", async () => {
  const tap = new TapNic(uniqueName("tt"));
  const long = tap.wait(60_000);
  let longDone = false;
  long.then(() => longDone = true);
  // Without its own timer this would sit in the 60 s poll.
  await tap.wait(1);
  assert.equal(longDone, false);
  tap.close();
  await long;
});

Deno.test("TapNic explains a name that is not a TAP, a bad name and a missing device", () => {
  assert.throws(() => new TapNic("lo"), (e) => {
    assert.ok(e instanceof NicError);
    assert.equal(
      e.message,
      "Cannot attach to TAP lo: an interface of that name exists and is not a TAP",
    );
    return true;
  });
  assert.throws(() => new TapNic("a-name-far-too-long"), /must be 1 to 15 bytes/);
  assert.throws(
    () => new TapNic("t0", { device: "/dev/net/none" }),
    /Cannot open \/dev\/net\/none: no such device \(load the tun module or create it with mknod\)/,
  );
});

/** A script that opens a TAP through `tapModule` and prints the error's code and message. */
function openTapScript(tapModule: string): string {
  return `
    import { TapNic } from "${tapModule}";
    try { new TapNic("${uniqueName("tt")}"); console.log("opened"); }
    catch (e) { console.log(e.code + ": " + e.message); }
  `;
}

Deno.test("TapNic explains missing privileges", async () => {
  const script = openTapScript(new URL("../../stack/nic/tap.ts", import.meta.url).href);
  // Root without CAP_NET_ADMIN, then an unprivileged user: both must get the hint.
  // Dropping the capability from the bounding set leaves root without it after exec.
  const noCap = await run("setpriv", [
    "--bounding-set=-net_admin",
    "--inh-caps=-net_admin",
    Deno.execPath(),
    "eval",
    "--no-config",
    script,
  ]);
  assert.match(
    noCap.stdout.trim(),
    /^EPERM: Cannot attach to TAP tt\w+: permission denied \(run as root or grant CAP_NET_ADMIN\)$/,
    noCap.stderr,
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o777);
    // The checkout may sit where the unprivileged user cannot read (root's home): it imports a copy.
    const copy = await run("cp", ["-r", new URL("../../stack", import.meta.url).pathname, dir]);
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal((await run("chmod", ["-R", "a+rX", dir])).code, 0);
    const nobody = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "eval",
        "--no-config",
        openTapScript(`file://${dir}/stack/nic/tap.ts`),
      ],
      env: { DENO_DIR: dir, HOME: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(nobody.stdout).trim();
    assert.match(
      text,
      /^(EACCES: Cannot open \/dev\/net\/tun|EPERM: Cannot attach to TAP \w+): permission denied \(run as root or grant CAP_NET_ADMIN\)$/,
      new TextDecoder().decode(nobody.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TapNic offloads by default and opens plain when told", () => {
  const tap = new TapNic(uniqueName("tt"));
  const plain = new TapNic(uniqueName("tt"), { offload: false });
  const noTso = new TapNic(uniqueName("tt"), { tso: false });
  try {
    assert.deepEqual(tap.caps, {
      rxChecksumVerified: true,
      txChecksumOffload: true,
      tsoMaxBytes: TAP_TSO_MAX_BYTES,
    });
    assert.deepEqual(plain.caps, { rxChecksumVerified: false, txChecksumOffload: false });
    assert.deepEqual(noTso.caps, { rxChecksumVerified: true, txChecksumOffload: true });
    // With TSO a TCP frame may reach 64 KiB; without, the MTU bounds every frame.
    assert.equal(tap.send(0, 14 + 0xffff, () => {}), true);
    assert.throws(() => noTso.send(0, 1515, () => {}), /the MTU of 1500 allows at most 1514/);
  } finally {
    tap.close();
    plain.close();
    noTso.close();
  }
});

Deno.test("TapNic leaves IPv4 UDP checksums to Linux and keeps IPv6 ones whole", async () => {
  const ns = await Netns.create();
  const name = uniqueName("tt");
  const tap = new TapNic(name);
  try {
    await ns.adopt(name, "10.77.2.1/24");
    await ns.exec("sysctl", ["-qw", `net.ipv6.conf.${name}.disable_ipv6=0`]);
    await ns.ip("-6", "addr", "add", "fd00:77::1/64", "dev", name, "nodad");
    const linuxMac = macFromText(JSON.parse(await ns.ip("-j", "link", "show", name))[0].address);
    // /proc/net/snmp: a line of names, a line of values; /proc/net/snmp6: a name and value a line.
    const udp = async (file: string, prefix: string) => {
      const lines = (await ns.exec("cat", [file])).stdout.split("\n");
      const values = new Map<string, number>();
      if (prefix.endsWith(":")) {
        const [names, numbers] = lines.filter((l) => l.startsWith(prefix)).map((l) =>
          l.split(/\s+/)
        );
        names.forEach((n, i) => values.set(n, Number(numbers[i])));
      } else {
        for (const [n, v] of lines.map((l) => l.split(/\s+/))) {
          values.set(n.replace(prefix, ""), Number(v));
        }
      }
      return { noPorts: values.get("NoPorts"), csumErrors: values.get("InCsumErrors") };
    };
    const send = (v6: boolean, checksum: "pseudo" | "full" | "bad") => {
      const length = (v6 ? 14 + 40 : 14 + 20) + 16;
      assert.ok(tap.send(0, length, (b, o) => writeUdp(b, o, v6, linuxMac, tap.mac, checksum)));
      tap.flush(0);
    };
    const v4 = await udp("/proc/net/snmp", "Udp:");
    const v6 = await udp("/proc/net/snmp6", "Udp6");
    // Linux counts a datagram for a closed port only once its checksum is good.
    send(false, "pseudo");
    send(true, "full");
    const v4After = await udp("/proc/net/snmp", "Udp:");
    const v6After = await udp("/proc/net/snmp6", "Udp6");
    assert.equal(tap.stats.txChecksumOffloaded, 1);
    assert.deepEqual(v4After, { noPorts: v4.noPorts! + 1, csumErrors: v4.csumErrors });
    assert.deepEqual(v6After, { noPorts: v6.noPorts! + 1, csumErrors: v6.csumErrors });
    // The control: a wrong IPv6 checksum is caught, so the one above was checked.
    send(true, "bad");
    assert.equal((await udp("/proc/net/snmp6", "Udp6")).csumErrors, v6.csumErrors! + 1);
  } finally {
    tap.close();
    await ns.close();
  }
});

/** A UDP datagram with 8 payload bytes from the stack to Linux's port 9, over IPv4 or IPv6. */
function writeUdp(
  b: Uint8Array,
  o: number,
  v6: boolean,
  dstMac: number,
  srcMac: number,
  checksum: "pseudo" | "full" | "bad",
): void {
  putMac(b, o, dstMac);
  putMac(b, o + 6, srcMac);
  const ip = o + 14;
  const header = v6 ? 40 : 20;
  const udp = ip + header;
  const length = 16;
  b.fill(0, ip, udp + length);
  let pseudo: number;
  if (v6) {
    b[o + 12] = 0x86;
    b[o + 13] = 0xdd;
    b[ip] = 0x60;
    b[ip + 5] = length;
    b[ip + 6] = 17;
    b[ip + 7] = 64;
    // fd00:77::2 → fd00:77::1
    for (const at of [ip + 8, ip + 24]) {
      b[at] = 0xfd;
      b[at + 3] = 0x77;
    }
    b[ip + 23] = 2;
    b[ip + 39] = 1;
    pseudo = onesSum(b, ip + 8, 32, 17 + length);
  } else {
    b[o + 12] = 0x08;
    b[o + 13] = 0x00;
    b[ip] = 0x45;
    b[ip + 3] = header + length;
    b[ip + 8] = 64;
    b[ip + 9] = 17;
    b.set([10, 77, 2, 2, 10, 77, 2, 1], ip + 12);
    const sum = internetChecksum(b, ip, header);
    b[ip + 10] = sum >> 8;
    b[ip + 11] = sum & 0xff;
    pseudo = pseudoHeaderSum(ipv4("10.77.2.2"), ipv4("10.77.2.1"), 17, length);
  }
  b[udp] = 0x30; // source port 12345
  b[udp + 1] = 0x39;
  b[udp + 3] = 9;
  b[udp + 5] = length;
  b.fill(0x61, udp + 8, udp + length);
  const value = checksum === "pseudo" ? pseudo : internetChecksum(b, udp, length, pseudo);
  const field = checksum === "bad" ? value ^ 0x0100 : value;
  b[udp + 6] = field >> 8;
  b[udp + 7] = field & 0xff;
}

Deno.test("TapNic without offloads clears those a persistent TAP kept from its last holder", async () => {
  const ns = await Netns.create();
  const name = uniqueName("tp");
  await must("ip", ["tuntap", "add", "dev", name, "mode", "tap"]);
  let plain: TapNic | undefined;
  try {
    // The first holder turns checksum offload on; the TAP keeps it after that holder is gone.
    new TapNic(name).close();
    plain = new TapNic(name, { offload: false, mac: 0x02aa00000003 });
    await ns.adopt(name, "10.77.3.1/24");
    await ns.ip("neigh", "add", "10.77.3.2", "lladdr", macToText(plain.mac), "dev", name);
    const sent = await ns.exec("bash", ["-c", "echo checksum > /dev/udp/10.77.3.2/9"]);
    assert.equal(sent.code, 0, sent.stderr);
    // Without the virtio-net header nothing marks a partial checksum, so every one must be whole.
    let whole: boolean | undefined;
    const heard = await receiveUntil(plain, (b, o, l) => {
      const ip = o + 14;
      if (l < 14 + 28 || b[o + 12] !== 0x08 || b[o + 13] !== 0x00 || b[ip + 9] !== 17) return false;
      const udpLength = (b[ip + 24] << 8) | b[ip + 25];
      const pseudo = pseudoHeaderSum(
        (b[ip + 12] << 24 | b[ip + 13] << 16 | b[ip + 14] << 8 | b[ip + 15]) >>> 0,
        (b[ip + 16] << 24 | b[ip + 17] << 16 | b[ip + 18] << 8 | b[ip + 19]) >>> 0,
        17,
        udpLength,
      );
      whole = internetChecksum(b, ip + 20, udpLength, pseudo) === 0;
      return true;
    });
    assert.ok(heard, "no UDP datagram from Linux");
    assert.equal(whole, true, "Linux sent a partial checksum");
  } finally {
    plain?.close();
    await ns.close();
    await run("ip", ["tuntap", "del", "dev", name, "mode", "tap"]);
  }
});
