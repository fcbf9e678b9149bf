/**
 * Our DHCP client and resolver against a real dnsmasq: a throwaway network namespace holds the Linux side
 * of a TAP that our stack drives from this process, and dnsmasq serves DHCP and DNS on it. Needs root
 * (namespaces, /dev/net/tun) and /usr/sbin/dnsmasq. Everything is removed in `finally`: the runtime is
 * stopped, dnsmasq is killed by PID, the TAP closed and the namespace deleted.
 */

import assert from "node:assert/strict";
import { attachDhcp } from "../../stack/app/dhcp/attach.ts";
import type { DhcpLease } from "../../stack/app/dhcp/client.ts";
import { attachResolver, tcpConnector } from "../../stack/app/dns/attach.ts";
import { DnsError } from "../../stack/app/dns/resolver.ts";
import { DNS_CLASS_IN, DnsPacket, DnsRepr, DnsType } from "../../stack/app/dns/wire.ts";
import { WireError } from "../../stack/wire/error.ts";
import { Interface } from "../../stack/layer/interface.ts";
import { TapNic } from "../../stack/nic/tap.ts";
import { Runtime } from "../../stack/runtime.ts";
import { tcpFor, type TcpSockets } from "../../stack/socket/tcp.ts";
import { Rng } from "../../stack/util/rng.ts";
import { formatIpv4, parseIpv4 } from "../../stack/wire/address.ts";
import { Netns, uniqueName } from "../nic/netns.ts";
import { dnsmasqArgs, killNamespaceProcesses, Output, within } from "./children.ts";

const MAC = 0x02dd00000007;
const ROUTER = "10.77.7.1";

/** Stops a child we started (by its PID, through its handle) whose stderr a watcher reads. */
async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // It has already exited.
  }
  await child.stdout.cancel();
  await child.status;
}

