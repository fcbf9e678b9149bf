/**
 * `--ip dhcp` on an app's link. In memory: `openLink` gets its lease from the memory peer, and
 * `link.tcp.connect({ hostname })` looks names up through `link.resolver`. Against dnsmasq: a real app
 * (apps/udp_echo.ts) runs as a subprocess on a TAP inside a throwaway namespace, first with no DHCP
 * server (it must fail with a clear message and status 1), then leasing from dnsmasq and answering at
 * the leased address. In the VM: the image's default arguments lease 10.0.2.15 from QEMU's user network
 * and the boot log shows the lease. Needs root, /usr/sbin/dnsmasq and qemu-system-x86_64. Everything
 * is removed in `finally`: processes (QEMU included) are killed by PID and the namespace (with its
 * TAP) is deleted.
 */

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { openLink } from "../../apps/lib/link.ts";
import { DNS_CLASS_IN, DnsPacket, DnsRepr, DnsType } from "../../stack/app/dns/wire.ts";
import { tcpFor } from "../../stack/socket/tcp.ts";
import { parseIpv4 } from "../../stack/wire/address.ts";
import { WireError } from "../../stack/wire/error.ts";
import { Vm } from "../../vm/boot.ts";
import { Netns, uniqueName } from "../nic/netns.ts";
import { dnsmasqArgs, killNamespaceProcesses, Output, within } from "./children.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAC = "02:dd:00:00:00:08";
const ROUTER = "10.77.8.1";

/** Starts apps/udp_echo.ts inside `ns` on `tap:NAME` with `--ip dhcp` and `extra` options. */
function spawnEcho(ns: Netns, tapName: string, extra: string[]): Deno.ChildProcess {
  return ns.spawn(Deno.execPath(), [
    "run",
    "-A",
    "--no-config",
    `${ROOT}apps/udp_echo.ts`,
    "--nic",
    `tap:${tapName}`,
    "--mac",
    MAC,
    "--ip",
    "dhcp",
    ...extra,
  ]);
}

Deno.test({
  name: "link --ip dhcp in memory: lease from the peer, then connect({ hostname }) via --dns",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const reports: string[] = [];
    const link = await openLink(["--nic", "memory", "--ip", "dhcp", "--dns", "10.0.0.1"], {
      report: (line) => reports.push(line),
    });
    const peer = link.peer!;
    const listener = tcpFor({ iface: peer.iface, runtime: link.runtime }).listen({ port: 80 });
    try {
      assert.equal(link.dhcp?.client.state, "bound");
      assert.deepEqual(reports, [
        "dhcp: leased 10.0.0.2/24 router 10.0.0.1 dns 10.0.0.1 from 10.0.0.1 for 3600 s",
      ]);
      assert.deepEqual(link.iface.ipv4.addresses.map(String), ["10.0.0.2/24"]);
      assert.deepEqual(link.config.addresses.map(String), ["10.0.0.2/24"]);
      assert.equal(link.dhcp?.client.lease?.router, parseIpv4("10.0.0.1"));
      // --dns wins over the lease (which names no server here).
      assert.deepEqual(link.resolver.servers, [parseIpv4("10.0.0.1")]);

      // A DNS server on the peer that knows one name.
      const asked: string[] = [];
      peer.iface.udp.bind(53, (d) => {
        const q = DnsRepr.parse(new DnsPacket(d.bytes, d.offset, d.length));
        if (q instanceof WireError) return;
        asked.push(q.questions[0].name);
        const r = new DnsRepr();
        r.id = q.id;
        r.response = true;
        r.questions = q.questions;
        r.answers = [{
          name: q.questions[0].name,
          type: DnsType.A,
          class: DNS_CLASS_IN,
          ttl: 60,
          data: new Uint8Array(0),
          address: peer.address,
        }];
        const bytes = new Uint8Array(r.bufferLength);
        r.emit(new DnsPacket(bytes));
        peer.iface.udp.send(53, d.src, d.srcPort, bytes);
      });
      const accepted = listener.accept();
      const conn = await within(
        link.tcp.connect({ hostname: "peer.test", port: 80 }),
        10_000,
        "a connection to peer.test",
      );
      assert.deepEqual(asked, ["peer.test"]);
      assert.equal(conn.remoteAddr.hostname, "10.0.0.1");
      assert.equal(conn.localAddr.hostname, "10.0.0.2");
      const server = await within(accepted, 10_000, "the peer to accept");
      await conn.write(new TextEncoder().encode("hi"));
      const buf = new Uint8Array(8);
      const n = await within(server.read(buf), 10_000, "bytes at the peer");
      assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "hi");
      conn.close();
      server.close();
    } finally {
      listener.close();
      await link.close();
    }
  },
});

