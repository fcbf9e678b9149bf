import assert from "node:assert/strict";
import { NicError } from "../../stack/nic/ffi/libc.ts";
import { PacketNic, type PacketOptions } from "../../stack/nic/packet.ts";
import { logLevel, setLogLevel, setLogSink } from "../../stack/util/log.ts";
import {
  getMac,
  ipv4,
  macFromText,
  macToText,
  readArp,
  receiveUntil,
  writeArp,
  writeFiller,
} from "./frames.ts";
import { Netns, run, stop, uniqueName } from "./netns.ts";

const LINUX_IP = ipv4("10.77.2.1");
const STACK_IP = ipv4("10.77.2.2");
const OUR_MAC = 0x02bb00000002;

/**
 * Runs `body` with a PacketNic on the host end of a veth whose other end (`inner`, 10.77.2.1/24) is
 * in a fresh namespace; closes the NIC and removes the namespace afterwards.
 */
async function withPacketNic(
  options: PacketOptions,
  body: (ns: Netns, inner: string, nic: PacketNic) => Promise<void>,
): Promise<void> {
  const ns = await Netns.create();
  const host = uniqueName("pa");
  const inner = uniqueName("pb");
  let nic: PacketNic | undefined;
  try {
    await ns.quiet();
    await ns.veth(host, inner, "10.77.2.1/24");
    nic = new PacketNic(host, options);
    await body(ns, inner, nic);
  } finally {
    nic?.close();
    await ns.close();
  }
}

/** Runs Python `lines` in the namespace with `s`, a raw socket bound to `inner`; asserts it exits 0. */
async function sendRaw(ns: Netns, inner: string, lines: string[]): Promise<void> {
  const py = [
    "import socket",
    "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
    `s.bind(("${inner}", 0))`,
    ...lines,
  ].join("\n");
  const r = await ns.exec("python3", ["-c", py]);
  assert.equal(r.code, 0, r.stderr);
}

