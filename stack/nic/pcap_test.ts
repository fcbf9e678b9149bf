import assert from "node:assert/strict";
import { MemoryPair } from "./memory.ts";
import { MemorySink, PcapNic, PcapWriter } from "./pcap.ts";
import { readPcap } from "./pcap_reader.ts";

/** An ARP request from 02:00:00:00:00:01 (10.0.0.1) asking for `target` (last octet of 10.0.0.x). */
function arpRequest(bytes: Uint8Array, o: number, target: number): void {
  bytes.fill(0xff, o, o + 6);
  bytes.set([0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06], o + 6);
  bytes.set([0, 1, 0x08, 0, 6, 4, 0, 1], o + 14);
  bytes.set([0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1], o + 22);
  bytes.set([0, 0, 0, 0, 0, 0, 10, 0, 0, target], o + 32);
}

/** A UDP datagram 10.0.0.2:7 → 10.0.0.1:`port` carrying `payload` bytes of 0x61, checksum left 0. */
function udpFrame(bytes: Uint8Array, o: number, port: number, payload: number): number {
  const ipLength = 20 + 8 + payload;
  bytes.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00], o);
  const ip = o + 14;
  bytes.set([0x45, 0, ipLength >> 8, ipLength & 0xff, 0, 1, 0, 0, 64, 17, 0, 0], ip);
  bytes.set([10, 0, 0, 2, 10, 0, 0, 1], ip + 12);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (bytes[ip + i] << 8) | bytes[ip + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~sum & 0xffff;
  bytes[ip + 10] = sum >> 8;
  bytes[ip + 11] = sum & 0xff;
  const udp = ip + 20;
  bytes.set([0, 7, port >> 8, port & 0xff, (8 + payload) >> 8, (8 + payload) & 0xff, 0, 0], udp);
  bytes.fill(0x61, udp + 8, udp + 8 + payload);
  return 14 + ipLength;
}

