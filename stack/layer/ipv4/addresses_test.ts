import assert from "node:assert/strict";
import { Ipv4Cidr, parseIpv4 } from "../../wire/address.ts";
import { Ipv4Addresses } from "./addresses.ts";

Deno.test("ipv4 addresses: ownership, broadcasts, source selection and connected routes", () => {
  const a = new Ipv4Addresses();
  assert.equal(a.sourceFor(parseIpv4("10.0.0.9")), undefined);
  a.add(Ipv4Cidr.parse("10.0.0.2/24"));
  a.add(Ipv4Cidr.parse("192.168.1.5/16"));
  a.add(Ipv4Cidr.parse("172.16.0.1/31"));
  a.routes.setGateway(parseIpv4("192.168.0.1"));
  assert.equal(a.has(parseIpv4("10.0.0.2")), true);
  assert.equal(a.has(parseIpv4("10.0.0.3")), false);
  assert.equal(a.isBroadcast(parseIpv4("10.0.0.255")), true);
  assert.equal(a.isBroadcast(parseIpv4("192.168.255.255")), true);
  assert.equal(a.isBroadcast(parseIpv4("255.255.255.255")), true);
  assert.equal(a.isBroadcast(parseIpv4("172.16.0.1")), false); // /31 has no broadcast (RFC 3021)
  assert.equal(a.sourceFor(parseIpv4("10.0.0.9")), parseIpv4("10.0.0.2"));
  assert.equal(a.sourceFor(parseIpv4("8.8.8.8")), parseIpv4("192.168.1.5")); // via the gateway
  assert.equal(a.routes.nextHop(parseIpv4("10.0.0.9")), parseIpv4("10.0.0.9"));
  // Two addresses on one network share its route; removing one keeps it.
  a.add(Ipv4Cidr.parse("10.0.0.3/24"));
  a.remove(parseIpv4("10.0.0.2"));
  assert.equal(a.routes.nextHop(parseIpv4("10.0.0.9")), parseIpv4("10.0.0.9"));
  a.remove(parseIpv4("10.0.0.3"));
  assert.equal(a.routes.nextHop(parseIpv4("10.0.0.9")), parseIpv4("192.168.0.1"));
  assert.deepEqual(a.list(), [parseIpv4("192.168.1.5"), parseIpv4("172.16.0.1")]);
});
