/**
 * Linux↔Linux over the same kind of link the stack uses: two namespaces, each with a TAP whose user-space
 * end is one small C program that copies every frame from one TAP to the other (as a user-space switch
 * or QEMU's socket netdev does). With `offload` both TAPs carry a virtio-net header with checksum and
 * TSO offload on, so 64 KiB TCP frames cross whole, as with our stack's default TAP; without, every
 * MTU-sized frame is one read and one write. The program is built here with the system's C compiler.
 *
 * @module
 */

import { Netns, run, uniqueName } from "../nic/netns.ts";
import { socatPush } from "./tcp_throughput.ts";

const SECONDS = 2;

/** The relay: creates TAPs argv[1] and argv[2], says "ready", copies frames for argv[4] seconds. */
const RELAY_C = String.raw`
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int tap(const char *name, int vnet) {
  struct ifreq r = {0};
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
  strncpy(r.ifr_name, name, IFNAMSIZ - 1);
  r.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &r) < 0) { perror("tap"); exit(1); }
  if (vnet && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) { perror("offload"); exit(1); }
  return fd;
}
static char buf[65536 + 256];
int main(int argc, char **argv) {
  if (argc != 5) return 2;
  int vnet = atoi(argv[3]);
  double end = now() + atof(argv[4]);
  int fds[2] = { tap(argv[1], vnet), tap(argv[2], vnet) };
  printf("ready\n");
  fflush(stdout);
  struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };
  while (now() < end) {
    if (poll(p, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; i++) {
      for (int k = 0; k < 256; k++) {
        long n = read(fds[i], buf, sizeof buf);
        if (n <= 0) break;
        if (write(fds[1 - i], buf, n) != n) { /* dropped, as a full switch port would */ }
      }
    }
  }
  return 0;
}
`;

/**
 * Mbit/s of socat from one namespace to another through two TAPs and the C relay, for about two
 * seconds; undefined when no C compiler is installed.
 */
export async function linuxToLinuxOverTap(offload: boolean): Promise<number | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "tap_relay" });
  try {
    await Deno.writeTextFile(`${dir}/relay.c`, RELAY_C);
    const cc = await run("cc", ["-O2", "-o", `${dir}/relay`, `${dir}/relay.c`]).catch(() =>
      undefined
    );
    if (cc === undefined || cc.code !== 0) return undefined;
    const a = await Netns.create("tr");
    const b = await Netns.create("tr");
    const tapA = uniqueName("tra");
    const tapB = uniqueName("trb");
    // The TAPs exist while the relay holds them, and vanish when it exits.
    const relay = new Deno.Command(`${dir}/relay`, {
      args: [tapA, tapB, offload ? "1" : "0", `${SECONDS + 4}`],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      await ready(relay);
      for (
        const [ns, name, ip] of [[a, tapA, "10.79.10.1/24"], [b, tapB, "10.79.10.2/24"]] as const
      ) {
        await run("ip", ["link", "set", name, "netns", ns.name]);
        await ns.quiet();
        await ns.ip("addr", "add", ip, "dev", name);
        await ns.ip("link", "set", name, "up");
      }
      return await socatPush(a, b, tapB, "10.79.10.2");
    } finally {
      try {
        relay.kill();
      } catch {
        // It has exited.
      }
      await relay.status;
      await a.close();
      await b.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Resolves once the relay prints "ready"; its output is read to the end meanwhile. */
async function ready(child: Deno.ChildProcess): Promise<void> {
  let text = "";
  let done: () => void = () => {};
  const seen = new Promise<void>((resolve) => done = resolve);
  (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes("ready")) done();
    }
    done();
  })();
  child.stderr.cancel();
  await seen;
  if (!text.includes("ready")) throw new Error(`The TAP relay did not start: ${text}`);
}
