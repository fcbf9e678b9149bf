/**
 * A stub resolver (RFC 1035 §7, RFC 1123 §6.1.3): A and AAAA queries over UDP to the configured servers,
 * a random source port and id per query (RFC 5452 §9), retries across servers with a doubling timeout,
 * a retry over TCP when an answer comes back truncated (RFC 7766 §5), and a small LRU cache bounded in
 * entries whose lifetimes follow the answers' TTLs. It sends and times out only inside `poll(now)`.
 *
 * @module
 */

import { formatIpv4, tryParseIpv4 } from "../../wire/address.ts";
import { WireError } from "../../wire/error.ts";
import type { Rng } from "../../util/rng.ts";
import {
  DNS_CLASS_IN,
  DNS_PORT,
  DnsPacket,
  DnsRcode,
  type DnsRecord,
  DnsRepr,
  DnsType,
  nameLength,
} from "./wire.ts";

/** What the resolver needs from a UDP layer; `Interface.udp` provides exactly this. */
export interface DnsUdp {
  /** Binds `port` (throws when taken). */
  bind(
    port: number,
    handler: (
      d: { src: number; srcPort: number; bytes: Uint8Array; offset: number; length: number },
      now: number,
    ) => void,
  ): { close(): void };
  /** Sends one datagram. */
  send(srcPort: number, dst: number, dstPort: number, data: Uint8Array): unknown;
}

/** A TCP connection as the TCP fallback uses it (Web Streams, as the socket API provides). */
export interface DnsTcpConnection {
  /** Bytes from the server. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the server. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes or aborts the connection. */
  close(): void;
}

/** Opens a TCP connection to `server:port` (for example the stack's `connect`). */
export type DnsTcpConnect = (server: number, port: number) => Promise<DnsTcpConnection>;

/** Why a lookup failed. */
export type DnsErrorCode =
  | "not-found"
  | "timeout"
  | "server-failure"
  | "truncated"
  | "bad-name"
  | "no-servers"
  | "closed";

/** A failed lookup. */
export class DnsError extends Error {
  /** Why it failed. */
  readonly code: DnsErrorCode;

  /** Creates an error with a sentence-case message. */
  constructor(code: DnsErrorCode, message: string) {
    super(message);
    this.name = "DnsError";
    this.code = code;
  }
}

/** The record types `resolve` looks up. */
export type DnsLookupType = "A" | "AAAA";

/** Options of a `DnsResolver`. */
export interface DnsResolverOptions {
  /** Servers in preference order (for example a DHCP lease's `dnsServers`). */
  servers: number[];
  /** Source of ports and ids. */
  rng: Rng;
  /** First wait for an answer (ms, default 1000); doubles after each round over all servers. */
  timeoutMs?: number;
  /** Rounds over all servers before giving up (default 3). */
  attempts?: number;
  /** How long the TCP fallback may take (ms, default 5000). */
  tcpTimeoutMs?: number;
  /** Opens TCP connections for truncated answers; without it those lookups fail with "truncated". */
  tcp?: DnsTcpConnect;
  /** Entries the cache keeps (default 256); 0 disables it. */
  cacheSize?: number;
  /** Upper bound on cached lifetimes (s, default 3600). */
  maxTtlS?: number;
  /**
   * Upper bound on caching "no such name" and "no such record" answers (s, default 300); they are cached
   * only when the server sent an SOA to time them (RFC 2308 §5). 0 disables negative caching.
   */
  maxNegativeTtlS?: number;
  /** Called when a lookup is queued, so that a runtime polls soon (`runtime.wake`). */
  wake?: () => void;
}

/** Counters of a `DnsResolver`. */
export interface DnsResolverStats {
  queries: number;
  txPackets: number;
  rxPackets: number;
  retransmits: number;
  cacheHits: number;
  tcpFallbacks: number;
  dropMalformed: number;
  dropUnexpected: number;
  [counter: string]: number;
}

interface Waiter {
  resolve(value: number[] | Uint8Array[]): void;
  reject(error: DnsError): void;
}

