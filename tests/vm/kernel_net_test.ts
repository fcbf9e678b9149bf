/**
 * The comparison image (`--kernel-net`): the same guest with the kernel's own virtio-net driver and the
 * app on kernel sockets, which the benchmark measures our stack against. One boot; QEMU is killed by PID
 * in `finally` whatever happens.
 */

import assert from "node:assert/strict";
import { parseBootArgs, Vm } from "../../vm/boot.ts";
import { buildImage, imageEntries, parseImageArgs } from "../../vm/image.ts";
import { KERNEL_NET_MODULES, kernelNetModules } from "../../vm/kernel.ts";
import { kernelCmdline } from "../../vm/qemu.ts";

function freeTcpPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("--kernel-net: flags reach the builder, the runner and the kernel command line", async () => {
  assert.equal(parseImageArgs(["--kernel-net"]).kernelNet, true);
  assert.equal(parseImageArgs([]).kernelNet, undefined);
  assert.equal(parseBootArgs(["--kernel-net"]).kernelNet, true);
  const line = kernelCmdline("10.0.2.15/24", "10.0.2.2", "apps/http_echo.ts", [], {
    kernelNet: true,
  });
  assert.match(line, / KERNEL_NET=1 -- run /);
  assert.doesNotMatch(kernelCmdline("10.0.2.15/24", "10.0.2.2", "apps/http_echo.ts", []), /KERNEL/);
  // The driver's modules go to /lib/modules/net, numbered in the order init loads them.
  const kernel = (await buildImage({ app: "apps/http_echo.ts" })).kernel;
  const modules = kernelNetModules(kernel);
  assert.equal(modules.length, KERNEL_NET_MODULES.length);
  const paths = (await imageEntries("", [], modules)).map((e) => e.path)
    .filter((p) => p.startsWith("lib/modules/net/")).sort();
  assert.deepEqual(paths, [
    "lib/modules/net/01-virtio_ring.ko",
    "lib/modules/net/02-virtio.ko",
    "lib/modules/net/03-virtio_pci_modern_dev.ko",
    "lib/modules/net/04-virtio_pci_legacy_dev.ko",
    "lib/modules/net/05-virtio_pci.ko",
    "lib/modules/net/06-failover.ko",
    "lib/modules/net/07-net_failover.ko",
    "lib/modules/net/08-virtio_net.ko",
  ]);
  assert.deepEqual((await imageEntries("", [], [])).filter((e) => e.path.includes("net/0")), []);
});

Deno.test("--kernel-net image: the kernel's virtio_net driver serves the HTTP echo on kernel sockets", async (t) => {
  const port = freeTcpPort();
  const vm = await Vm.boot({
    app: "apps/http_echo.ts",
    kernelNet: true,
    port,
    echo: () => {},
    progress: () => {},
  });
  try {
    assert.ok(vm.image.initramfs.endsWith("initramfs-kernel-net.cpio.lz4"), vm.image.initramfs);
    await t.step("GET /health and POST /echo through the forwarded port", async () => {
      const health = await fetch(`${vm.url}health`);
      assert.equal(health.status, 200);
      assert.equal((await health.text()).trim(), "ok");
      const body = "kernel path ".repeat(1000);
      const echo = await fetch(`${vm.url}echo`, { method: "POST", body });
      assert.equal(echo.status, 200);
      assert.equal(await echo.text(), body);
    });
    await t.step("the kernel bound virtio-pci and configured eth0; the app runs on it", () => {
      const lines = vm.console;
      assert.ok(
        lines.includes("init: kernel virtio_net: eth0 10.0.2.15/24 via 10.0.2.2 is up"),
        vm.tail(),
      );
      assert.ok(lines.includes("init: net interfaces: eth0 lo"), vm.tail());
      assert.ok(lines.includes("init: pci 0000:00:03.0 1af4:1041 driver=virtio-pci"), vm.tail());
      assert.ok(
        lines.some((line) =>
          line.startsWith("http_echo listening on http://0.0.0.0:80/ (nic kernel)")
        ),
        vm.tail(),
      );
    });
    await t.step("powers off cleanly", async () => {
      const status = await vm.powerOff();
      assert.equal(status.code, 0, vm.tail());
      assert.ok(vm.console.includes("init: app exited with code 0; powering off"), vm.tail());
    });
  } finally {
    vm.kill();
    await vm.status;
  }
});
