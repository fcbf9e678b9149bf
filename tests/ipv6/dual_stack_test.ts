/**
 * A dual-stack server on a memory cable: one `serve` over a `DualStackListener` that merges the IPv4
 * and IPv6 listeners of port 80 answers a client over each family.
 */

import assert from "node:assert/strict";
import { serve } from "../../stack/http/mod.ts";
import { Interface } from "../../stack/layer/interface.ts";
import { DualStackListener } from "../../stack/layer/ipv6/dual_listener.ts";
import { attachTcp6 } from "../../stack/layer/ipv6/tcp6.ts";
import { TcpEndpoint } from "../../stack/layer/tcp/endpoint.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { type TcpConn, TcpSockets } from "../../stack/socket/tcp.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv4Cidr } from "../../stack/wire/address.ts";
import { Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";

const waker = { wake() {} };

function host(nic: MemoryPair["a"], v4: string, v6: string, seed: number) {
  const iface = new Interface(nic, {
    rng: new Rng(seed),
    announce: false,
    addresses: [Ipv4Cidr.parse(v4)],
    ipv6: { addresses: [Ipv6Cidr.parse(v6)], dadTransmits: 0 },
  });
  const tcp4 = new TcpEndpoint({ rng: new Rng(seed + 10) });
  iface.attach(6, tcp4);
  const tcp6 = attachTcp6(iface, { rng: new Rng(seed + 20) });
  return {
    iface,
    s4: new TcpSockets(tcp4, waker),
    s6: new TcpSockets(tcp6.endpoint, waker, {
      resolve: tcp6.handles.resolver(),
      addresses: tcp6.handles.codec(),
    }),
  };
}

async function get(conn: TcpConn): Promise<string> {
  await conn.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  );
  const chunks: string[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(new TextDecoder().decode(buf.subarray(0, n)));
  }
  return chunks.join("");
}

Deno.test("dual stack: one serve answers over IPv4 and IPv6 through a DualStackListener", async () => {
  const link = new MemoryPair({ seed: 5 });
  const server = host(link.b, "10.0.0.2/24", "2001:db8::b/64", 2);
  const client = host(link.a, "10.0.0.1/24", "2001:db8::a/64", 1);
  const listener = new DualStackListener([
    server.s6.listen({ port: 80 }),
    server.s4.listen({ port: 80 }),
  ]);
  let served = 0;
  const peers: string[] = [];
  const http = serve({ listener, onListen: () => {} }, (_req, info) => {
    peers.push(info.remoteAddr.hostname);
    served++;
    return new Response("hello dual stack");
  });
  let now = 0;
  let stop = false;
  const pump = (async () => {
    while (!stop && now < 600_000) {
      client.iface.poll(now);
      server.iface.poll(now);
      now += 1;
      await new Promise((r) => setTimeout(r, 0));
    }
  })();
  try {
    const v6 = await get(await client.s6.connect({ hostname: "[2001:db8::b]", port: 80 }));
    const v4 = await get(await client.s4.connect({ hostname: "10.0.0.2", port: 80 }));
    assert.match(v6, /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello dual stack$/);
    assert.match(v4, /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello dual stack$/);
    assert.equal(served, 2);
    // The IPv6 peer is printed as IPv6 text, and the merged listener listens on "::".
    assert.deepEqual(peers, ["2001:db8::a", "10.0.0.1"]);
    assert.equal(listener.addr.hostname, "::");
  } finally {
    await http.shutdown();
    stop = true;
    await pump;
  }
});
