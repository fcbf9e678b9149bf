import assert from "node:assert/strict";
import { parseIpv4 } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import { Rng } from "../../util/rng.ts";
import {
  DnsError,
  DnsResolver,
  type DnsResolverOptions,
  type DnsTcpConnection,
} from "./resolver.ts";
import {
  DNS_CLASS_IN,
  DnsPacket,
  DnsRcode,
  type DnsRecord,
  DnsRepr,
  DnsType,
  writeName,
} from "./wire.ts";

const FIXTURES = new URL("../../../tests/fixtures/dns/", import.meta.url);
const fixture = (name: string) => Deno.readFileSync(new URL(name, FIXTURES));
const NS1 = parseIpv4("10.0.0.53");
const NS2 = parseIpv4("10.0.1.53");

type Handler = (
  d: { src: number; srcPort: number; bytes: Uint8Array; offset: number; length: number },
  now: number,
) => void;

interface Sent {
  srcPort: number;
  dst: number;
  dstPort: number;
  query: DnsRepr;
}

class FakeUdp {
  handlers = new Map<number, Handler>();
  sent: Sent[] = [];

  bind(port: number, handler: Handler) {
    if (this.handlers.has(port)) throw new Error("Port is taken");
    this.handlers.set(port, handler);
    return { close: () => this.handlers.delete(port) };
  }

  send(srcPort: number, dst: number, dstPort: number, data: Uint8Array): string {
    const query = DnsRepr.parse(new DnsPacket(data.slice()));
    if (query instanceof WireError) throw query;
    this.sent.push({ srcPort, dst, dstPort, query });
    return "sent";
  }

  take(): Sent {
    assert.equal(this.sent.length, 1, `expected one query, got ${this.sent.length}`);
    return this.sent.pop()!;
  }

  /** Delivers raw `bytes` to the port `to` was sent from. */
  answer(to: Sent, bytes: Uint8Array, now: number, from = { src: to.dst, srcPort: 53 }): void {
    const handler = this.handlers.get(to.srcPort);
    assert.ok(handler, `port ${to.srcPort} is bound`);
    handler({ ...from, bytes, offset: 0, length: bytes.length }, now);
  }
}

function response(to: DnsRepr, answers: DnsRecord[], fields: Partial<DnsRepr> = {}): Uint8Array {
  const r = new DnsRepr();
  r.id = to.id;
  r.response = true;
  r.questions = to.questions;
  r.answers = answers;
  Object.assign(r, fields);
  const bytes = new Uint8Array(r.bufferLength);
  r.emit(new DnsPacket(bytes));
  return bytes;
}

function a(name: string, address: string, ttl = 60): DnsRecord {
  return {
    name,
    type: DnsType.A,
    class: DNS_CLASS_IN,
    ttl,
    data: new Uint8Array(0),
    address: parseIpv4(address),
  };
}

/** A golden dnsmasq response with its id rewritten to answer `to`. */
function golden(file: string, to: DnsRepr): Uint8Array {
  const bytes = fixture(file).slice();
  bytes[0] = to.id >> 8;
  bytes[1] = to.id;
  return bytes;
}

function setup(options: Partial<DnsResolverOptions> = {}) {
  const udp = new FakeUdp();
  let wakes = 0;
  const resolver = new DnsResolver(udp, {
    servers: [NS1],
    rng: new Rng(53),
    wake: () => wakes++,
    ...options,
  });
  return { udp, resolver, wakes: () => wakes };
}