for (const version of [2, 3] as const) {
  Deno.test(`PacketNic TPACKET_V${version} exchanges frames with Linux over a veth`, async () => {
    const ns = await Netns.create();
    const host = uniqueName("pa");
    const inner = uniqueName("pb");
    let nic: PacketNic | undefined;
    let ping: Deno.ChildProcess | undefined;
    try {
      await ns.quiet();
      await ns.veth(host, inner, "10.77.2.1/24");
      await run("ip", ["link", "set", host, "mtu", "1400"]);
      await ns.ip("link", "set", inner, "mtu", "1400");
      nic = new PacketNic(host, { mac: OUR_MAC, version });
      assert.equal(nic.name, `packet:${host}`);
      assert.equal(nic.version, version);
      assert.equal(nic.mtu, 1400);
      assert.equal(nic.mac, OUR_MAC);
      const linuxMac = macFromText(JSON.parse(await ns.ip("-j", "link", "show", inner))[0].address);

      ping = ns.spawn("ping", ["-n", "-c", "3", "-i", "0.3", "-W", "1", "10.77.2.2"]);
      assert.ok(
        await receiveUntil(nic, (b, o, l) => {
          const arp = readArp(b, o, l);
          return arp !== undefined && arp.op === 1 && arp.dstIp === STACK_IP &&
            arp.srcMac === linuxMac;
        }),
        "no ARP request from Linux",
      );
      await stop(ping);
      ping = undefined;

      assert.ok(
        nic.send(
          0,
          42,
          (b, o) =>
            writeArp(b, o, { op: 1, srcMac: OUR_MAC, srcIp: STACK_IP, dstMac: 0, dstIp: LINUX_IP }),
        ),
      );
      nic.flush(0);
      // The reply is addressed to our MAC, not the interface's: promiscuous mode lets it in.
      let ownSeen = 0;
      assert.ok(
        await receiveUntil(nic, (b, o, l) => {
          if (getMac(b, o + 6) === OUR_MAC) ownSeen++;
          const arp = readArp(b, o, l);
          return arp !== undefined && arp.op === 2 && arp.srcIp === LINUX_IP &&
            arp.ethDst === OUR_MAC;
        }),
        "no ARP reply from Linux",
      );
      assert.match(
        await ns.ip("neigh", "show", "10.77.2.2", "dev", inner),
        new RegExp(macToText(OUR_MAC)),
      );

      // A burst larger than the TX ring: the NIC flushes when the ring fills, nothing is lost.
      const before = await ns.counter(inner, "rx_packets");
      let sent = 0;
      for (let i = 0; i < 2000; i++) {
        if (nic.send(0, i % 2 ? 1414 : 60, (b, o, l) => writeFiller(b, o, l, OUR_MAC, i))) sent++;
      }
      nic.flush(0);
      assert.equal(sent, 2000);
      let arrived = 0;
      for (let tries = 0; tries < 50 && arrived < 2000; tries++) {
        arrived = await ns.counter(inner, "rx_packets") - before;
      }
      assert.equal(arrived, 2000);
      // Our own transmissions never come back on the receive ring.
      nic.receive(0, (b, o) => {
        if (getMac(b, o + 6) === OUR_MAC) ownSeen++;
      });
      assert.equal(ownSeen, 0);
      assert.equal(nic.stats.txFrames, 2001);
      assert.ok(nic.stats.rxFrames >= 2);
      assert.equal(nic.stats.rxDropped, 0);
    } finally {
      if (ping) await stop(ping);
      nic?.close();
      await ns.close();
    }
  });

  Deno.test(`PacketNic TPACKET_V${version} receives a burst in order`, async () => {
    await withPacketNic({ version }, async (ns, inner, nic) => {
      // Linux sends 300 broadcast frames through a raw socket in the namespace.
      await sendRaw(ns, inner, [
        "for i in range(300):",
        "    s.send(b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x09' + b'\\x88\\xb5' + i.to_bytes(4, 'big') + bytes(46))",
      ]);
      const seqs: number[] = [];
      const handler = (b: Uint8Array, o: number) => {
        if (getMac(b, o + 6) === 0x020000000009) {
          seqs.push(new DataView(b.buffer, b.byteOffset).getUint32(o + 14));
        }
      };
      for (let tries = 0; tries < 100 && seqs.length < 300; tries++) {
        nic.receive(0, handler, 7);
        if (seqs.length < 300) await nic.wait(50);
      }
      assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i));
    });
  });
  Deno.test(`PacketNic TPACKET_V${version} puts back the VLAN tag the kernel strips`, async () => {
    await withPacketNic({ version }, async (ns, inner, nic) => {
      // An ARP request on VLAN 5, tag inline; this kernel has no 8021q to make a VLAN device.
      await sendRaw(ns, inner, [
        "arp = bytes([0,1,8,0,6,4,0,1, 2,0,0,0,0,9, 10,77,6,1, 0,0,0,0,0,0, 10,77,6,2])",
        "s.send(b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x09' + b'\\x81\\x00\\x00\\x05\\x08\\x06' + arp)",
      ]);
      let tagged: number[] | undefined;
      const heard = await receiveUntil(nic, (b, o, l) => {
        if (((b[o + 12] << 8) | b[o + 13]) !== 0x8100) return false;
        // The tagged frame is the untagged one with 4 more bytes: the ARP request follows the tag.
        const arp = readArp(b.subarray(o + 4), 0, l - 4);
        if (arp === undefined || arp.dstIp !== ipv4("10.77.6.2")) return false;
        tagged = [(b[o + 14] << 8) | b[o + 15], l];
        return getMac(b, o) === 0xffffffffffff;
      });
      assert.ok(heard, "no tagged ARP request");
      assert.deepEqual(tagged, [5, 46]);
      assert.ok(nic.stats.rxVlan >= 1);
    });
  });
}

