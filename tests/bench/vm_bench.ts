/**
 * The VM's figures: image size, build time cold (fresh cache, kernel already downloaded) and warm
 * (nothing changed), and boot time from QEMU start to the app's first answer under the accelerator
 * `auto` picks (TCG here), for the driver-only echo and for the stack's UDP echo, plus the UDP round trip
 * through QEMU's user network. Throughput against the kernel's own virtio_net driver is not measured yet.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { Vm } from "../../vm/boot.ts";
import { buildImage } from "../../vm/image.ts";
import { chooseAccel } from "../../vm/qemu.ts";

async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function bootOnce(app: string, rounds: number): Promise<{ bootMs: number; rttMs?: number }> {
  const vm = await Vm.boot({ app, port: await freeUdpPort(), echo: () => {}, progress: () => {} });
  try {
    let rttMs: number | undefined;
    if (rounds > 0) {
      const times: number[] = [];
      const payload = new TextEncoder().encode("rtt");
      for (let i = 0; i < rounds; i++) {
        const start = performance.now();
        if (await Vm.udpExchange(vm.url, payload, 2000)) times.push(performance.now() - start);
      }
      rttMs = median(times);
    }
    const status = await vm.powerOff();
    if (status.code !== 0) throw new Error(`QEMU exited with ${status.code}: ${vm.tail(5)}`);
    return { bootMs: vm.bootMs, rttMs };
  } finally {
    vm.kill();
    await vm.status;
  }
}

/** Runs the VM benchmarks. */
export async function benchVm(): Promise<Record<string, number | string>> {
  const cached = await buildImage({ app: "apps/udp_echo.ts" });
  const cacheDir = await Deno.makeTempDir({ prefix: "vm_bench_" });
  let cold;
  let warm;
  try {
    cold = await buildImage({ kernel: cached.kernel, cacheDir });
    warm = await buildImage({ kernel: cached.kernel, cacheDir });
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
  const driverOnly = await bootOnce("vm/guest_echo.ts", 0);
  const stack = await bootOnce("apps/udp_echo.ts", 200);
  return {
    "accelerator": chooseAccel("auto"),
    "image lz4 (MB)": cold.imageBytes / 1e6,
    "image uncompressed cpio (MB)": cold.cpioBytes / 1e6,
    "build cold, kernel cached (s)": cold.seconds,
    // Sources edited by someone else between the two builds make the warm one a rebuild; say so.
    [
      warm.built
        ? "build warm (s; rebuilt: sources changed meanwhile)"
        : "build warm, nothing changed (s)"
    ]: warm.seconds,
    "boot to first answer, driver-only echo (s)": driverOnly.bootMs / 1000,
    "boot to first answer, apps/udp_echo.ts (s)": stack.bootMs / 1000,
    "UDP echo round trip via hostfwd, median of 200 (ms)": stack.rttMs ?? NaN,
    "throughput vs kernel virtio_net":
      "not measured yet (needs the kernel driver in a second image)",
  };
}

if (import.meta.main) {
  console.log(await benchVm());
}
