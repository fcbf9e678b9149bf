/**
 * Frames per second through the host NICs (TAP and AF_PACKET), 64 B and 1514 B frames, each direction,
 * beside Linux doing the same over the same kind of link in the same run: a small C program using a plain
 * AF_PACKET socket or a TAP file descriptor, built here with the system's C compiler. Also the round trip
 * of single frames, which shows the latency TPACKET_V3's block timeout adds, and TCP bulk between Linux
 * and the stack over each link beside Linux↔Linux over a veth (tests/bench/tap_tcp_bench.ts). Every
 * link lives in a throwaway namespace, and every run is bounded to about a second.
 *
 * @module
 */

import type { Nic } from "../../stack/nic/nic.ts";
import { PacketNic } from "../../stack/nic/packet.ts";
import { TapNic } from "../../stack/nic/tap.ts";
import { Netns, run, uniqueName } from "../nic/netns.ts";
import { linuxToStack, stackToLinux } from "../interop/tcp_throughput.ts";
import { benchTapTcp } from "./tap_tcp_bench.ts";

const SECONDS = 1;
const SIZES = [64, 1514] as const;
const SENDER_MAC = [0x02, 0, 0, 0, 0, 0x09];

/** The Linux reference: AF_PACKET and TAP senders, receivers and an echo timer, in plain C. */
const REFERENCE_C = String.raw`
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int packet_fd(const char *name) {
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)), one = 1;
  struct sockaddr_ll a = {0};
  a.sll_family = AF_PACKET; a.sll_protocol = htons(ETH_P_ALL); a.sll_ifindex = if_nametoindex(name);
  if (fd < 0 || bind(fd, (void *)&a, sizeof a) < 0) { perror("packet socket"); exit(1); }
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  return fd;
}
static int tap_fd(const char *name) {
  struct ifreq r = {0};
  int fd = open("/dev/net/tun", O_RDWR);
  strncpy(r.ifr_name, name, IFNAMSIZ - 1); r.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (fd < 0 || ioctl(fd, TUNSETIFF, &r) < 0) { perror("tap"); exit(1); }
  return fd;
}
static int ours(const unsigned char *f, long n) { return n >= 18 && f[12] == 0x88 && f[13] == 0xb5; }
int main(int argc, char **argv) {
  const char *mode = argv[1], *name = argv[2];
  int len = atoi(argv[3]); double secs = atof(argv[4]);
  unsigned char f[2048], b[65536]; long count = 0;
  memset(f, 0x5a, sizeof f); memset(f, 0xff, 6);
  unsigned char src[6] = {0x02, 0, 0, 0, 0, 0x09}; memcpy(f + 6, src, 6); f[12] = 0x88; f[13] = 0xb5;
  int tap = strstr(mode, "tap") != NULL, fd = tap ? tap_fd(name) : packet_fd(name);
  double start = now(), end = start + secs;
  if (!strncmp(mode, "tx", 2)) {
    for (;;) {
      for (int i = 0; i < 256; i++) { memcpy(f + 14, &count, 4); if ((tap ? write(fd, f, len) : send(fd, f, len, 0)) == len) count++; }
      if (now() >= end) break;
    }
  } else if (!strncmp(mode, "rx", 2)) {
    struct pollfd p = {fd, POLLIN, 0};
    while (now() < end) {
      if (poll(&p, 1, 50) <= 0) continue;
      long n = read(fd, b, sizeof b);
      if (ours(b, n)) count++;
    }
  } else {
    /* echo timing: send one frame, wait for it to come back with another source MAC. */
    double rtt[100000]; int k = 0, total = atoi(argv[4]);
    struct pollfd p = {fd, POLLIN, 0};
    for (int i = 0; i < total && i < 100000; i++) {
      memcpy(f + 14, &i, 4);
      double t0 = now(), deadline = t0 + 0.5;
      if ((tap ? write(fd, f, len) : send(fd, f, len, 0)) != len) continue;
      while (now() < deadline) {
        if (poll(&p, 1, 10) <= 0) continue;
        long n = read(fd, b, sizeof b);
        if (ours(b, n) && memcmp(b + 6, src, 6) && !memcmp(b + 14, &i, 4)) { rtt[k++] = now() - t0; break; }
      }
      usleep(2000);
    }
    for (int i = 1; i < k; i++) for (int j = i; j > 0 && rtt[j] < rtt[j - 1]; j--) { double t = rtt[j]; rtt[j] = rtt[j - 1]; rtt[j - 1] = t; }
    printf("echoes=%d median_us=%.1f p99_us=%.1f\n", k, k ? rtt[k / 2] * 1e6 : 0, k ? rtt[k * 99 / 100] * 1e6 : 0);
    return 0;
  }
  printf("frames=%ld seconds=%.4f\n", count, now() - start);
  return 0;
}
`;

