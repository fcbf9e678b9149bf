import assert from "node:assert/strict";
import { NicError } from "../../stack/nic/ffi/libc.ts";
import { TapNic } from "../../stack/nic/tap.ts";
import {
  ipv4,
  macFromText,
  macToText,
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
    const tap = new TapNic(name);
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

Deno.test("TapNic explains missing privileges", async () => {
  const script = `
    import { TapNic } from "${new URL("../../stack/nic/tap.ts", import.meta.url).href}";
    try { new TapNic("${uniqueName("tt")}"); console.log("opened"); }
    catch (e) { console.log(e.code + ": " + e.message); }
  `;
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
    const nobody = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "eval",
        "--no-config",
        script,
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
