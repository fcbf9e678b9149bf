import assert from "node:assert/strict";
import { type Ipv4Cidr, parseIpv4 } from "../../wire/address.ts";
import type { DhcpLease } from "./client.ts";
import { leaseApplier } from "./apply.ts";

function lease(address: string, router?: string): DhcpLease {
  return {
    address: parseIpv4(address),
    prefixLength: 24,
    router: router === undefined ? undefined : parseIpv4(router),
    dnsServers: [parseIpv4("10.0.0.53")],
    serverId: parseIpv4("10.0.0.1"),
    leaseTimeS: 60,
    acquiredAt: 0,
    renewAt: 30_000,
    rebindAt: 52_500,
    expiresAt: 60_000,
  };
}

function fakeTargets() {
  const log: string[] = [];
  const ipv4 = {
    addAddress: (c: Ipv4Cidr) => log.push(`add ${c}`),
    removeAddress: (a: number) =>
      log.push(`remove ${a === parseIpv4("10.0.0.5") ? "10.0.0.5" : a}`),
    setGateway: (g: number | undefined) => log.push(`gateway ${g === undefined ? "none" : g}`),
  };
  const dns = { setServers: (s: number[]) => log.push(`dns ${s.length}`) };
  return { log, ipv4, dns };
}

Deno.test("dhcp apply: a lease sets address, gateway and DNS; losing it clears them", () => {
  const { log, ipv4, dns } = fakeTargets();
  const apply = leaseApplier(ipv4, dns);
  const l = lease("10.0.0.5", "10.0.0.1");
  apply.onBound(l, 0);
  assert.deepEqual(log.splice(0), ["add 10.0.0.5/24", `gateway ${parseIpv4("10.0.0.1")}`, "dns 1"]);
  apply.onBound(l, 30_000); // renewal: same address again
  assert.deepEqual(log.splice(0), ["add 10.0.0.5/24", `gateway ${parseIpv4("10.0.0.1")}`, "dns 1"]);
  apply.onUnbound(l, "expired", 60_000);
  assert.deepEqual(log.splice(0), ["remove 10.0.0.5", "gateway none", "dns 0"]);
});

Deno.test("dhcp apply: a new address replaces the old one; no router clears the gateway", () => {
  const { log, ipv4 } = fakeTargets();
  const apply = leaseApplier(ipv4);
  apply.onBound(lease("10.0.0.5", "10.0.0.1"), 0);
  log.length = 0;
  apply.onBound(lease("10.0.0.6"), 1);
  assert.deepEqual(log, ["remove 10.0.0.5", "add 10.0.0.6/24", "gateway none"]);
});