/** Records how a promise settles without awaiting it. */
function track<T>(p: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  p.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

/** Lets pending promise callbacks run (microtasks only: no timers, no real time). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

Deno.test("dns resolver: an A query goes from a random port with a random id and resolves", async () => {
  const { udp, resolver, wakes } = setup();
  const p = resolver.resolve("Example.Test.", "A");
  assert.equal(wakes(), 1);
  assert.equal(resolver.pollAt(5), 5);
  assert.equal(resolver.poll(5), true);
  const q = udp.take();
  assert.equal(q.dst, NS1);
  assert.equal(q.dstPort, 53);
  assert.ok(q.srcPort >= 49152 && q.srcPort <= 65535);
  assert.deepEqual(q.query.questions, [{ name: "example.test", type: DnsType.A, class: 1 }]);
  assert.equal(q.query.recursionDesired, true);
  udp.answer(q, golden("a_example_response.bin", q.query), 6);
  assert.deepEqual(await p, [parseIpv4("192.168.77.10")]);
  assert.equal(udp.handlers.size, 0, "the port is released");
  assert.equal(resolver.pollAt(7), undefined);
});

Deno.test("dns resolver: ports and ids differ between queries and follow the seed", () => {
  const runs = [53, 53, 54].map((seed) => {
    const { udp, resolver } = setup({ rng: new Rng(seed) });
    resolver.resolve("a.test", "A").catch(() => {});
    resolver.resolve("b.test", "A").catch(() => {});
    resolver.poll(0);
    return udp.sent.map((s) => [s.srcPort, s.query.id]);
  });
  assert.deepEqual(runs[0], runs[1]);
  assert.notDeepEqual(runs[0], runs[2]);
  assert.notEqual(runs[0][0][0], runs[0][1][0]);
  assert.notEqual(runs[0][0][1], runs[0][1][1]);
});

Deno.test("dns resolver: literals, bad names and no servers need no query", async () => {
  const { udp, resolver } = setup();
  assert.deepEqual(await resolver.resolve("10.1.2.3", "A"), [parseIpv4("10.1.2.3")]);
  for (const bad of ["", "a..b", "x".repeat(64) + ".test"]) {
    await assert.rejects(resolver.resolve(bad, "A"), (e: DnsError) => e.code === "bad-name");
  }
  const empty = setup({ servers: [] });
  await assert.rejects(
    empty.resolver.resolve("a.test", "A"),
    (e: DnsError) => e.code === "no-servers",
  );
  resolver.poll(0);
  assert.equal(udp.sent.length, 0);
});

Deno.test("dns resolver: retries rotate over servers with a doubling timeout, then time out", async () => {
  const { udp, resolver } = setup({ servers: [NS1, NS2], timeoutMs: 1000, attempts: 2 });
  const state = track(resolver.resolve("slow.test", "A"));
  const log: [number, number, number][] = [];
  let t = 0;
  for (let i = 0; i < 10 && !state.settled; i++) {
    resolver.poll(t);
    for (const s of udp.sent.splice(0)) log.push([t, s.dst, s.query.id]);
    const next = resolver.pollAt(t);
    if (next === undefined) break;
    assert.equal(resolver.poll(next - 1), false);
    t = next;
    await flush();
  }
  assert.deepEqual(log.map(([time, dst]) => [time, dst]), [[0, NS1], [1000, NS2], [2000, NS1], [
    4000,
    NS2,
  ]]);
  assert.equal(new Set(log.map(([, , id]) => id)).size, 1, "retransmissions keep the id");
  assert.equal(t, 6000);
  await flush();
  assert.ok(state.error instanceof DnsError);
  assert.equal(state.error.code, "timeout");
  assert.equal(resolver.stats.retransmits, 3);
  assert.equal(udp.handlers.size, 0);
});

Deno.test("dns resolver: spoofed or mismatched answers are dropped", async () => {
  const { udp, resolver } = setup({ servers: [NS1, NS2] });
  const p = resolver.resolve("example.test", "A");
  resolver.poll(0);
  const q = udp.take();
  const good = golden("a_example_response.bin", q.query);
  const wrongId = good.slice();
  wrongId[1] ^= 1;
  udp.answer(q, wrongId, 1);
  udp.answer(q, good, 1, { src: NS2, srcPort: 53 }); // NS2 was not asked yet
  udp.answer(q, good, 1, { src: NS1, srcPort: 5353 });
  const other = new DnsRepr();
  other.id = q.query.id;
  other.questions = [{ name: "evil.test", type: DnsType.A, class: 1 }];
  udp.answer(q, response(other, [a("evil.test", "6.6.6.6")]), 1);
  udp.answer(q, response(q.query, [], { response: false }), 1);
  udp.answer(q, new Uint8Array(5), 1);
  assert.equal(resolver.stats.dropUnexpected, 5);
  assert.equal(resolver.stats.dropMalformed, 1);
  udp.answer(q, good, 2);
  assert.deepEqual(await p, [parseIpv4("192.168.77.10")]);
});

Deno.test("dns resolver: NXDOMAIN fails with not-found", async () => {
  const { udp, resolver } = setup();
  const p = resolver.resolve("missing.test", "A");
  resolver.poll(0);
  const q = udp.take();
  udp.answer(q, golden("nxdomain_response.bin", q.query), 1);
  await assert.rejects(p, (e: DnsError) => e.code === "not-found");
});

Deno.test("dns resolver: SERVFAIL moves to the next server at once", async () => {
  const { udp, resolver } = setup({ servers: [NS1, NS2], attempts: 1 });
  const p = resolver.resolve("x.test", "A");
  resolver.poll(0);
  const first = udp.take();
  udp.answer(first, response(first.query, [], { rcode: DnsRcode.ServFail }), 1);
  assert.equal(resolver.pollAt(1), 1);
  resolver.poll(1);
  const second = udp.take();
  assert.equal(second.dst, NS2);
  udp.answer(second, response(second.query, [], { rcode: DnsRcode.Refused }), 2);
  resolver.poll(2);
  await assert.rejects(
    p,
    (e: DnsError) => e.code === "server-failure" && /rcode 5/.test(e.message),
  );
});

Deno.test("dns resolver: follows dnsmasq's CNAME to the target's address; AAAA works", async () => {
  const { udp, resolver } = setup();
  const p = resolver.resolve("alias.test", "A");
  const p6 = resolver.resolve("ipv6.test", "AAAA");
  resolver.poll(0);
  const [q, q6] = udp.sent.splice(0);
  udp.answer(q, golden("cname_alias_response.bin", q.query), 1);
  udp.answer(q6, golden("aaaa_ipv6_response.bin", q6.query), 1);
  assert.deepEqual(await p, [parseIpv4("192.168.77.20")]);
  const [v6] = await p6;
  assert.equal(v6.length, 16);
  assert.equal(v6[0], 0xfd);
  assert.equal(v6[15], 0x10);
});

Deno.test("dns resolver: unrelated records in the answer are ignored and CNAME chains are bounded", async () => {
  const { udp, resolver } = setup();
  const p = resolver.resolve("a.test", "A");
  resolver.poll(0);
  const q = udp.take();
  const cname = (from: string, to: string): DnsRecord => ({
    name: from,
    type: DnsType.CNAME,
    class: 1,
    ttl: 60,
    data: new Uint8Array(0),
    target: to,
  });
  udp.answer(
    q,
    response(q.query, [
      cname("a.test", "b.test"),
      cname("b.test", "a.test"),
      a("c.test", "1.1.1.1"),
    ]),
    1,
  );
  assert.deepEqual(await p, []);
});

Deno.test("dns resolver: the cache answers until the smallest TTL runs out", async () => {
  const { udp, resolver } = setup();
  const p = resolver.resolve("x.test", "A");
  resolver.poll(1000);
  const q = udp.take();
  const alias: DnsRecord = {
    name: "x.test",
    type: DnsType.CNAME,
    class: 1,
    ttl: 30,
    data: new Uint8Array(0),
    target: "y.test",
  };
  udp.answer(q, response(q.query, [alias, a("y.test", "1.2.3.4", 300)]), 1000);
  await p;
  resolver.poll(1000 + 29_999);
  assert.deepEqual(await resolver.resolve("X.TEST", "A"), [parseIpv4("1.2.3.4")]);
  assert.equal(resolver.stats.cacheHits, 1);
  assert.equal(udp.sent.length, 0);
  resolver.poll(1000 + 30_000);
  resolver.resolve("x.test", "A").catch(() => {});
  resolver.poll(1000 + 30_000);
  assert.equal(udp.take().query.questions[0].name, "x.test");
});

Deno.test("dns resolver: the cache is an LRU bounded in entries; TTL 0 is not cached", async () => {
  const { udp, resolver } = setup({ cacheSize: 2, maxTtlS: 10 });
  const lookup = async (name: string, ttl: number) => {
    const p = resolver.resolve(name, "A");
    resolver.poll(0);
    const q = udp.take();
    udp.answer(q, response(q.query, [a(name, "9.9.9.9", ttl)]), 0);
    await p;
  };
  await lookup("zero.test", 0);
  assert.equal(resolver.cacheEntries, 0);
  await lookup("one.test", 100);
  await lookup("two.test", 100);
  await resolver.resolve("one.test", "A"); // one becomes the most recent
  await lookup("three.test", 100); // evicts two
  assert.equal(resolver.cacheEntries, 2);
  await resolver.resolve("one.test", "A");
  assert.equal(resolver.stats.cacheHits, 2);
  resolver.resolve("two.test", "A").catch(() => {});
  resolver.poll(0);
  assert.equal(udp.take().query.questions[0].name, "two.test");
  resolver.poll(10_000); // maxTtlS caps the 100 s TTL
  resolver.resolve("three.test", "A").catch(() => {});
  resolver.poll(10_000);
  assert.equal(udp.sent.at(-1)!.query.questions[0].name, "three.test");
});

Deno.test("dns resolver: concurrent lookups of one name share a query", async () => {
  const { udp, resolver } = setup();
  const p1 = resolver.resolve("example.test", "A");
  const p2 = resolver.resolve("example.test", "A");
  resolver.poll(0);
  const q = udp.take();
  udp.answer(q, golden("a_example_response.bin", q.query), 1);
  assert.deepEqual(await p1, await p2);
  assert.equal(resolver.stats.queries, 1);
});

/** A fake TCP server that answers one framed query with `answer(query)`, split into small chunks. */
function fakeTcp(answer: (query: DnsRepr) => Uint8Array, log: number[]) {
  return (server: number, port: number): Promise<DnsTcpConnection> => {
    log.push(server, port);
    let push: (b: Uint8Array) => void = () => {};
    let end: () => void = () => {};
    let open = true;
    const readable = new ReadableStream<Uint8Array>({
      start(c) {
        push = (b) => c.enqueue(b);
        end = () => c.close();
      },
    });
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        const length = (chunk[0] << 8) | chunk[1];
        assert.equal(chunk.length, 2 + length);
        const q = DnsRepr.parse(new DnsPacket(chunk, 2, length)) as DnsRepr;
        const body = answer(q);
        const framed = new Uint8Array(2 + body.length);
        framed.set([body.length >> 8, body.length & 0xff]);
        framed.set(body, 2);
        for (let i = 0; i < framed.length; i += 100) push(framed.slice(i, i + 100));
      },
    });
    const close = () => {
      if (open) end();
      open = false;
    };
    return Promise.resolve({ readable, writable, close });
  };
}

