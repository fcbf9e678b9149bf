/**
 * Our DHCP client against QEMU's user-mode network (slirp), the network the VM image boots on, without
 * booting a VM: `qemu-system-x86_64 -M none` puts slirp (restricted: nothing leaves the host) and a UDP
 * socket netdev on one hub, and the stack in this process exchanges frames with that socket on loopback.
 * QEMU is killed by PID in `finally`.
 */

import assert from "node:assert/strict";
import { attachDhcp } from "../../stack/app/dhcp/attach.ts";
import type { DhcpLease } from "../../stack/app/dhcp/client.ts";
import { Interface } from "../../stack/layer/interface.ts";
import { Runtime } from "../../stack/runtime.ts";
import { Rng } from "../../stack/util/rng.ts";
import { formatIpv4 } from "../../stack/wire/address.ts";
import { UdpSocketNic } from "./udp_socket_nic.ts";

const MAC = 0x525400123456;

Deno.test({
  name: "dhcp against QEMU user-mode network: slirp leases 10.0.2.15/24 from 10.0.2.2",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const qemuPort = await UdpSocketNic.freePort();
    const nic = await UdpSocketNic.open(0, qemuPort, MAC);
    let qemu: Deno.ChildProcess | undefined;
    let runtime: Runtime | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      qemu = new Deno.Command("qemu-system-x86_64", {
        args: [
          "-M",
          "none",
          "-nodefaults",
          "-nographic",
          "-display",
          "none",
          "-monitor",
          "none",
          "-serial",
          "none",
          "-netdev",
          "user,id=u,restrict=on",
          "-netdev",
          `socket,id=s,udp=127.0.0.1:${nic.port},localaddr=127.0.0.1:${qemuPort}`,
          "-netdev",
          "hubport,id=h1,hubid=0,netdev=u",
          "-netdev",
          "hubport,id=h2,hubid=0,netdev=s",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const iface = new Interface(nic, { rng: new Rng(21), announce: false });
      // QEMU gives no readiness signal, so a DISCOVER sent before it listens is lost: retransmit sooner
      // than RFC 2131's 4 s so that the test does not wait for it.
      const { client, leased, detach } = attachDhcp(iface, {
        mac: MAC,
        rng: new Rng(22),
        retransmitMs: 500,
        maxRetransmitMs: 1000,
      });
      runtime = new Runtime([{ iface, nic }]);
      const started = performance.now();
      runtime.start();
      const lease: DhcpLease = await Promise.race([
        leased,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("Timed out waiting for a lease")), 20_000);
        }),
      ]);
      if (Deno.env.get("DHCP_DNS_MEASURE")) {
        const ms = (performance.now() - started).toFixed(1);
        console.log(
          `lease in ${ms} ms from start (QEMU start-up included), ${client.stats.txPackets} sent`,
        );
      }
      assert.equal(formatIpv4(lease.address), "10.0.2.15");
      assert.equal(lease.prefixLength, 24);
      assert.equal(formatIpv4(lease.serverId), "10.0.2.2");
      assert.equal(lease.leaseTimeS, 86400);
      assert.equal(lease.renewAt - lease.acquiredAt, 43_200_000);
      assert.equal(lease.router, undefined, "restricted slirp sends no router option");
      assert.deepEqual(iface.ipv4.addresses.map(String), ["10.0.2.15/24"]);
      assert.equal(client.state, "bound");
      assert.equal(client.stats.offers, 1);
      assert.equal(client.stats.acks, 1);
      detach();
    } finally {
      clearTimeout(timer);
      await runtime?.stop();
      if (qemu) {
        try {
          qemu.kill("SIGTERM");
        } catch {
          // It has already exited.
        }
        await qemu.status;
      }
      nic.close();
    }
  },
});
