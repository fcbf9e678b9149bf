/**
 * The fixed-seed fuzz budget of the test suite: 100,000 generated and mutated frames through a whole
 * stack, every invariant checked after each frame. It also checks that the frames reached deep into
 * every layer, so that a generator that stopped producing meaningful input fails here too.
 */

import assert from "node:assert/strict";
import { FuzzHarness } from "./harness.ts";

const FRAMES = 100_000;

Deno.test(`fuzz: ${FRAMES} frames from seed 1 keep every invariant`, () => {
  const h = new FuzzHarness({ seed: 1 });
  const failure = h.run(FRAMES);
  assert.equal(failure, undefined, failure && `frame ${failure.frame}: ${failure.message}`);
  assert.ok(h.frames >= FRAMES);
  assert.ok(h.verifiedBytes >= 20_000, `only ${h.verifiedBytes} received bytes checked`);
  const s = h.iface.stats();
  // Coverage: each layer saw valid traffic and dropped broken traffic for several reasons.
  const atLeast = (layer: string, counter: string, n: number) =>
    assert.ok(
      (s[layer]?.[counter] ?? 0) >= n,
      `${layer}.${counter} = ${s[layer]?.[counter]} < ${n}`,
    );
  atLeast("eth", "dropNotForUs", 100);
  atLeast("arp", "rxRequests", 100);
  atLeast("arpCache", "conflicts", 10);
  atLeast("ipv4", "dropChecksum", 100);
  atLeast("ipv4", "dropMalformed", 100);
  atLeast("ipv4", "dropTruncated", 100);
  atLeast("reassembly", "reassembled", 20);
  atLeast("reassembly", "dropOverlap", 1);
  atLeast("reassembly", "dropTimeout", 100);
  atLeast("icmp", "txEchoReplies", 100);
  atLeast("icmp", "rxErrors", 100);
  atLeast("udp", "rxDelivered", 100);
  atLeast("tcp", "passiveOpens", 100);
  atLeast("tcp", "activeOpens", 10);
  atLeast("tcp", "txDataSegments", 1000);
  atLeast("tcp", "rxOutOfOrder", 10);
  atLeast("tcp", "challengeAcks", 10);
  atLeast("tcp", "dropPaws", 10);
  atLeast("tcp", "dropAckUnsent", 10);
  atLeast("tcp", "dropMalformed", 100);
  atLeast("tcp", "rstReceived", 10);
  atLeast("tcp", "synCookiesSent", 1);
  atLeast("ipv6", "rxDelivered", 1000);
  atLeast("icmpv6", "txEchoReplies", 100);
  atLeast("reassembly6", "reassembled", 20);
  atLeast("reassembly6", "dropOverlap", 10);
  atLeast("ndp", "rxRa", 50);
  atLeast("ndp", "rxNs", 50);
  atLeast("mld", "rxQueries", 50);
});

Deno.test("fuzz: equal seeds give equal runs", () => {
  const run = (seed: number) => {
    const h = new FuzzHarness({ seed });
    h.run(2000);
    return JSON.stringify({ now: h.now, stats: h.iface.stats() });
  };
  assert.equal(run(5), run(5));
  assert.notEqual(run(5), run(6));
});