interface Query {
  key: string;
  name: string;
  type: number;
  waiters: Waiter[];
  id: number;
  port: number;
  binding: { close(): void } | undefined;
  bytes: Uint8Array;
  /** Transmissions so far. */
  tries: number;
  server: number;
  /** When to (re)transmit or give up; undefined before the first send. */
  deadline: number | undefined;
  /** Servers asked so far; answers from any of them are accepted. */
  tried: number[];
  /** Set when a server refused or failed, reported if no other server answers. */
  failure: DnsError | undefined;
  tcp: DnsTcpConnection | undefined;
  done: boolean;
}

interface CacheEntry {
  values: number[] | Uint8Array[];
  /** Set for a cached NXDOMAIN (RFC 2308): lookups fail with it until the entry expires. */
  missing: boolean;
  expiresAt: number;
}

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_LOW;
const MAX_CNAME_CHAIN = 8;

/** A stub resolver driven by `poll(now)`. */
export class DnsResolver {
  /** Counters. */
  readonly stats: DnsResolverStats = {
    queries: 0,
    txPackets: 0,
    rxPackets: 0,
    retransmits: 0,
    cacheHits: 0,
    tcpFallbacks: 0,
    dropMalformed: 0,
    dropUnexpected: 0,
  };
  #udp: DnsUdp;
  #rng: Rng;
  #servers: number[];
  #timeoutMs: number;
  #attempts: number;
  #tcpTimeoutMs: number;
  #tcp: DnsTcpConnect | undefined;
  #cacheSize: number;
  #maxTtlS: number;
  #maxNegativeTtlS: number;
  #wake: (() => void) | undefined;
  #queries = new Map<string, Query>();
  #cache = new Map<string, CacheEntry>();
  #now = 0;
  #closed = false;

  /** Creates a resolver over `udp`; it binds a fresh port per query. */
  constructor(udp: DnsUdp, options: DnsResolverOptions) {
    this.#udp = udp;
    this.#rng = options.rng;
    this.#servers = options.servers.slice();
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#attempts = options.attempts ?? 3;
    this.#tcpTimeoutMs = options.tcpTimeoutMs ?? 5000;
    this.#tcp = options.tcp;
    this.#cacheSize = options.cacheSize ?? 256;
    this.#maxTtlS = options.maxTtlS ?? 3600;
    this.#maxNegativeTtlS = options.maxNegativeTtlS ?? 300;
    this.#wake = options.wake;
  }

  /** Replaces the servers (for example when a DHCP lease changes); running lookups keep theirs. */
  setServers(servers: number[]): void {
    this.#servers = servers.slice();
  }

  /** The servers in use. */
  get servers(): readonly number[] {
    return this.#servers;
  }

  /** Entries in the cache. */
  get cacheEntries(): number {
    return this.#cache.size;
  }