Deno.test("PacketNic keeps calm once its interface is deleted", async () => {
  const ns = await Netns.create();
  const host = uniqueName("pa");
  let nic: PacketNic | undefined;
  try {
    await ns.veth(host, uniqueName("pb"), "10.77.2.1/24");
    nic = new PacketNic(host);
    await run("ip", ["link", "del", host]);
    assert.equal(nic.receive(0, () => {}), 0);
    // The socket now polls as failed; wait must still return (after its timeout).
    await nic.wait(5);
    assert.equal(nic.send(0, 60, (b, o, l) => writeFiller(b, o, l, OUR_MAC, 0)), true);
    nic.flush(0);
    assert.equal(nic.stats.txErrors, 1);
  } finally {
    nic?.close();
    await ns.close();
  }
});

Deno.test("PacketNic explains a missing CAP_NET_RAW", async () => {
  const script = `
    import { PacketNic } from "${new URL("../../stack/nic/packet.ts", import.meta.url).href}";
    try { new PacketNic("lo"); console.log("opened"); }
    catch (e) { console.log(e.code + ": " + e.message); }
  `;
  const r = await run("setpriv", [
    "--bounding-set=-net_raw",
    "--inh-caps=-net_raw",
    Deno.execPath(),
    "eval",
    "--no-config",
    script,
  ]);
  assert.equal(
    r.stdout.trim(),
    "EPERM: Cannot open packet:lo: permission denied (run as root or grant CAP_NET_RAW)",
    r.stderr,
  );
});

Deno.test("PacketNic explains an interface that does not exist", () => {
  assert.throws(() => new PacketNic("nosuchif0"), (e) => {
    assert.ok(e instanceof NicError);
    assert.equal(e.message, "Cannot open packet:nosuchif0: interface nosuchif0 does not exist");
    assert.equal(e.code, "ENODEV");
    return true;
  });
});

Deno.test("PacketNic refuses a frame above the MTU and wakes a wait on close", async () => {
  const ns = await Netns.create();
  const host = uniqueName("pa");
  try {
    await ns.veth(host, uniqueName("pb"), "10.77.2.1/24");
    const nic = new PacketNic(host);
    assert.equal(nic.mtu, 1500);
    assert.throws(() => nic.send(0, 1515, () => {}), /1515 bytes on packet:pa\w+: the MTU of 1500/);
    const waiting = nic.wait(60_000);
    nic.close();
    await waiting;
    assert.equal(nic.receive(0, () => {}), 0);
  } finally {
    await ns.close();
  }
});

Deno.test("PacketNic drops and counts frames above its MTU, with one warning", async () => {
  const warnings: string[] = [];
  const previous = setLogSink((level, _scope, message) => {
    if (level === "warn") warnings.push(message);
  });
  const level = logLevel();
  setLogLevel("warn");
  try {
    await withPacketNic({ mtu: 1000 }, async (ns, inner, nic) => {
      await sendRaw(ns, inner, [
        "for n in (60, 1514, 1014, 1015, 1514):",
        "    s.send(b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x09\\x88\\xb5' + bytes(n - 14))",
      ]);
      const lengths: number[] = [];
      const handler = (b: Uint8Array, o: number, l: number) => {
        if (getMac(b, o + 6) === 0x020000000009) lengths.push(l);
      };
      const seen = () => lengths.length + nic.stats.rxTruncated;
      for (let tries = 0; tries < 100 && seen() < 5; tries++) {
        nic.receive(0, handler);
        if (seen() < 5) await nic.wait(50);
      }
      // 1014 fits (1000 + 14); 1018 would still pass for a VLAN tag; 1514 does not.
      assert.deepEqual(lengths, [60, 1014, 1015]);
      assert.equal(nic.stats.rxTruncated, 2);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /Dropped a 1514-byte frame on packet:pa\w+: above the MTU of 1000/);
    });
  } finally {
    setLogSink(previous);
    setLogLevel(level);
  }
});