Deno.test("PcapWriter writes the libpcap file and record headers", () => {
  const sink = new MemorySink();
  const w = new PcapWriter(sink, { epochMs: 1_700_000_000_000 });
  const frame = new Uint8Array(64).map((_, i) => i);
  w.write(1234.5678, frame, 4, 42);
  w.close();
  const b = sink.bytes();
  assert.equal(b.length, 24 + 16 + 42);
  assert.deepEqual([...b.subarray(0, 8)], [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
  const v = new DataView(b.buffer);
  assert.equal(v.getInt32(8, true), 0);
  assert.equal(v.getUint32(12, true), 0);
  assert.equal(v.getUint32(16, true), 262144);
  assert.equal(v.getUint32(20, true), 1);
  assert.equal(v.getUint32(24, true), 1_700_000_001);
  assert.equal(v.getUint32(28, true), 234568);
  assert.equal(v.getUint32(32, true), 42);
  assert.equal(v.getUint32(36, true), 42);
  assert.deepEqual(b.subarray(40), frame.subarray(4, 46));
});

Deno.test("PcapWriter writes nanosecond timestamps and carries rounding into seconds", () => {
  const sink = new MemorySink();
  const w = new PcapWriter(sink, { nanoseconds: true, epochMs: 5000 });
  w.write(0.000001, new Uint8Array(14), 0, 14);
  w.write(999.9999999, new Uint8Array(14), 0, 14);
  w.close();
  const b = sink.bytes();
  const v = new DataView(b.buffer);
  assert.equal(v.getUint32(0, true), 0xa1b23c4d);
  assert.equal(v.getUint32(24, true), 5);
  assert.equal(v.getUint32(28, true), 1);
  assert.equal(v.getUint32(24 + 30, true), 6);
  assert.equal(v.getUint32(28 + 30, true), 0);
});

Deno.test("PcapWriter truncates at the snap length and keeps the wire length", () => {
  const sink = new MemorySink();
  const w = new PcapWriter(sink, { snapLength: 20 });
  w.write(0, new Uint8Array(100).fill(7), 0, 100);
  w.close();
  const file = readPcap(sink.bytes());
  assert.equal(file.snapLength, 20);
  assert.equal(file.records[0].bytes.length, 20);
  assert.equal(file.records[0].originalLength, 100);
});

Deno.test("PcapWriter with a tiny buffer writes the same bytes as with a large one", () => {
  const frames = [60, 1514, 9000, 14, 300];
  const capture = (bufferBytes: number) => {
    const sink = new MemorySink();
    const w = new PcapWriter(sink, { bufferBytes });
    frames.forEach((n, i) => w.write(i * 1.5, new Uint8Array(n).fill(i + 1), 0, n));
    w.close();
    return sink.bytes();
  };
  const big = capture(1 << 20);
  assert.deepEqual(capture(24), big);
  assert.deepEqual(capture(1600), big);
  const file = readPcap(big);
  assert.deepEqual(file.records.map((r) => r.bytes.length), frames);
  assert.deepEqual(file.records.map((r) => r.bytes[0]), [1, 2, 3, 4, 5]);
  assert.deepEqual(file.records.map((r) => r.timeMs), [0, 1.5, 3, 4.5, 6]);
});

Deno.test("PcapWriter ignores writes after close", () => {
  const sink = new MemorySink();
  const w = new PcapWriter(sink);
  w.close();
  w.write(0, new Uint8Array(60), 0, 60);
  w.flush();
  assert.equal(sink.bytes().length, 24);
});

Deno.test("PcapNic records received and sent frames in order and passes them through", () => {
  const { a, b } = new MemoryPair();
  const sink = new MemorySink();
  const nic = new PcapNic(a, { sink, epochMs: 1000 });
  assert.equal(nic.mac, a.mac);
  assert.equal(nic.mtu, 1500);
  assert.equal(nic.name, "pcap:memory:a");
  assert.ok(nic.send(10, 42, (x, o) => arpRequest(x, o, 2)));
  b.send(20, 42, (x, o) => arpRequest(x, o, 9));
  const got: number[] = [];
  assert.equal(nic.receive(25, (x, o, l) => got.push(x[o + 41], l)), 1);
  assert.deepEqual(got, [9, 42]);
  let seenByB = 0;
  b.receive(30, (x, o) => seenByB = x[o + 41]);
  assert.equal(seenByB, 2);
  assert.equal(nic.stats.txFrames, 1);
  nic.close();
  const file = readPcap(sink.bytes());
  assert.deepEqual(file.records.map((r) => r.timeMs), [1010, 1025]);
  assert.deepEqual(file.records.map((r) => r.bytes[41]), [2, 9]);
});

Deno.test("PcapNic records one direction when asked", () => {
  const { a, b } = new MemoryPair();
  const sink = new MemorySink();
  const nic = new PcapNic(b, { sink, record: "rx" });
  a.send(0, 42, (x, o) => arpRequest(x, o, 3));
  nic.receive(0, () => {});
  nic.send(0, 42, (x, o) => arpRequest(x, o, 4));
  nic.close();
  assert.deepEqual(readPcap(sink.bytes()).records.map((r) => r.bytes[41]), [3]);
});

Deno.test("PcapNic needs a path or a sink", () => {
  assert.throws(() => new PcapNic(new MemoryPair().a, {}), /give a path or a sink/);
});

Deno.test("a capture file written by PcapNic is decoded by tshark", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const nanoseconds of [false, true]) {
      const path = `${dir}/capture.pcap`;
      const { a, b } = new MemoryPair();
      const nic = new PcapNic(a, { path, nanoseconds, epochMs: 1_700_000_000_000 });
      nic.send(1.25, 42, (x, o) => arpRequest(x, o, 2));
      b.send(2.5, 142, (x, o) => udpFrame(x, o, 9999, 100));
      nic.receive(3.75, () => {});
      nic.close();
      const out = await new Deno.Command("tshark", {
        args: [
          "-n",
          "-r",
          path,
          "-T",
          "fields",
          "-E",
          "separator=,",
          "-e",
          "frame.time_epoch",
          "-e",
          "eth.src",
          "-e",
          "arp.dst.proto_ipv4",
          "-e",
          "udp.dstport",
          "-e",
          "frame.len",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const lines = text.split("\n").map((l) => l.split(","));
      assert.equal(lines.length, 2, text);
      assert.equal(Number(lines[0][0]).toFixed(5), "1700000000.00125");
      assert.deepEqual(lines[0].slice(1), ["02:00:00:00:00:01", "10.0.0.2", "", "42"]);
      assert.equal(Number(lines[1][0]).toFixed(5), "1700000000.00375");
      assert.deepEqual(lines[1].slice(1), ["02:00:00:00:00:02", "", "9999", "142"]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
