import assert from "node:assert/strict";
import { MAC_BROADCAST } from "../../stack/wire/address.ts";
import { Icmpv4Packet, Icmpv4Repr, Icmpv4Type } from "../../stack/wire/icmpv4.ts";
import { Ipv4Packet } from "../../stack/wire/ipv4.ts";
import { EtherType, ethFrame, inject, IpProtocol, ipv4Datagram, udpDatagram } from "./frames.ts";
import { IP_A, IP_B, TwoStacks } from "./two_stacks.ts";

const MAC_A = 0x020000000001;
const MAC_B = 0x020000000002;

function icmp(type: number, data: Uint8Array, fields: Partial<Icmpv4Repr> = {}): Uint8Array {
  const repr = Object.assign(new Icmpv4Repr(), { type }, fields);
  repr.dataLength = data.length;
  const bytes = new Uint8Array(repr.bufferLength());
  bytes.set(data, 8);
  repr.emit(new Icmpv4Packet(bytes));
  return bytes;
}

/** Sends an IPv4 datagram from a's NIC to b, at the given MAC. */
function send(net: TwoStacks, datagram: Uint8Array, mac = MAC_B): void {
  inject(
    net.pair.a,
    net.now,
    ethFrame({ dst: mac, src: MAC_A, etherType: EtherType.Ipv4 }, datagram),
  );
}

Deno.test("icmp: no error about a broadcast, an ICMP error, a later fragment or a non-host source", () => {
  const net = new TwoStacks();
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0 });
  net.run(10);
  const udp = (dst: number) => udpDatagram(IP_A, dst, 5000, 9, new Uint8Array(16));
  // UDP to a closed port, sent to the subnet broadcast, to 255.255.255.255, and from 0.0.0.0.
  send(net, ipv4Datagram({ src: IP_A, dst: 0x0a0000ff }, udp(0x0a0000ff)), MAC_BROADCAST);
  send(net, ipv4Datagram({ src: IP_A, dst: 0xffffffff }, udp(0xffffffff)), MAC_BROADCAST);
  send(net, ipv4Datagram({ src: 0, dst: IP_B }, udpDatagram(0, IP_B, 5000, 9, new Uint8Array(16))));
  net.run(10);
  assert.equal(net.b.stats().udp.dropNoPort, 3);
  assert.equal(net.b.stats().icmp.errorsSuppressed, 3);
  // Errors the other layers could ask for, asked for directly.
  const error = ipv4Datagram(
    { src: IP_A, dst: IP_B, protocol: IpProtocol.Icmp },
    icmp(Icmpv4Type.DestinationUnreachable, new Uint8Array(28), { code: 3 }),
  );
  const later = ipv4Datagram(
    { src: IP_A, dst: IP_B, protocol: 200, fragmentOffset: 8 },
    new Uint8Array(8),
  );
  const echo = ipv4Datagram(
    { src: IP_A, dst: IP_B, protocol: IpProtocol.Icmp },
    icmp(8, new Uint8Array(8)),
  );
  for (const d of [error, later, echo]) net.b.icmp.sendError(3, 2, new Ipv4Packet(d), net.now);
  net.run(10);
  const s = net.b.stats().icmp;
  assert.equal(s.errorsSuppressed, 5);
  assert.equal(s.txErrors, 1); // about the echo request: ICMP queries may earn errors
  assert.equal(net.a.stats().icmp.rxErrors, 1);
  net.close();
});

Deno.test("icmp: echo requests to a broadcast are ignored; replies quote the request's data", () => {
  const net = new TwoStacks();
  net.run(1);
  const data = new Uint8Array(40).map((_, i) => i * 3);
  send(
    net,
    ipv4Datagram({ src: IP_A, dst: 0x0a0000ff, protocol: IpProtocol.Icmp }, icmp(8, data)),
    MAC_BROADCAST,
  );
  let got: Uint8Array | undefined;
  let sentAt: number | undefined = -1;
  net.a.icmp.onEchoReply = (r) => {
    got = r.bytes.slice(r.offset, r.offset + r.length);
    sentAt = r.sentAt;
  };
  send(
    net,
    ipv4Datagram(
      { src: IP_A, dst: IP_B, protocol: IpProtocol.Icmp },
      icmp(8, data, { ident: 5, seq: 6 }),
    ),
  );
  net.run(10);
  assert.equal(net.b.stats().icmp.ignoredBroadcastEcho, 1);
  assert.equal(net.b.stats().icmp.txEchoReplies, 1);
  assert.deepEqual(got, data);
  assert.equal(sentAt, undefined); // not one of our pings: no send time
  net.close();
});

Deno.test("icmp: bad ICMP checksums and truncated messages are dropped and counted", () => {
  const net = new TwoStacks();
  net.run(1);
  const bad = icmp(8, new Uint8Array(8));
  bad[2] ^= 0xff;
  send(net, ipv4Datagram({ src: IP_A, dst: IP_B, protocol: IpProtocol.Icmp }, bad));
  send(net, ipv4Datagram({ src: IP_A, dst: IP_B, protocol: IpProtocol.Icmp }, new Uint8Array(3)));
  net.run(1);
  const s = net.b.stats().icmp;
  assert.equal(s.dropChecksum, 1);
  assert.equal(s.dropTruncated, 1);
  assert.equal(s.txEchoReplies, 0);
  net.close();
});

Deno.test("icmp: ping with a payload over the MTU is fragmented and answered", () => {
  const net = new TwoStacks();
  const lengths: number[] = [];
  net.a.icmp.onEchoReply = (r) => lengths.push(r.length);
  net.a.icmp.ping(IP_B, { ident: 1, seq: 1, now: 0, payloadLength: 5000 });
  net.run(10);
  assert.deepEqual(lengths, [5000]);
  assert.equal(net.b.stats().reassembly.reassembled, 1);
  assert.equal(net.a.stats().reassembly.reassembled, 1);
  net.close();
});