interface Reference {
  binary: string;
  dir: string;
}

async function buildReference(): Promise<Reference | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "nic_bench" });
  await Deno.writeTextFile(`${dir}/ref.c`, REFERENCE_C);
  const cc = await run("cc", ["-O2", "-o", `${dir}/ref`, `${dir}/ref.c`]).catch(() => undefined);
  if (cc === undefined || cc.code !== 0) {
    await Deno.remove(dir, { recursive: true });
    return undefined;
  }
  return { binary: `${dir}/ref`, dir };
}

function parseFigures(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/(\w+)=([\d.]+)/g)) out[m[1]] = Number(m[2]);
  return out;
}

function fillFrame(bytes: Uint8Array, offset: number, _length: number): void {
  bytes.fill(0xff, offset, offset + 6);
  bytes.set(SENDER_MAC, offset + 6);
  bytes[offset + 12] = 0x88;
  bytes[offset + 13] = 0xb5;
}

/** Sends as fast as the NIC accepts for `SECONDS`; returns frames handed over per second. */
function sendFor(nic: Nic, length: number): { frames: number; seconds: number } {
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let frames = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 256; i++) if (nic.send(now, length, fillFrame)) frames++;
    nic.flush(now);
    now = performance.now();
  }
  return { frames, seconds: (now - start) / 1000 };
}

/** Receives while `sender` runs, then a little longer; returns our frames counted. */
async function receiveWhile(nic: Nic, sender: Deno.ChildProcess): Promise<number> {
  let count = 0;
  let done = false;
  sender.status.then(() => done = true);
  const handler = (b: Uint8Array, o: number) => {
    if (b[o + 12] === 0x88 && b[o + 13] === 0xb5) count++;
  };
  const hardStop = performance.now() + (SECONDS + 3) * 1000;
  let idleSince = performance.now();
  while (performance.now() < hardStop) {
    const n = nic.receive(0, handler, 4096);
    if (n > 0) {
      idleSince = performance.now();
      // Let the event loop notice the sender's exit now and then.
      if (count % 65536 < n) await Promise.resolve();
      continue;
    }
    if (done && performance.now() - idleSince > 100) break;
    await nic.wait(20);
  }
  return count;
}

/** Echoes our test frames back with our MAC as the source, until `until` resolves. */
async function echoWhile(nic: Nic, until: Promise<unknown>): Promise<void> {
  let done = false;
  until.then(() => done = true);
  let pending = -1;
  const copy = new Uint8Array(2048);
  let copyLength = 0;
  const handler = (b: Uint8Array, o: number, l: number) => {
    if (b[o + 12] !== 0x88 || b[o + 13] !== 0xb5) return;
    copy.set(b.subarray(o, o + l));
    copyLength = l;
    pending = 1;
  };
  const fill = (b: Uint8Array, o: number) => {
    b.set(copy.subarray(0, copyLength), o);
    b.set([0x02, 0, 0, 0, 0, 0x0e], o + 6);
  };
  while (!done) {
    nic.receive(0, handler);
    if (pending > 0) {
      nic.send(0, copyLength, fill);
      nic.flush(0);
      pending = -1;
      continue;
    }
    await nic.wait(20);
  }
}

