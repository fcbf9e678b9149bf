/**
 * UDP over IPv6 across an impaired memory cable (loss, duplication, reordering, corruption), with
 * datagrams from tiny to fragmented: what arrives is exactly what was sent, nothing is thrown, and
 * reassembly and the neighbor cache end empty or bounded.
 */

import assert from "node:assert/strict";
import { Interface } from "../../stack/layer/interface.ts";
import { MemoryPair } from "../../stack/nic/memory.ts";
import { Rng } from "../../stack/util/rng.ts";
import { Ipv6Address, Ipv6Cidr } from "../../stack/wire/ipv6_address.ts";

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  Deno.test(`impaired ipv6: UDP datagrams up to 9000 bytes arrive intact or not at all, seed ${seed}`, () => {
    const link = new MemoryPair({
      seed,
      impair: { loss: 0.03, duplicate: 0.02, reorder: 0.05, corrupt: 0.02 },
    });
    const ipv6 = (a: string) => ({ addresses: [Ipv6Cidr.parse(a)], dadTransmits: 0 });
    const a = new Interface(link.a, {
      rng: new Rng(seed),
      announce: false,
      ipv6: ipv6("2001:db8::a/64"),
    });
    const b = new Interface(link.b, {
      rng: new Rng(seed + 100),
      announce: false,
      ipv6: ipv6("2001:db8::b/64"),
    });
    const rng = new Rng(seed * 7);
    const sent = new Map<number, Uint8Array>();
    let intact = 0;
    b.udp.bind(7, (d) => {
      const data = d.bytes.subarray(d.offset, d.offset + d.length);
      assert.ok(data.length >= 4, "a datagram shorter than its sequence number");
      const seq = (data[0] << 24 | data[1] << 16 | data[2] << 8 | data[3]) >>> 0;
      const original = sent.get(seq);
      assert.ok(original !== undefined, `datagram ${seq} was never sent`);
      assert.deepEqual(data, original, `datagram ${seq} arrived altered`);
      intact++;
    });
    const dst = Ipv6Address.parse("2001:db8::b");
    let now = 0;
    for (let seq = 0; seq < 600; seq++) {
      const size = rng.below(4) === 0 ? 1500 + rng.below(7500) : 4 + rng.below(1200);
      const data = new Uint8Array(size);
      rng.fill(data);
      data.set([seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff]);
      sent.set(seq, data);
      a.udp6!.send(40000, dst, 7, data);
      for (let k = 0; k < 3; k++) {
        a.poll(now);
        b.poll(now);
        now += 1;
      }
    }
    const end = now + 120_000;
    for (; now < end; now += 50) {
      a.poll(now);
      b.poll(now);
    }
    const stats = b.stats();
    // The handler's own assertions would surface here: the interface catches and counts them.
    assert.equal(stats.iface.handlerErrors + a.stats().iface.handlerErrors, 0);
    assert.ok(intact > 300, `only ${intact} of 600 arrived`);
    assert.equal(b.ipv6!.reassembler.bytesHeld, 0);
    assert.equal(b.ipv6!.reassembler.inProgress, 0);
    assert.ok(
      stats.udp6.dropChecksum + stats.icmpv6.dropChecksum + stats.reassembly6.dropOverlap +
          stats.reassembly6.dropTimeout + stats.ipv6.dropNotForUs + stats.eth.dropNotForUs > 0,
    );
  });
}
