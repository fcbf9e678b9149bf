import assert from "node:assert/strict";
import { Ipv4Cidr, parseIpv4 } from "../../wire/address.ts";
import { RouteTable } from "./routes.ts";

Deno.test("routes: connected, static and default routes by longest prefix", () => {
  const table = new RouteTable();
  table.setGateway(parseIpv4("10.0.0.254"));
  table.add(Ipv4Cidr.parse("10.0.0.2/24"));
  table.add(Ipv4Cidr.parse("192.168.0.0/16"), parseIpv4("10.0.0.253"));
  table.add(Ipv4Cidr.parse("192.168.7.0/24"), parseIpv4("10.0.0.252"));
  assert.equal(table.nextHop(parseIpv4("10.0.0.9")), parseIpv4("10.0.0.9"));
  assert.equal(table.nextHop(parseIpv4("192.168.1.1")), parseIpv4("10.0.0.253"));
  assert.equal(table.nextHop(parseIpv4("192.168.7.1")), parseIpv4("10.0.0.252"));
  assert.equal(table.nextHop(parseIpv4("8.8.8.8")), parseIpv4("10.0.0.254"));
  table.setGateway(undefined);
  assert.equal(table.nextHop(parseIpv4("8.8.8.8")), undefined);
  assert.equal(table.routes().length, 3);
});
