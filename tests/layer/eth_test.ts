import assert from "node:assert/strict";
import { MAC_BROADCAST } from "../../stack/wire/address.ts";
import { EtherType, ethFrame, inject, ipv4Datagram, udpDatagram } from "./frames.ts";
import { IP_A, IP_B, TwoStacks } from "./two_stacks.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;
const MAC_OTHER = 0x0200000000cc;

function udpFrame(dstMac: number, vlanId?: number, dst = IP_B): Uint8Array {
  const udp = udpDatagram(IP_A, dst, 5000, 9000, new Uint8Array([1, 2, 3]));
  return ethFrame(
    { dst: dstMac, src: MAC_A, etherType: EtherType.Ipv4, vlanId },
    ipv4Datagram({ src: IP_A, dst }, udp),
  );
}

Deno.test("eth: frames for another unicast MAC or an unjoined group are filtered", () => {
  const net = new TwoStacks();
  let got = 0;
  net.b.udp.bind(9000, () => got++);
  net.run(1);
  inject(net.pair.a, net.now, udpFrame(MAC_OTHER));
  inject(net.pair.a, net.now, udpFrame(0x01005e000005, undefined, 0xe0000005));
  inject(net.pair.a, net.now, udpFrame(MAC_B));
  inject(net.pair.a, net.now, udpFrame(MAC_BROADCAST, undefined, 0x0a0000ff));
  net.run(1);
  assert.equal(got, 2);
  assert.equal(net.b.stats().eth.dropNotForUs, 2);
  // Joining the group lets its frames in.
  net.b.ipv4.joinGroup(0xe0000005);
  inject(net.pair.a, net.now, udpFrame(0x01005e000005, undefined, 0xe0000005));
  net.run(1);
  assert.equal(got, 3);
  net.close();
});

Deno.test("eth: own-source and unknown EtherType frames are dropped and counted", () => {
  const net = new TwoStacks();
  net.run(1);
  inject(
    net.pair.a,
    net.now,
    ethFrame({ dst: MAC_B, src: MAC_B, etherType: EtherType.Ipv4 }, new Uint8Array(40)),
  );
  inject(
    net.pair.a,
    net.now,
    ethFrame({ dst: MAC_B, src: MAC_A, etherType: 0x88b5 }, new Uint8Array(40)),
  );
  net.run(1);
  const s = net.b.stats().eth;
  assert.equal(s.dropOwnSource, 1);
  assert.equal(s.dropUnknownType, 1);
  net.close();
});

Deno.test("eth: 802.1Q tagged stacks talk on their VLAN and drop others", () => {
  const net = new TwoStacks({ a: { vlanId: 5 }, b: { vlanId: 5 } });
  const seen: number[] = [];
  net.a.icmp.onEchoReply = (r) => seen.push(r.seq);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(10);
  assert.deepEqual(seen, [1]);
  let got = 0;
  net.b.udp.bind(9000, () => got++);
  inject(net.pair.a, net.now, udpFrame(MAC_B)); // untagged
  inject(net.pair.a, net.now, udpFrame(MAC_B, 6)); // another VLAN
  inject(net.pair.a, net.now, udpFrame(MAC_B, 5));
  net.run(1);
  assert.equal(got, 1);
  assert.equal(net.b.stats().eth.dropVlan, 2);
  assert.equal(net.a.ipv4.mtu, 1476); // the tag costs 4 bytes of the NIC's frame
  net.close();
});

Deno.test("eth: priority-tagged frames (VLAN 0) belong to the untagged network", () => {
  const net = new TwoStacks();
  let got = 0;
  net.b.udp.bind(9000, () => got++);
  net.run(1);
  inject(net.pair.a, net.now, udpFrame(MAC_B, 0));
  inject(net.pair.a, net.now, udpFrame(MAC_B, 7));
  net.run(1);
  assert.equal(got, 1);
  assert.equal(net.b.stats().eth.dropVlan, 1);
  net.close();
});

Deno.test("eth: an app plugs in a raw Recv handler and a Send handler for its EtherType", () => {
  const net = new TwoStacks();
  const received: number[] = [];
  net.b.eth.register(0x88b5, {
    receive: (p) => received.push(p.src === MAC_A ? 1 : 0, p.bytes[p.offset], p.length),
  });
  let toSend = 2;
  net.a.eth.addSender({
    send(tx, now) {
      if (toSend === 0) return false;
      tx.send(MAC_B, 0x88b5, 10, (bytes, offset) => bytes.fill(toSend, offset, offset + 10), now);
      toSend--;
      return true;
    },
  });
  net.run(1);
  // Frames are padded to 60 bytes, so the payload seen is 46 bytes, zero beyond the 10 written.
  assert.deepEqual(received, [1, 2, 46, 1, 1, 46]);
  net.close();
});

Deno.test("udp: a Send handler writes datagrams in place during poll", () => {
  const net = new TwoStacks();
  const got: number[] = [];
  net.b.udp.bind(9000, (d) => got.push(d.length, d.bytes[d.offset]));
  let left = 3;
  net.a.udp.addSender({
    send(tx) {
      if (left === 0) return false;
      const result = tx.sendWith(4000, IP_B, 9000, 100, (bytes, offset, length) => {
        bytes.fill(left, offset, offset + length);
      });
      if (result === "sent" || result === "queued") left--;
      return true;
    },
  });
  net.run(10);
  assert.deepEqual(got, [100, 3, 100, 2, 100, 1]);
  net.close();
});

Deno.test("ipv4 multicast: all-hosts is joined; other groups only once joined, checked at IP", () => {
  const net = new TwoStacks();
  const got: number[] = [];
  net.b.udp.bind(9000, (d) => got.push(d.dst));
  net.run(1);
  const group = 0xe0000005; // 224.0.0.5
  const sameMac = 0xe0800005; // 224.128.0.5 maps to the same MAC (RFC 1112 §6.4)
  inject(net.pair.a, net.now, udpFrame(0x01005e000001, undefined, 0xe0000001));
  inject(net.pair.a, net.now, udpFrame(0x01005e000005, undefined, group));
  net.run(1);
  assert.deepEqual(got, [0xe0000001]);
  net.b.ipv4.joinGroup(group);
  assert.equal(net.b.ipv4.inGroup(group), true);
  inject(net.pair.a, net.now, udpFrame(0x01005e000005, undefined, group));
  inject(net.pair.a, net.now, udpFrame(0x01005e000005, undefined, sameMac));
  net.run(1);
  assert.deepEqual(got, [0xe0000001, group]);
  assert.equal(net.b.stats().ipv4.dropNotForUs, 1); // the other group behind the same MAC
  assert.equal(net.b.stats().eth.dropNotForUs, 1); // 224.0.0.5 before joining
  net.b.ipv4.leaveGroup(group);
  inject(net.pair.a, net.now, udpFrame(0x01005e000005, undefined, group));
  net.run(1);
  assert.equal(net.b.stats().eth.dropNotForUs, 2);
  net.close();
});