  /** Looks up IPv4 addresses; a dotted-quad name resolves to itself without a query. */
  resolve(name: string, type: "A"): Promise<number[]>;
  /** Looks up IPv6 addresses (16 bytes each). */
  resolve(name: string, type: "AAAA"): Promise<Uint8Array[]>;
  /** Looks up `name`; settles during a later `poll` unless answered from the cache. */
  resolve(name: string, type: DnsLookupType): Promise<number[] | Uint8Array[]> {
    if (this.#closed) return Promise.reject(new DnsError("closed", "Resolver is closed"));
    const literal = type === "A" ? tryParseIpv4(name) : undefined;
    if (literal !== undefined) return Promise.resolve([literal]);
    const normal = name.toLowerCase().replace(/\.$/, "");
    try {
      nameLength(normal);
      if (normal === "") throw new WireError("malformed", "empty name");
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return Promise.reject(
        new DnsError("bad-name", `Cannot resolve ${JSON.stringify(name)}: ${why}`),
      );
    }
    const key = `${type} ${normal}`;
    const cached = this.#cache.get(key);
    if (cached) {
      this.#cache.delete(key);
      if (cached.expiresAt > this.#now) {
        this.#cache.set(key, cached); // most recently used goes last
        this.stats.cacheHits++;
        if (cached.missing) {
          return Promise.reject(
            new DnsError("not-found", `Cannot resolve ${normal}: no such name`),
          );
        }
        return Promise.resolve(cached.values.slice() as number[] | Uint8Array[]);
      }
    }
    if (this.#servers.length === 0) {
      return Promise.reject(
        new DnsError("no-servers", "Cannot resolve: no DNS servers configured"),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const running = this.#queries.get(key);
      if (running) {
        running.waiters.push(waiter);
        return;
      }
      this.stats.queries++;
      this.#queries.set(key, {
        key,
        name: normal,
        type: type === "A" ? DnsType.A : DnsType.AAAA,
        waiters: [waiter],
        id: 0,
        port: 0,
        binding: undefined,
        bytes: new Uint8Array(0),
        tries: 0,
        server: 0,
        deadline: undefined,
        tried: [],
        failure: undefined,
        tcp: undefined,
        done: false,
      });
      this.#wake?.();
    });
  }

  /** Resolves `hostname` to one IPv4 address (the first answer), as `connect({ hostname })` needs. */
  async lookupIpv4(hostname: string): Promise<number> {
    const addresses = await this.resolve(hostname, "A");
    if (addresses.length === 0) {
      throw new DnsError("not-found", `Cannot resolve ${JSON.stringify(hostname)}: no A records`);
    }
    return addresses[0];
  }

  /** The next time `poll` has work: a new query to send or a timeout. */
  pollAt(now: number): number | undefined {
    let at: number | undefined;
    for (const q of this.#queries.values()) {
      const due = q.deadline ?? now;
      if (at === undefined || due < at) at = due;
    }
    return at;
  }

  /** Sends new queries, retransmits and fails timed-out ones. Returns true when it did work. */
  poll(now: number): boolean {
    this.#now = now;
    let work = false;
    for (const q of [...this.#queries.values()]) {
      if (q.deadline !== undefined && now < q.deadline) continue;
      work = true;
      if (q.tcp !== undefined || (q.deadline !== undefined && q.binding === undefined)) {
        this.#fail(q, new DnsError("timeout", `Cannot resolve ${q.name}: TCP fallback timed out`));
        continue;
      }
      const total = this.#attempts * this.#servers.length;
      if (q.tries >= total || this.#servers.length === 0) {
        const timeout = new DnsError(
          "timeout",
          `Cannot resolve ${q.name}: no answer after ${q.tries} tries`,
        );
        this.#fail(q, q.failure ?? timeout);
        continue;
      }
      if (q.binding === undefined && !this.#open(q)) {
        this.#fail(q, new DnsError("timeout", `Cannot resolve ${q.name}: no free source port`));
        continue;
      }
      if (q.tries > 0) this.stats.retransmits++;
      this.#send(q, now);
    }
    return work;
  }

  /** Fails every running lookup with "closed" and releases their ports. */
  close(): void {
    this.#closed = true;
    for (const q of [...this.#queries.values()]) {
      this.#fail(q, new DnsError("closed", "Resolver is closed"));
    }
    this.#cache.clear();
  }

  /** Binds a random ephemeral port and picks a random id (RFC 5452 §9.2); false when none is free. */
  #open(q: Query): boolean {
    for (let i = 0; i < 16; i++) {
      const port = EPHEMERAL_LOW + this.#rng.below(EPHEMERAL_COUNT);
      try {
        q.binding = this.#udp.bind(port, (d, now) => this.#receive(q, d, now));
      } catch {
        continue;
      }
      q.port = port;
      q.id = this.#rng.nextU32() & 0xffff;
      const m = new DnsRepr();
      m.id = q.id;
      m.questions = [{ name: q.name, type: q.type, class: DNS_CLASS_IN }];
      q.bytes = new Uint8Array(m.bufferLength);
      m.emit(new DnsPacket(q.bytes));
      return true;
    }
    return false;
  }

  #send(q: Query, now: number): void {
    const servers = this.#servers;
    q.server = servers[q.tries % servers.length];
    if (!q.tried.includes(q.server)) q.tried.push(q.server);
    const round = Math.floor(q.tries / servers.length);
    q.tries++;
    q.deadline = now + this.#timeoutMs * 2 ** round;
    this.stats.txPackets++;
    this.#udp.send(q.port, q.server, DNS_PORT, q.bytes);
  }

  #receive(
    q: Query,
    d: { src: number; srcPort: number; bytes: Uint8Array; offset: number; length: number },
    now: number,
  ): void {
    this.#now = now;
    this.stats.rxPackets++;
    if (q.done || d.srcPort !== DNS_PORT || !q.tried.includes(d.src)) {
      this.stats.dropUnexpected++;
      return;
    }
    const r = DnsRepr.parse(new DnsPacket(d.bytes, d.offset, d.length));
    if (r instanceof WireError) {
      this.stats.dropMalformed++;
      return;
    }
    if (!this.#answers(q, r)) {
      this.stats.dropUnexpected++;
      return;
    }
    if (r.truncated && r.rcode === DnsRcode.NoError) {
      this.#closeBinding(q);
      this.#fallBackToTcp(q, d.src, now);
      return;
    }
    if (r.rcode === DnsRcode.ServFail || r.rcode === DnsRcode.Refused) {
      // Another server may do better; poll moves on to it at once (RFC 1035 §7.2).
      q.failure = new DnsError(
        "server-failure",
        `Cannot resolve ${q.name}: ${formatIpv4(d.src)} answered rcode ${r.rcode}`,
      );
      q.deadline = now;
      this.#wake?.();
      return;
    }
    this.#finish(q, r, now);
  }

  /** True when `r` is a response to `q` (id, question: RFC 5452 §9.1). */
  #answers(q: Query, r: DnsRepr): boolean {
    if (!r.response || r.id !== q.id || r.questions.length !== 1) return false;
    const question = r.questions[0];
    return question.type === q.type && question.class === DNS_CLASS_IN &&
      question.name.toLowerCase() === q.name;
  }

  #fallBackToTcp(q: Query, server: number, now: number): void {
    const connect = this.#tcp;
    if (!connect) {
      this.#fail(
        q,
        new DnsError(
          "truncated",
          `Cannot resolve ${q.name}: answer truncated and no TCP connector`,
        ),
      );
      return;
    }
    this.stats.tcpFallbacks++;
    q.deadline = now + this.#tcpTimeoutMs;
    const id = q.id;
    exchangeOverTcp(connect, server, q.bytes, (c) => {
      if (q.done) closeQuietly(c);
      else q.tcp = c;
    }).then(
      (bytes) => {
        q.tcp = undefined; // already closed by the exchange
        if (q.done) return;
        const r = DnsRepr.parse(new DnsPacket(bytes));
        if (r instanceof WireError || r.id !== id || !this.#answers(q, r)) {
          this.stats.dropMalformed++;
          this.#fail(q, new DnsError("server-failure", `Cannot resolve ${q.name}: bad TCP answer`));
          return;
        }
        this.#finish(q, r, this.#now);
      },
      (error) => {
        q.tcp = undefined;
        const why = error instanceof Error ? error.message : String(error);
        this.#fail(q, new DnsError("server-failure", `Cannot resolve ${q.name} over TCP: ${why}`));
      },
    );
  }

  #finish(q: Query, r: DnsRepr, now: number): void {
    if (r.rcode === DnsRcode.NxDomain) {
      this.#remember(q.key, [], true, negativeTtl(r), this.#maxNegativeTtlS, now);
      this.#fail(q, new DnsError("not-found", `Cannot resolve ${q.name}: no such name`));
      return;
    }
    if (r.rcode !== DnsRcode.NoError) {
      this.#fail(q, new DnsError("server-failure", `Cannot resolve ${q.name}: rcode ${r.rcode}`));
      return;
    }
    const { values, ttl } = collect(r.answers, q.name, q.type);
    if (values.length > 0) this.#remember(q.key, values, false, ttl, this.#maxTtlS, now);
    else this.#remember(q.key, values, false, negativeTtl(r), this.#maxNegativeTtlS, now);
    this.#settle(q);
    for (const w of q.waiters) w.resolve(values.slice() as number[] | Uint8Array[]);
  }

  /** Caches an answer for `ttlS` seconds (at most `maxS`), evicting the least recently used. */
  #remember(
    key: string,
    values: number[] | Uint8Array[],
    missing: boolean,
    ttlS: number,
    maxS: number,
    now: number,
  ): void {
    const lifetime = Math.min(ttlS, maxS);
    if (this.#cacheSize <= 0 || !(lifetime > 0)) return;
    this.#cache.delete(key);
    this.#cache.set(key, { values, missing, expiresAt: now + lifetime * 1000 });
    while (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
  }

  #fail(q: Query, error: DnsError): void {
    if (q.done) return;
    this.#settle(q);
    for (const w of q.waiters) w.reject(error);
  }

  #settle(q: Query): void {
    q.done = true;
    this.#closeBinding(q);
    if (q.tcp) closeQuietly(q.tcp);
    q.tcp = undefined;
    this.#queries.delete(q.key);
  }

  #closeBinding(q: Query): void {
    q.binding?.close();
    q.binding = undefined;
  }
}