Deno.test("dns resolver: a truncated answer is retried over TCP and returns all records", async () => {
  const log: number[] = [];
  const tcp = fakeTcp((q) => golden("tcp_many_response.bin", q), log);
  const { udp, resolver } = setup({ tcp });
  const p = resolver.resolve("many.test", "A");
  resolver.poll(0);
  const q = udp.take();
  udp.answer(q, golden("truncated_many_response.bin", q.query), 1);
  const addresses = await p;
  assert.deepEqual(log, [NS1, 53]);
  assert.equal(addresses.length, 40);
  assert.equal(resolver.stats.tcpFallbacks, 1);
  assert.equal(udp.handlers.size, 0);
});

Deno.test("dns resolver: without a TCP connector a truncated answer fails clearly", async () => {
  const { udp, resolver } = setup();
  const p = resolver.resolve("many.test", "A");
  resolver.poll(0);
  const q = udp.take();
  udp.answer(q, golden("truncated_many_response.bin", q.query), 1);
  await assert.rejects(
    p,
    (e: DnsError) => e.code === "truncated" && /no TCP connector/.test(e.message),
  );
});

Deno.test("dns resolver: the TCP fallback times out on the virtual clock", async () => {
  const closed: number[] = [];
  const tcp = () =>
    Promise.resolve({
      readable: new ReadableStream<Uint8Array>(),
      writable: new WritableStream<Uint8Array>(),
      close: () => closed.push(1),
    });
  const { udp, resolver } = setup({ tcp, tcpTimeoutMs: 2000 });
  const state = track(resolver.resolve("many.test", "A"));
  resolver.poll(0);
  const q = udp.take();
  udp.answer(q, golden("truncated_many_response.bin", q.query), 10);
  await flush();
  assert.equal(resolver.pollAt(10), 2010);
  resolver.poll(2009);
  await flush();
  assert.equal(state.settled, false);
  resolver.poll(2010);
  await flush();
  assert.equal((state.error as DnsError).code, "timeout");
  assert.ok(closed.length >= 1, "the connection is closed");
});