function rate(frames: number, seconds: number): number {
  return seconds > 0 ? Math.round(frames / seconds) : 0;
}

async function linuxCount(ns: Netns, link: string): Promise<number> {
  return await ns.counter(link, "rx_packets");
}

/** Runs the AF_PACKET figures over a veth pair whose far end is in a throwaway namespace. */
async function benchPacket(ref: Reference | undefined, out: Record<string, number | string>) {
  const ns = await Netns.create("nb");
  const host = uniqueName("nba");
  const inner = uniqueName("nbb");
  try {
    await ns.quiet();
    await ns.veth(host, inner, "10.77.9.1/24");
    for (const size of SIZES) {
      // Our transmit ring → Linux.
      {
        const nic = new PacketNic(host);
        const before = await linuxCount(ns, inner);
        const r = sendFor(nic, size);
        const delivered = (await linuxCount(ns, inner)) - before;
        nic.close();
        out[`packet send ${size}B frames/s (stack)`] = rate(r.frames, r.seconds);
        out[`packet send ${size}B delivered/s (stack)`] = rate(delivered, r.seconds);
      }
      if (ref) {
        const before = await linuxCount(ns, inner);
        const r = parseFigures(
          (await run(ref.binary, ["tx", host, `${size}`, `${SECONDS}`])).stdout,
        );
        const delivered = (await linuxCount(ns, inner)) - before;
        out[`packet send ${size}B frames/s (Linux send())`] = rate(r.frames, r.seconds);
        out[`packet send ${size}B delivered/s (Linux send())`] = rate(delivered, r.seconds);
      }
      // Linux → our receive ring, V2 and V3; the reference is a plain recv() loop.
      if (ref) {
        for (const version of [2, 3] as const) {
          const nic = new PacketNic(host, { version });
          const sender = ns.spawn(ref.binary, ["tx", inner, `${size}`, `${SECONDS}`]);
          const got = await receiveWhile(nic, sender);
          const sent = parseFigures(new TextDecoder().decode((await sender.output()).stdout));
          nic.close();
          out[`packet receive ${size}B frames/s (stack V${version})`] = rate(got, sent.seconds);
          out[`packet receive ${size}B sender frames/s (V${version} run)`] = rate(
            sent.frames,
            sent.seconds,
          );
        }
        const receiver = new Deno.Command(ref.binary, {
          args: ["rx", host, `${size}`, `${SECONDS + 0.5}`],
          stdout: "piped",
        }).spawn();
        const sender = ns.spawn(ref.binary, ["tx", inner, `${size}`, `${SECONDS}`]);
        const sent = parseFigures(new TextDecoder().decode((await sender.output()).stdout));
        const got = parseFigures(new TextDecoder().decode((await receiver.output()).stdout));
        out[`packet receive ${size}B frames/s (Linux recv())`] = rate(got.frames, sent.seconds);
        out[`packet receive ${size}B sender frames/s (Linux run)`] = rate(
          sent.frames,
          sent.seconds,
        );
      }
    }
    if (ref) {
      for (const version of [2, 3] as const) {
        const nic = new PacketNic(host, { version });
        const timer = ns.spawn(ref.binary, ["echo", inner, "64", "200"]);
        const result = timer.output();
        await echoWhile(nic, result);
        nic.close();
        const r = parseFigures(new TextDecoder().decode((await result).stdout));
        out[`packet echo V${version} round trip median µs`] = r.median_us;
        out[`packet echo V${version} round trip p99 µs`] = r.p99_us;
      }
    }
  } finally {
    await ns.close();
  }
}