/**
 * The addresses for `name` in `answers`, following CNAMEs in order (bounded), with the smallest TTL of
 * the records used.
 */
function collect(
  answers: DnsRecord[],
  name: string,
  type: number,
): { values: number[] | Uint8Array[]; ttl: number } {
  let owner = name;
  let ttl = Infinity;
  for (let hops = 0; hops < MAX_CNAME_CHAIN; hops++) {
    const alias = answers.find((rr) =>
      rr.type === DnsType.CNAME && rr.class === DNS_CLASS_IN && rr.name.toLowerCase() === owner
    );
    if (!alias || alias.target === undefined) break;
    ttl = Math.min(ttl, alias.ttl);
    owner = alias.target.toLowerCase();
  }
  const matching = answers.filter((rr) =>
    rr.type === type && rr.class === DNS_CLASS_IN && rr.name.toLowerCase() === owner
  );
  for (const rr of matching) ttl = Math.min(ttl, rr.ttl);
  const values = type === DnsType.A
    ? matching.map((rr) => rr.address!)
    : matching.map((rr) => rr.address6!);
  return { values, ttl: ttl === Infinity ? 0 : ttl };
}

/** How long a negative answer may be cached: the SOA's TTL capped by its MINIMUM, or 0 without an SOA. */
function negativeTtl(r: DnsRepr): number {
  const soa = r.authorities.find((rr) => rr.type === DnsType.SOA && rr.soaMinimum !== undefined);
  return soa ? Math.min(soa.ttl, soa.soaMinimum!) : 0;
}

