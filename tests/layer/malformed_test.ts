import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { MAC_BROADCAST } from "../../stack/wire/address.ts";
import { ArpOperation } from "../../stack/wire/arp.ts";
import { Icmpv4Packet, Icmpv4Repr, Icmpv4Type } from "../../stack/wire/icmpv4.ts";
import {
  arpPacket,
  EtherType,
  ethFrame,
  inject,
  IpProtocol,
  ipv4Datagram,
  udpDatagram,
} from "./frames.ts";
import { IP_A, IP_B, TwoStacks } from "./two_stacks.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

function echoRequest(): Uint8Array {
  const repr = new Icmpv4Repr();
  repr.type = Icmpv4Type.EchoRequest;
  repr.ident = 1;
  repr.seq = 2;
  repr.dataLength = 16;
  const bytes = new Uint8Array(repr.bufferLength());
  repr.emit(new Icmpv4Packet(bytes));
  return bytes;
}

/** Valid frames of every kind the stack parses. */
function seeds(): Uint8Array[] {
  const udp = udpDatagram(IP_A, IP_B, 5000, 7, new Uint8Array(32).fill(9));
  const eth = (etherType: number, payload: Uint8Array, vlanId?: number) =>
    ethFrame({ dst: MAC_B, src: MAC_A, etherType, vlanId }, payload);
  return [
    ethFrame(
      { dst: MAC_BROADCAST, src: MAC_A, etherType: EtherType.Arp },
      arpPacket({
        operation: ArpOperation.Request,
        senderMac: MAC_A,
        senderIp: IP_A,
        targetIp: IP_B,
      }),
    ),
    eth(EtherType.Ipv4, ipv4Datagram({ src: IP_A, dst: IP_B }, udp)),
    eth(
      EtherType.Ipv4,
      ipv4Datagram({ src: IP_A, dst: IP_B, protocol: IpProtocol.Icmp }, echoRequest()),
    ),
    eth(
      EtherType.Ipv4,
      ipv4Datagram({ src: IP_A, dst: IP_B, moreFragments: true, ident: 4 }, udp.subarray(0, 24)),
    ),
    eth(
      EtherType.Ipv4,
      ipv4Datagram({ src: IP_A, dst: IP_B, fragmentOffset: 24, ident: 4 }, udp.subarray(24)),
    ),
    eth(EtherType.Ipv4, ipv4Datagram({ src: IP_A, dst: IP_B }, udp), 0),
  ];
}

Deno.test("malformed frames at every layer are dropped, counted and never thrown", () => {
  const net = new TwoStacks();
  net.b.udp.bind(
    7,
    (d) => net.b.udp.send(7, d.src, d.srcPort, d.bytes.subarray(d.offset, d.offset + d.length)),
  );
  net.run(1);
  const rng = new Rng(2024);
  const valid = seeds();
  let injected = 0;
  for (let round = 0; round < 3000; round++) {
    const frame = valid[rng.below(valid.length)].slice();
    const mutation = rng.below(4);
    let bytes = frame;
    if (mutation === 0) {
      bytes = frame.subarray(0, rng.below(frame.length));
    } else if (mutation === 1) {
      // Flip a bit past the MAC addresses, so the frame still reaches the layers above.
      const at = 12 + rng.below(frame.length - 12);
      frame[at] ^= 1 << rng.below(8);
    } else if (mutation === 2) {
      for (let i = 0; i < 4; i++) frame[14 + rng.below(frame.length - 14)] = rng.nextU32() & 0xff;
    } else {
      // Lengths that lie: IPv4 total length, IHL, UDP length.
      frame[16 + rng.below(2)] = rng.nextU32() & 0xff;
      frame[14] = (frame[14] & 0xf0) | rng.below(16);
    }
    inject(net.pair.a, net.now, bytes);
    injected++;
    if (round % 50 === 0) net.run(1);
  }
  net.run(60_000);
  const s = net.b.stats();
  assert.equal(s.iface.handlerErrors, 0);
  assert.ok(s.eth.rxPackets >= injected); // plus a's announcements and ARP replies
  assert.ok(s.eth.dropTruncated > 0);
  assert.ok(s.arp.dropUnsupported + s.arp.dropTruncated > 0);
  assert.ok(s.ipv4.dropChecksum > 0);
  assert.ok(s.ipv4.dropMalformed + s.ipv4.dropTruncated > 0);
  assert.ok(s.udp.dropChecksum > 0);
  assert.ok(s.icmp.dropChecksum > 0);
  assert.ok(s.udp.rxDelivered > 0);
  // The stack still works afterwards, once ARP entries the fuzz forged (RFC 826 lets a request to us
  // create its sender's entry) have aged out.
  net.run(70_000);
  const seen: number[] = [];
  net.a.icmp.onEchoReply = (r) => seen.push(r.seq);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 99, now: net.now });
  net.run(10);
  assert.deepEqual(seen, [99]);
  net.close();
});

Deno.test("a frame shorter than an Ethernet header is counted as truncated", () => {
  const net = new TwoStacks();
  net.run(1);
  for (const length of [0, 1, 13]) inject(net.pair.a, net.now, new Uint8Array(length).fill(0xff));
  net.run(1);
  assert.equal(net.b.stats().eth.dropTruncated, 3);
  net.close();
});