Deno.test("dns resolver: close fails running lookups and frees their ports", async () => {
  const { udp, resolver } = setup();
  const p = resolver.resolve("a.test", "A");
  resolver.poll(0);
  assert.equal(udp.handlers.size, 1);
  resolver.close();
  await assert.rejects(p, (e: DnsError) => e.code === "closed");
  assert.equal(udp.handlers.size, 0);
  await assert.rejects(resolver.resolve("a.test", "A"), (e: DnsError) => e.code === "closed");
});

/** An SOA record whose MINIMUM is `minimum` (RFC 1035 §3.3.13). */
function soa(ttl: number, minimum: number): DnsRecord {
  const data = new Uint8Array(9 + 9 + 20);
  let at = writeName(data, 0, "ns.test");
  at = writeName(data, at, "me.test");
  const view = new DataView(data.buffer);
  [1, 7200, 900, 86400, minimum].forEach((v, i) => view.setUint32(at + 4 * i, v));
  return { name: "test", type: DnsType.SOA, class: DNS_CLASS_IN, ttl, data };
}

Deno.test("dns resolver: NXDOMAIN and NODATA are cached for the SOA's lifetime only (RFC 2308)", async () => {
  const { udp, resolver } = setup({ maxNegativeTtlS: 60 });
  const nx = resolver.resolve("gone.test", "A");
  resolver.poll(0);
  let q = udp.take();
  udp.answer(
    q,
    response(q.query, [], { rcode: DnsRcode.NxDomain, authorities: [soa(600, 30)] }),
    0,
  );
  await assert.rejects(nx, (e: DnsError) => e.code === "not-found");
  resolver.poll(29_999);
  await assert.rejects(resolver.resolve("gone.test", "A"), (e: DnsError) => e.code === "not-found");
  assert.equal(udp.sent.length, 0, "answered from the negative cache");
  resolver.poll(30_000);
  const again = resolver.resolve("gone.test", "A");
  resolver.poll(30_000);
  q = udp.take();
  udp.answer(q, response(q.query, [], { rcode: DnsRcode.NxDomain }), 30_000);
  await assert.rejects(again);

  const nodata = resolver.resolve("v4only.test", "AAAA");
  resolver.poll(30_000);
  q = udp.take();
  udp.answer(q, response(q.query, [], { authorities: [soa(600, 3600)] }), 30_000);
  assert.deepEqual(await nodata, []);
  resolver.poll(30_000 + 59_999); // maxNegativeTtlS caps the SOA's 600 s
  assert.deepEqual(await resolver.resolve("v4only.test", "AAAA"), []);
  assert.equal(udp.sent.length, 0);

  const bare = resolver.resolve("nosoa.test", "A");
  resolver.poll(100_000);
  q = udp.take();
  udp.answer(q, response(q.query, [], { rcode: DnsRcode.NxDomain }), 100_000);
  await assert.rejects(bare);
  resolver.resolve("nosoa.test", "A").catch(() => {});
  resolver.poll(100_000);
  assert.equal(
    udp.take().query.questions[0].name,
    "nosoa.test",
    "without an SOA nothing is cached",
  );
});