/** Runs the TAP figures; the TAP's Linux side lives in a throwaway namespace. */
async function benchTap(ref: Reference | undefined, out: Record<string, number | string>) {
  const ns = await Netns.create("nb");
  const name = uniqueName("nbt");
  const refName = uniqueName("nbr");
  let tap: TapNic | undefined;
  try {
    await ns.quiet();
    tap = new TapNic(name);
    await ns.adopt(name, "10.77.8.1/24");
    if (ref) {
      // The reference attaches to a persistent TAP of its own inside the namespace.
      await ns.ip("tuntap", "add", "dev", refName, "mode", "tap");
      await ns.ip("link", "set", refName, "up");
    }
    for (const size of SIZES) {
      {
        const before = await linuxCount(ns, name);
        const r = sendFor(tap, size);
        const delivered = (await linuxCount(ns, name)) - before;
        out[`tap send ${size}B frames/s (stack)`] = rate(r.frames, r.seconds);
        out[`tap send ${size}B delivered/s (stack)`] = rate(delivered, r.seconds);
      }
      if (ref) {
        const before = await linuxCount(ns, refName);
        const r = parseFigures(
          (await ns.exec(ref.binary, ["tx-tap", refName, `${size}`, `${SECONDS}`])).stdout,
        );
        const delivered = (await linuxCount(ns, refName)) - before;
        out[`tap send ${size}B frames/s (Linux write())`] = rate(r.frames, r.seconds);
        out[`tap send ${size}B delivered/s (Linux write())`] = rate(delivered, r.seconds);

        const sender = ns.spawn(ref.binary, ["tx", name, `${size}`, `${SECONDS}`]);
        const got = await receiveWhile(tap, sender);
        const sent = parseFigures(new TextDecoder().decode((await sender.output()).stdout));
        out[`tap receive ${size}B frames/s (stack)`] = rate(got, sent.seconds);
        out[`tap receive ${size}B sender frames/s (stack run)`] = rate(sent.frames, sent.seconds);

        const receiver = ns.spawn(ref.binary, ["rx-tap", refName, `${size}`, `${SECONDS + 0.5}`]);
        const refSender = ns.spawn(ref.binary, ["tx", refName, `${size}`, `${SECONDS}`]);
        const refSent = parseFigures(new TextDecoder().decode((await refSender.output()).stdout));
        const refGot = parseFigures(new TextDecoder().decode((await receiver.output()).stdout));
        out[`tap receive ${size}B frames/s (Linux read())`] = rate(refGot.frames, refSent.seconds);
        out[`tap receive ${size}B sender frames/s (Linux run)`] = rate(
          refSent.frames,
          refSent.seconds,
        );
      }
    }
    if (ref) {
      const timer = ns.spawn(ref.binary, ["echo", name, "64", "200"]);
      const result = timer.output();
      await echoWhile(tap, result);
      const r = parseFigures(new TextDecoder().decode((await result).stdout));
      out[`tap echo round trip median µs`] = r.median_us;
      out[`tap echo round trip p99 µs`] = r.p99_us;
    }
  } finally {
    tap?.close();
    await ns.close();
  }
}

/**
 * TCP bulk over the TAP both ways in Gbit/s beside Linux↔Linux (tests/bench/tap_tcp_bench.ts, three
 * alternating rounds), and over AF_PACKET.
 */
async function benchTcp(out: Record<string, number | string>) {
  Object.assign(out, await benchTapTcp(3));
  out["tcp Linux→stack over packet Mbit/s"] = Math.round(await linuxToStack("packet"));
  out["tcp stack→Linux over packet Mbit/s"] = Math.round(await stackToLinux("packet"));
}

/** Measures the host NICs; each figure with a Linux reference taken in the same run. */
export async function benchNic(): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  const ref = await buildReference();
  out["reference"] = ref ? "C program (cc -O2), same link, same run" : "none: no C compiler";
  try {
    await benchTap(ref, out);
    await benchPacket(ref, out);
    await benchTcp(out);
  } finally {
    if (ref) await Deno.remove(ref.dir, { recursive: true });
  }
  return out;
}

if (import.meta.main) {
  for (const [k, v] of Object.entries(await benchNic())) console.log(`${k.padEnd(52)} ${v}`);
}