Deno.test({
  name: "link --ip dhcp against dnsmasq: udp_echo as a subprocess on a TAP, at its leased address",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ns = await Netns.create("dl");
    const tapName = uniqueName("tl");
    const dir = await Deno.makeTempDir({ prefix: "dhcp_link_" });
    const children: Deno.ChildProcess[] = [];
    try {
      await ns.quiet();
      // A persistent TAP inside the namespace: the app, started in the namespace too, attaches to it.
      await ns.ip("tuntap", "add", "dev", tapName, "mode", "tap");
      await ns.ip("addr", "add", `${ROUTER}/24`, "dev", tapName);
      await ns.ip("link", "set", tapName, "up");

      // No DHCP server yet: the app must give up with a clear message and status 1.
      const lonely = spawnEcho(ns, tapName, ["--dhcp-timeout", "500"]);
      children.push(lonely);
      const lonelyOut = await within(lonely.output(), 20_000, "the app to give up");
      const lonelyErr = new TextDecoder().decode(lonelyOut.stderr);
      assert.equal(lonelyOut.code, 1, lonelyErr);
      assert.match(lonelyErr, new RegExp(`No DHCP lease on tap:${tapName} within 500 ms`));

      const dnsmasq = ns.spawn(
        "/usr/sbin/dnsmasq",
        dnsmasqArgs({
          iface: tapName,
          dir,
          router: ROUTER,
          range: "10.77.8.50,10.77.8.99,255.255.255.0,1h",
        }),
      );
      children.push(dnsmasq);
      const dnsmasqLog = new Output(dnsmasq.stderr);
      await dnsmasqLog.waitFor(/DHCP, sockets bound exclusively/, 10_000, "dnsmasq");

      const app = spawnEcho(ns, tapName, ["--dhcp-hostname", "linktest"]);
      children.push(app);
      const appOut = new Output(app.stdout);
      const appErr = new Output(app.stderr);
      const [, address] = await appOut.waitFor(
        /dhcp: leased (10\.77\.8\.\d+)\/24 router 10\.77\.8\.1 dns 10\.77\.8\.1 from 10\.77\.8\.1/,
        20_000,
        "udp_echo",
      ).catch((error) => {
        throw new Error(`${error.message}\nstderr:\n${appErr.text}`);
      });
      const last = Number(address.split(".")[3]);
      assert.ok(last >= 50 && last <= 99, address);
      await appOut.waitFor(new RegExp(`udp_echo listening on ${address}:7`), 5000, "udp_echo");
      await dnsmasqLog.waitFor(
        new RegExp(`DHCPACK\\(${tapName}\\) ${address.replaceAll(".", "\\.")} ${MAC} linktest`),
        5000,
        "dnsmasq",
      );

      // Linux reaches the app at the leased address: ping, then a UDP echo.
      const ping = await ns.exec("ping", ["-c", "1", "-W", "5", address]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      const echo = await ns.exec("python3", [
        "-c",
        [
          "import socket, sys",
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
          "s.settimeout(5)",
          `s.sendto(b'leased echo', ('${address}', 7))`,
          "sys.stdout.write(s.recvfrom(100)[0].decode())",
        ].join("\n"),
      ]);
      assert.equal(echo.code, 0, echo.stderr);
      assert.equal(echo.stdout, "leased echo");

      app.kill("SIGTERM");
      const status = await within(app.status, 10_000, "udp_echo to stop");
      await appOut.done;
      await appErr.done;
      assert.equal(status.code, 0, appErr.text);
      assert.match(appOut.text, /echoed 1 datagrams/);
    } finally {
      await killNamespaceProcesses(ns);
      for (const child of children) {
        try {
          child.kill("SIGKILL");
        } catch {
          // It has already exited.
        }
        await child.status;
      }
      await ns.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "link --ip dhcp in the VM: the default app leases 10.0.2.15 from QEMU and the boot log shows it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // A UDP port the kernel picked a moment ago, for the forward to the guest's echo.
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    const vm = await Vm.boot({ app: "apps/udp_echo.ts", port, echo: () => {}, progress: () => {} });
    try {
      const lines = vm.console;
      assert.ok(
        lines.includes("init: starting apps/udp_echo.ts --nic virtio --ip dhcp"),
        vm.tail(),
      );
      // libslirp's defaults: the first client gets 10.0.2.15, the host is 10.0.2.2, DNS 10.0.2.3.
      assert.ok(
        lines.some((line) =>
          /^dhcp: leased 10\.0\.2\.15\/24 router 10\.0\.2\.2 dns 10\.0\.2\.3 from 10\.0\.2\.2 /
            .test(line)
        ),
        vm.tail(),
      );
      assert.ok(lines.some((line) => line.startsWith("udp_echo listening on 10.0.2.15:7")));
      const payload = new TextEncoder().encode("through slirp");
      const answer = await Vm.udpExchange(vm.url, payload, 5000);
      assert.deepEqual(answer, payload);
      const status = await vm.powerOff();
      assert.equal(status.code, 0, vm.tail());
    } finally {
      vm.kill();
    }
  },
});
