/**
 * The stack's IPv6 against Linux over a TAP in a throwaway namespace: Linux `ping -6` reaches the stack's
 * link-local and global addresses, the stack pings Linux, radvd advertises a prefix from which the stack
 * takes a SLAAC address, a default router and the MTU, `nc -6 -u` is echoed, and the capture of the run
 * (PcapNic) decodes in tshark without a malformed packet.
 */

import assert from "node:assert/strict";
import { echoHandler } from "../../apps/http_echo.ts";
import { serve } from "../../stack/http/mod.ts";
import { Interface } from "../../stack/layer/interface.ts";
import { attachTcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import { TcpSockets } from "../../stack/socket/tcp.ts";
import { PcapNic } from "../../stack/nic/pcap.ts";
import type { Nic } from "../../stack/nic/nic.ts";
import { PacketNic } from "../../stack/nic/packet.ts";
import { TapNic } from "../../stack/nic/tap.ts";
import { Runtime } from "../../stack/runtime.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv6Address, Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";
import { inNamespace } from "../interop/setup.ts";
import { must, Netns, run, stop, uniqueName } from "../nic/netns.ts";

/** The links the interop runs cover: a TAP, and a veth driven through AF_PACKET. */
const KINDS = ["tap", "packet"] as const;

interface Lab {
  ns: Netns;
  /** The Linux interface (the TAP, or the namespace's veth end). */
  tap: string;
  iface: Interface;
  nic: PcapNic;
  runtime: Runtime;
  pcap: string;
  linuxLinkLocal: Ipv6Address;
  close(): Promise<void>;
}

/**
 * A namespace with Linux at 2001:db8:N::1/64 on a TAP, or on a veth whose other end our stack drives
 * through AF_PACKET, and the stack on it, recorded to a pcap.
 */
async function lab(
  options: { net: number; kind?: "tap" | "packet"; staticAddress?: string; router?: boolean },
): Promise<Lab> {
  const n = options.net.toString(16);
  const kind = options.kind ?? "tap";
  const ns = await Netns.create("v6");
  const linuxIf = uniqueName(kind === "tap" ? "t6" : "i6");
  const pcap = await Deno.makeTempFile({ suffix: ".pcap" });
  let runtime: Runtime | undefined;
  let nic: PcapNic | undefined;
  try {
    let opened: Nic;
    if (kind === "tap") {
      await ns.exec("ip", ["tuntap", "add", "dev", linuxIf, "mode", "tap"]);
      await ns.exec("sysctl", ["-qw", `net.ipv6.conf.${linuxIf}.accept_dad=0`]);
      await ns.ip("link", "set", linuxIf, "up");
      opened = inNamespace(ns.name, () => new TapNic(linuxIf));
    } else {
      // The host end keeps IPv6 off (Netns.veth), so only our stack speaks IPv6 on it.
      const host = uniqueName("h6");
      await ns.veth(host, linuxIf, `10.79.${options.net & 0xff}.1/24`);
      // Checksum offload stays on (AF_PACKET completes CHECKSUM_PARTIAL IPv6 frames, see
      // stack/nic/checksum_fixup.ts); segmentation offload is off because AF_PACKET has no
      // PACKET_VNET_HDR here and would see 64 KiB segments above the MTU.
      await ns.exec("ethtool", ["-K", linuxIf, "tso", "off", "gso", "off"]);
      opened = new PacketNic(host);
    }
    if (options.router) await ns.exec("sysctl", ["-qw", "net.ipv6.conf.all.forwarding=1"]);
    await ns.ip("-6", "addr", "add", `2001:db8:${n}::1/64`, "dev", linuxIf, "nodad");
    nic = new PcapNic(opened, { path: pcap });
    const iface = new Interface(nic, {
      rng: new Rng(7),
      ipv6: {
        addresses: options.staticAddress ? [Ipv6Cidr.parse(options.staticAddress)] : [],
      },
    });
    runtime = new Runtime([{ iface, nic }]);
    runtime.start();
    // Linux's own link-local address must have passed its DAD before it is used as a source.
    let out = "";
    const end = performance.now() + 5000;
    for (;;) {
      out = await ns.ip("-6", "addr", "show", "dev", linuxIf, "scope", "link");
      if (/inet6 fe80::/.test(out) && !/tentative/.test(out)) break;
      if (performance.now() > end) {
        throw new Error(`Linux's link-local address stays tentative: ${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const ll = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(out);
    if (ll === null) throw new Error(`Linux has no link-local address on ${linuxIf}: ${out}`);
    const rt = runtime;
    const pcapNic = nic;
    return {
      ns,
      tap: linuxIf,
      iface,
      nic: pcapNic,
      runtime: rt,
      pcap,
      linuxLinkLocal: Ipv6Address.parse(ll[1]),
      close: async () => {
        await rt.stop();
        pcapNic.close();
        await ns.close();
        await Deno.remove(pcap).catch(() => {});
      },
    };
  } catch (e) {
    await runtime?.stop();
    nic?.close();
    await ns.close();
    await Deno.remove(pcap).catch(() => {});
    throw e;
  }
}

/** Waits (bounded) for a condition on the running stack. */
async function until(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pings `dst` from the stack `count` times; resolves with the sequence numbers answered. */
async function stackPings(l: Lab, dst: Ipv6Address, count: number): Promise<number[]> {
  const seqs: number[] = [];
  l.iface.ipv6!.icmp.onEchoReply = (r) => {
    if (r.src.equals(dst) && r.ident === 0x6666) seqs.push(r.seq);
  };
  for (let seq = 1; seq <= count; seq++) {
    l.iface.ipv6!.icmp.ping(dst, { ident: 0x6666, seq });
    await until(`echo reply ${seq} from ${dst}`, () => seqs.includes(seq), 4000);
  }
  return seqs;
}

async function assertCleanCapture(l: Lab): Promise<void> {
  l.nic.writer.flush();
  const pcap = l.pcap;
  const bad = await must("tshark", [
    "-n",
    "-r",
    pcap,
    "-Y",
    "_ws.malformed || _ws.expert.severity == error",
  ]);
  assert.equal(bad.trim(), "", `tshark found malformed packets:\n${bad}`);
  const v6 = await must("tshark", ["-n", "-r", pcap, "-Y", "ipv6"]);
  assert.ok(v6.trim().split("\n").length >= 5, v6);
}

for (const kind of KINDS) {
  Deno.test(`ipv6 interop ${kind}: Linux ping -6 reaches the stack's link-local and global addresses`, async () => {
    const l = await lab({
      net: 0x70 + (kind === "tap" ? 0 : 0x10),
      kind,
      staticAddress: `2001:db8:${(0x70 + (kind === "tap" ? 0 : 0x10)).toString(16)}::2/64`,
    });
    const net = (0x70 + (kind === "tap" ? 0 : 0x10)).toString(16);
    try {
      const ll = Ipv6Address.linkLocalFromMac(l.nic.mac);
      await until("DAD of the stack's addresses", () => l.iface.ipv6!.addressList().length === 2);
      for (const target of [`${ll}%${l.tap}`, `2001:db8:${net}::2`]) {
        const r = await l.ns.exec("ping", ["-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", target]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
      }
      assert.equal(l.iface.stats().icmpv6.txEchoReplies, 6);
      // 3000-byte echoes: Linux fragments, the stack reassembles and fragments its reply.
      const big = await l.ns.exec("ping", [
        "-6",
        "-n",
        "-c",
        "2",
        "-s",
        "3000",
        "-i",
        "0.3",
        "-W",
        "2",
        `2001:db8:${net}::2`,
      ]);
      assert.equal(big.code, 0, big.stdout + big.stderr);
      assert.match(big.stdout, /2 packets transmitted, 2 received/);
      assert.equal(l.iface.stats().reassembly6.reassembled, 2);
      assert.ok(l.iface.stats().ipv6.txFragments >= 6);
      // An echo to all nodes is answered too, from our link-local address (RFC 4443 §4.2).
      const all = await l.ns.exec("ping", [
        "-6",
        "-n",
        "-c",
        "2",
        "-i",
        "0.3",
        "-W",
        "2",
        `ff02::1%${l.tap}`,
      ]);
      assert.match(
        all.stdout,
        new RegExp(`from ${ll.toString().replaceAll(".", "\\.")}%?[^:]*: icmp_seq=1`),
      );
      // Linux resolved us through our answers to its solicitations.
      const neigh = await l.ns.ip("-6", "neigh", "show", "dev", l.tap);
      assert.match(neigh, new RegExp(`2001:db8:${net}::2 lladdr`));
      await assertCleanCapture(l);
    } finally {
      await l.close();
    }
  });
}

for (const kind of KINDS) {
  Deno.test(`ipv6 interop ${kind}: the stack pings Linux's link-local and global addresses`, async () => {
    const l = await lab({
      net: 0x71 + (kind === "tap" ? 0 : 0x10),
      kind,
      staticAddress: `2001:db8:${(0x71 + (kind === "tap" ? 0 : 0x10)).toString(16)}::2/64`,
    });
    const net = (0x71 + (kind === "tap" ? 0 : 0x10)).toString(16);
    try {
      await until("DAD of the stack's addresses", () => l.iface.ipv6!.addressList().length === 2);
      assert.deepEqual(await stackPings(l, l.linuxLinkLocal, 3), [1, 2, 3]);
      assert.deepEqual(await stackPings(l, Ipv6Address.parse(`2001:db8:${net}::1`), 3), [1, 2, 3]);
      const n = l.iface.ipv6!.neighbors.get(Ipv6Address.parse(`2001:db8:${net}::1`));
      assert.ok(n !== undefined && n.mac >= 0);
      await assertCleanCapture(l);
    } finally {
      await l.close();
    }
  });
}

Deno.test("ipv6 interop: radvd's advertisement gives the stack a SLAAC address, a router and the MTU", async () => {
  const l = await lab({ net: 0x72, router: true });
  const conf = await Deno.makeTempFile({ suffix: ".conf" });
  const pid = await Deno.makeTempFile({ suffix: ".pid" });
  await Deno.writeTextFile(
    conf,
    `interface ${l.tap} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvLinkMTU 1400;
  AdvCurHopLimit 77;
  prefix 2001:db8:72::/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 3600; AdvPreferredLifetime 1800; };
};
`,
  );
  const radvd = new Deno.Command("ip", {
    args: ["netns", "exec", l.ns.name, "radvd", "-n", "-C", conf, "-p", pid, "-m", "stderr"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const slaac = Ipv6Address.parse("2001:db8:72::").withMacInterfaceId(l.nic.mac);
    await until(`SLAAC address ${slaac}`, () => l.iface.ipv6!.hasAddress(slaac), 15_000);
    const ip6 = l.iface.ipv6!;
    assert.deepEqual(ip6.config.routers.map((r) => r.address.toString()), [
      l.linuxLinkLocal.toString(),
    ]);
    assert.equal(ip6.linkMtu, 1400);
    assert.equal(ip6.hopLimit, 77);
    const own = ip6.config.find(slaac)!;
    assert.equal(own.origin, "slaac");
    assert.ok(own.validUntil > own.preferredUntil && own.validUntil < Infinity);
    const r = await l.ns.exec("ping", [
      "-6",
      "-n",
      "-c",
      "3",
      "-i",
      "0.2",
      "-W",
      "2",
      slaac.toString(),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The stack reaches an address outside every on-link prefix through the default router (Linux,
    // which owns it on its loopback).
    await l.ns.ip("link", "set", "lo", "up");
    await l.ns.ip("-6", "addr", "add", "2001:db8:99::9/128", "dev", "lo");
    assert.deepEqual(await stackPings(l, Ipv6Address.parse("2001:db8:99::9"), 2), [1, 2]);
    await assertCleanCapture(l);
  } finally {
    await stop(radvd);
    await l.close();
    await Deno.remove(conf).catch(() => {});
    await Deno.remove(pid).catch(() => {});
  }
});

Deno.test("ipv6 interop: Linux's DAD for the stack's address fails on the stack's answer", async () => {
  const l = await lab({ net: 0x75, staticAddress: "2001:db8:75::2/64" });
  try {
    await until("DAD of the stack's addresses", () => l.iface.ipv6!.addressList().length === 2);
    await l.ns.exec("sysctl", ["-qw", `net.ipv6.conf.${l.tap}.accept_dad=1`]);
    await l.ns.ip("-6", "addr", "add", "2001:db8:75::2/64", "dev", l.tap);
    const end = performance.now() + 8000;
    let out = "";
    while (performance.now() < end) {
      out = await l.ns.ip("-6", "addr", "show", "dev", l.tap);
      if (/2001:db8:75::2\/64 scope global [^\n]*dadfailed/.test(out)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /2001:db8:75::2\/64 scope global [^\n]*dadfailed/);
    assert.ok(l.iface.ipv6!.hasAddress(Ipv6Address.parse("2001:db8:75::2")));
    assert.ok(l.iface.stats().ndp.txNa >= 1);
    await assertCleanCapture(l);
  } finally {
    await l.close();
  }
});

Deno.test("ipv6 interop: the stack's DAD finds an address Linux already has", async () => {
  const l = await lab({ net: 0x76 });
  try {
    await l.ns.ip("-6", "addr", "add", "2001:db8:76::5/64", "dev", l.tap, "nodad");
    await until("the link-local address", () => l.iface.ipv6!.linkLocal !== undefined);
    l.iface.ipv6!.addAddress(Ipv6Cidr.parse("2001:db8:76::5/64"));
    await until("DAD to fail", () => l.iface.ipv6!.ndp.stats.dadFailed === 1);
    assert.deepEqual(l.iface.ipv6!.ndp.duplicates.map(String), ["2001:db8:76::5"]);
    assert.ok(!l.iface.ipv6!.hasAddress(Ipv6Address.parse("2001:db8:76::5")));
    assert.ok(!l.iface.ipv6!.disabled);
  } finally {
    await l.close();
  }
});

Deno.test("ipv6 interop: nc -6 -u gets its datagram echoed", async () => {
  const l = await lab({ net: 0x73, staticAddress: "2001:db8:73::2/64" });
  const binding = l.iface.udp.bind(7, (d) => {
    if (d.src6 !== undefined) {
      l.iface.udp6!.send(7, d.src6, d.srcPort, d.bytes.slice(d.offset, d.offset + d.length));
    }
  });
  try {
    await until("DAD of the stack's addresses", () => l.iface.ipv6!.addressList().length === 2);
    const r = await l.ns.exec("sh", [
      "-c",
      "printf 'hello over ipv6' | nc -6 -u -w 2 2001:db8:73::2 7",
    ]);
    assert.equal(r.stdout, "hello over ipv6", r.stderr);
    await assertCleanCapture(l);
  } finally {
    binding.close();
    await l.close();
  }
});

for (const kind of KINDS) {
  Deno.test(`ipv6 interop ${kind}: curl -6 gets the HTTP echo app over TCP over IPv6`, async () => {
    const l = await lab({
      net: 0x74 + (kind === "tap" ? 0 : 0x10),
      kind,
      staticAddress: `2001:db8:${(0x74 + (kind === "tap" ? 0 : 0x10)).toString(16)}::2/64`,
    });
    const net = (0x74 + (kind === "tap" ? 0 : 0x10)).toString(16);
    const tcp6 = attachTcp6(l.iface, { rng: new Rng(5) });
    const sockets = new TcpSockets(tcp6.endpoint, l.runtime, {
      resolve: tcp6.handles.resolver(),
      addresses: tcp6.handles.codec(),
    });
    const server = serve(
      { listener: sockets.listen({ port: 80 }), onListen: () => {} },
      echoHandler,
    );
    const body = await Deno.makeTempFile();
    try {
      await until("DAD of the stack's addresses", () => l.iface.ipv6!.addressList().length === 2);
      const get = await l.ns.exec("curl", [
        "-6",
        "-g",
        "-sS",
        "-m",
        "10",
        `http://[2001:db8:${net}::2]/`,
      ]);
      assert.equal(get.code, 0, get.stderr);
      assert.match(get.stdout, /^Hello from the Deno TCP\/IP stack!/);
      const data = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
      await Deno.writeFile(body, data);
      const post = await new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          l.ns.name,
          "curl",
          "-6",
          "-g",
          "-s",
          "-m",
          "20",
          "--data-binary",
          `@${body}`,
          "-H",
          "Content-Type: application/octet-stream",
          `http://[2001:db8:${net}::2]/echo`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(post.code, 0, new TextDecoder().decode(post.stderr));
      assert.equal(post.stdout.length, data.length);
      assert.deepEqual(post.stdout, data);
      await assertCleanCapture(l);
    } finally {
      await server.shutdown();
      tcp6.detach();
      await l.close();
      await Deno.remove(body).catch(() => {});
    }
  });
}

void run;