/** Sends one length-prefixed query (RFC 1035 §4.2.2) and reads one length-prefixed answer. */
async function exchangeOverTcp(
  connect: DnsTcpConnect,
  server: number,
  query: Uint8Array,
  opened: (c: DnsTcpConnection) => void,
): Promise<Uint8Array> {
  const c = await connect(server, DNS_PORT);
  opened(c);
  const framed = new Uint8Array(2 + query.length);
  framed[0] = query.length >> 8;
  framed[1] = query.length;
  framed.set(query, 2);
  const writer = c.writable.getWriter();
  await writer.write(framed);
  writer.releaseLock();
  const reader = c.readable.getReader();
  let buffer = new Uint8Array(0);
  try {
    for (;;) {
      if (buffer.length >= 2) {
        const need = 2 + ((buffer[0] << 8) | buffer[1]);
        if (buffer.length >= need) return buffer.slice(2, need);
      }
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`connection to ${formatIpv4(server)} closed after ${buffer.length} bytes`);
      }
      const next = new Uint8Array(buffer.length + value.length);
      next.set(buffer);
      next.set(value, buffer.length);
      buffer = next;
    }
  } finally {
    reader.releaseLock();
    closeQuietly(c);
  }
}

/** Closes `c`, ignoring that it may be closed already (the socket API throws then). */
function closeQuietly(c: DnsTcpConnection): void {
  try {
    c.close();
  } catch {
    // Closed by the other path (timeout or end of exchange) first.
  }
}