Deno.test({
  name: "dhcp+dns against dnsmasq: lease over a TAP, then A, AAAA, CNAME, NXDOMAIN and cache",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ns = await Netns.create("dd");
    const tapName = uniqueName("td");
    const dir = await Deno.makeTempDir({ prefix: "dhcp_dns_" });
    let tap: TapNic | undefined;
    let dnsmasq: Deno.ChildProcess | undefined;
    let watcher: Output | undefined;
    let runtime: Runtime | undefined;
    try {
      await ns.quiet();
      tap = new TapNic(tapName, { mac: MAC });
      await ns.adopt(tapName, `${ROUTER}/24`);
      // 40 addresses for one name make dnsmasq's UDP answer exceed 512 bytes and set TC.
      const manyHosts = Array.from({ length: 40 }, (_, i) => `10.1.0.${i + 1} many.test\n`).join(
        "",
      );
      await Deno.writeTextFile(
        `${dir}/hosts`,
        `10.77.7.20 host.test\n${ROUTER} dns.test\n${manyHosts}`,
      );
      dnsmasq = ns.spawn(
        "/usr/sbin/dnsmasq",
        dnsmasqArgs({
          iface: tapName,
          dir,
          router: ROUTER,
          range: "10.77.7.50,10.77.7.99,255.255.255.0,1h",
        }, [
          `--addn-hosts=${dir}/hosts`,
          "--local=/test/",
          "--local-ttl=30",
          "--address=/example.test/10.77.7.10",
          "--host-record=ipv6.test,fd00::10",
          "--cname=alias.test,host.test",
        ]),
      );
      watcher = new Output(dnsmasq.stderr);
      await watcher.waitFor(/DHCP, sockets bound exclusively/, 10_000, "dnsmasq");

      const iface = new Interface(tap, { rng: new Rng(11), announce: false });
      // The resolver needs the sockets (TCP fallback) and the sockets need the resolver (names).
      const late: { sockets?: TcpSockets } = {};
      const { resolver } = attachResolver(iface, {
        servers: [],
        rng: new Rng(12),
        wake: () => runtime?.wake(),
        tcp: tcpConnector(() => late.sockets!),
      });
      let onLease: (lease: DhcpLease) => void = () => {};
      const leased = new Promise<DhcpLease>((resolve) => (onLease = resolve));
      const { client } = attachDhcp(iface, {
        mac: MAC,
        rng: new Rng(13),
        hostname: "denovm",
        dns: resolver,
        onBound: (lease) => onLease(lease),
      });
      runtime = new Runtime([{ iface, nic: tap }]);
      // The stack's TCP: `connect({ hostname })` looks names up with the resolver, and the resolver
      // falls back to TCP through these sockets.
      const sockets = tcpFor({ iface, runtime }, { resolve: (name) => resolver.lookupIpv4(name) });
      late.sockets = sockets;
      const started = performance.now();
      runtime.start();

      const lease = await within(leased, 20_000, "a DHCP lease");
      const leaseMs = performance.now() - started;
      const address = formatIpv4(lease.address);
      const last = Number(address.split(".")[3]);
      assert.ok(address.startsWith("10.77.7.") && last >= 50 && last <= 99, address);
      assert.equal(lease.prefixLength, 24);
      assert.equal(lease.router, parseIpv4(ROUTER));
      assert.deepEqual(lease.dnsServers, [parseIpv4(ROUTER)]);
      assert.equal(lease.leaseTimeS, 3600);
      assert.equal(lease.renewAt - lease.acquiredAt, 1800_000);
      assert.deepEqual(iface.ipv4.addresses.map(String), [`${address}/24`]);
      await watcher.waitFor(
        new RegExp(`DHCPACK\\(${tapName}\\) ${address} 02:dd:00:00:00:07 denovm`),
        5000,
        "dnsmasq",
      );
      const leases = await Deno.readTextFile(`${dir}/leases`);
      assert.match(
        leases,
        new RegExp(`02:dd:00:00:00:07 ${address.replaceAll(".", "\\.")} denovm`),
      );

      const askedAt = performance.now();
      const a = await within(resolver.resolve("example.test", "A"), 10_000, "example.test");
      const resolveMs = performance.now() - askedAt;
      if (Deno.env.get("DHCP_DNS_MEASURE")) {
        console.log(
          `lease in ${leaseMs.toFixed(1)} ms, first A lookup in ${resolveMs.toFixed(2)} ms`,
        );
      }
      assert.deepEqual(a.map(formatIpv4), ["10.77.7.10"]);
      const alias = await within(resolver.resolve("alias.test", "A"), 10_000, "alias.test");
      assert.deepEqual(alias.map(formatIpv4), ["10.77.7.20"]);
      const v6 = await within(resolver.resolve("ipv6.test", "AAAA"), 10_000, "ipv6.test");
      assert.equal(v6.length, 1);
      assert.deepEqual([...v6[0]], [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);
      await assert.rejects(
        within(resolver.resolve("missing.test", "A"), 10_000, "missing.test"),
        (e: DnsError) => e instanceof DnsError && e.code === "not-found",
      );
      const queries = resolver.stats.queries;
      assert.deepEqual((await resolver.resolve("EXAMPLE.test", "A")).map(formatIpv4), [
        "10.77.7.10",
      ]);
      assert.equal(resolver.stats.queries, queries, "answered from the cache (dnsmasq TTL 30 s)");
      assert.equal(resolver.stats.cacheHits, 1);
      assert.equal(await resolver.lookupIpv4("host.test"), parseIpv4("10.77.7.20"));

      // dnsmasq's UDP answer is truncated (TC=1); the retry over our TCP gets all 40 addresses.
      const many = await within(resolver.resolve("many.test", "A"), 10_000, "many.test over TCP");
      assert.equal(resolver.stats.tcpFallbacks, 1);
      assert.deepEqual(
        many.map(formatIpv4).sort(),
        Array.from({ length: 40 }, (_, i) => `10.1.0.${i + 1}`).sort(),
      );

      // connect({ hostname }) resolves through the resolver, then opens a TCP connection to dnsmasq,
      // which answers a length-prefixed query on it.
      const conn = await within(
        sockets.connect({ hostname: "dns.test", port: 53 }),
        10_000,
        "a TCP connection to dns.test",
      );
      assert.equal(conn.remoteAddr.hostname, ROUTER);
      assert.equal(conn.localAddr.hostname, address);
      const query = new DnsRepr();
      query.id = 0x5150;
      query.questions = [{ name: "example.test", type: DnsType.A, class: DNS_CLASS_IN }];
      const framed = new Uint8Array(2 + query.bufferLength);
      framed[1] = query.emit(new DnsPacket(framed, 2));
      await conn.write(framed);
      const reply = new Uint8Array(512);
      let got = 0;
      while (got < 2 || got < 2 + ((reply[0] << 8) | reply[1])) {
        const n = await within(conn.read(reply.subarray(got)), 10_000, "a DNS answer over TCP");
        assert.ok(n !== null, "dnsmasq closed before answering");
        got += n;
      }
      const answer = DnsRepr.parse(new DnsPacket(reply, 2, got - 2));
      assert.ok(!(answer instanceof WireError));
      assert.equal(answer.id, 0x5150);
      assert.equal(answer.answers[0].address, parseIpv4("10.77.7.10"));
      conn.close();

      client.release(runtime.now());
      await watcher.waitFor(new RegExp(`DHCPRELEASE\\(${tapName}\\) ${address}`), 5000, "dnsmasq");
      assert.equal(client.state, "stopped");
      assert.deepEqual(iface.ipv4.addresses, []);
    } finally {
      await runtime?.stop();
      try {
        // dnsmasq's DNS-over-TCP children keep its stderr open and wait on their connection; every
        // process in the namespace is ours, so end them all by PID.
        await killNamespaceProcesses(ns);
        if (dnsmasq) await stopChild(dnsmasq);
        await watcher?.done;
        tap?.close();
      } finally {
        await ns.close();
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});
