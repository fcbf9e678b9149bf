/**
 * The VM end to end, under whatever accelerator `auto` picks (TCG on machines without vmx/svm): build the
 * image, boot it once per app, talk to the app through the forwarded host port, read the console for the
 * guest's own checks (no kernel NIC, no driver bound), and power off cleanly. QEMU is killed by PID in
 * `finally` whatever happens.
 */

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { DatabaseSync } from "node:sqlite";
import { emitCacheEntries } from "../../vm/deno_cache.ts";
import { buildImage, resolveApp } from "../../vm/image.ts";
import { minimumMemoryMiB, parseBootArgs, Vm } from "../../vm/boot.ts";
import { freePort } from "./free_port.ts";
import { Rng } from "../../stack/util/rng.ts";
import { summarizeTicks } from "../bench/v8_ticks.ts";

const quiet = { echo: () => {}, progress: () => {} };

function assertGuestChecks(vm: Vm): void {
  const lines = vm.console;
  assert.ok(lines.includes("init: net interfaces: lo"), `no kernel NIC expected:\n${vm.tail()}`);
  assert.ok(
    lines.some((line) => /^init: pci \S+ 1af4:1041 driver=none$/.test(line)),
    `the NIC must have no kernel driver:\n${vm.tail()}`,
  );
}

async function assertCleanPowerOff(vm: Vm): Promise<void> {
  const status = await vm.powerOff();
  assert.equal(status.code, 0, vm.tail());
  assert.ok(vm.console.some((line) => line.startsWith("init: power-off requested")), vm.tail());
  assert.ok(
    vm.console.some((line) => /^init: app exited with code 0; powering off$/.test(line)),
    vm.tail(),
  );
  assert.ok(vm.console.some((line) => line.includes("reboot: Power down")), vm.tail());
}

Deno.test("UDP echo app in the VM (interrupt mode): echoes through the forwarded port, clean power-off", async (t) => {
  const port = await freePort("udp");
  // This boot also covers interrupt mode (uio_pci_generic); the HTTP and TAP boots cover polling.
  const vm = await Vm.boot({ app: "apps/udp_echo.ts", port, interrupts: true, ...quiet });
  try {
    assert.equal(vm.url, `udp://127.0.0.1:${port}`);
    await t.step("echoes datagrams of several sizes byte for byte", async () => {
      for (const size of [1, 64, 512, 1400]) {
        const payload = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff);
        const answer = await Vm.udpExchange(vm.url, payload, 5000);
        assert.deepEqual(answer, payload, `size ${size}`);
      }
    });
    await t.step("answers 16 senders at once", async () => {
      const payloads = Array.from(
        { length: 16 },
        (_, i) => new TextEncoder().encode(`sender ${i}`),
      );
      const answers = await Promise.all(payloads.map((p) => Vm.udpExchange(vm.url, p, 8000)));
      assert.deepEqual(answers, payloads);
    });
    await t.step("the guest reports no kernel network interface and no driver on the NIC", () => {
      assertGuestChecks(vm);
      assert.ok(
        vm.console.some((line) => line.startsWith("udp_echo listening on 10.0.2.15:7")),
        vm.tail(),
      );
    });
    await t.step("powers off cleanly", () => assertCleanPowerOff(vm));
    await t.step("the driver slept on interrupts from uio_pci_generic while idle", () => {
      assert.ok(
        vm.console.includes("init: pci 0000:00:03.0 1af4:1041 driver=uio_pci_generic"),
        vm.tail(),
      );
      const counters = vm.console.find((line) => /^\s+nic: .*interrupts=\d+/.test(line)) ?? "";
      assert.ok(Number(counters.match(/interrupts=(\d+)/)?.[1] ?? 0) > 0, vm.tail());
    });
  } finally {
    vm.kill();
    await vm.status;
  }
});

/** Runs curl with `args`; resolves to its standard output, throwing with its stderr when it fails. */
async function curl(args: string[]): Promise<string> {
  const output = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "60", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  if (!output.success) throw new Error(`curl ${args.join(" ")}: ${text(output.stderr)}`);
  return text(output.stdout);
}

Deno.test("HTTP echo app in the VM: curl GET, byte-exact POST, 200 keep-alive requests, 20 concurrent connections", async (t) => {
  const port = await freePort("tcp");
  const vm = await Vm.boot({ app: "apps/http_echo.ts", port, ...quiet });
  const dir = await Deno.makeTempDir({ prefix: "vm_http_test_" });
  try {
    assert.equal(vm.url, `http://127.0.0.1:${port}/`);
    await t.step("GET", async () => {
      assert.equal(await curl([`${vm.url}health`]), "ok\n");
      assert.match(await curl([`${vm.url}`]), /^Hello from the Deno TCP\/IP stack!/);
    });
    await t.step("POST /echo returns the body byte-exact", async () => {
      // Random bytes (seeded), every byte value, several segments long.
      const body = new Uint8Array(150_000);
      new Rng(6).fill(body);
      await Deno.writeFile(`${dir}/body`, body);
      const status = await curl([
        "-H",
        "content-type: application/octet-stream",
        "--data-binary",
        `@${dir}/body`,
        "-o",
        `${dir}/echoed`,
        "-w",
        "%{http_code}",
        `${vm.url}echo`,
      ]);
      assert.equal(status, "200");
      assert.deepEqual(await Deno.readFile(`${dir}/echoed`), body);
    });
    await t.step("200 sequential keep-alive requests on one connection", async () => {
      // One curl, 200 URLs (a glob): it reuses the connection, so only the first transfer connects.
      const lines = (await curl([
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{num_connects}\n",
        `${vm.url}health?n=[1-200]`,
      ])).trim().split("\n");
      assert.equal(lines.length, 200);
      assert.ok(lines.every((line) => line.startsWith("200 ")), lines.join(", "));
      const connects = lines.reduce((sum, line) => sum + Number(line.split(" ")[1]), 0);
      assert.equal(connects, 1, "every request after the first on the same connection");
    });
    await t.step("20 concurrent connections", async () => {
      const lines = (await curl([
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "20",
        "-o",
        `${dir}/json_#1`,
        "-w",
        "%{http_code} %{num_connects}\n",
        `${vm.url}json?i=[0-19]`,
      ])).trim().split("\n");
      assert.equal(lines.length, 20);
      assert.ok(lines.every((line) => line === "200 1"), `each on its own connection: ${lines}`);
      for (let i = 0; i < 20; i++) {
        const json = JSON.parse(await Deno.readTextFile(`${dir}/json_${i}`));
        assert.equal(json.query.i, String(i));
      }
    });
    await t.step("the guest reports no kernel network interface and no driver on the NIC", () => {
      assertGuestChecks(vm);
    });
    await t.step("powers off cleanly", () => assertCleanPowerOff(vm));
  } finally {
    vm.kill();
    await vm.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a profiled guest (--v8-prof) hands V8's log of the app to the host", async () => {
  const port = await freePort("tcp");
  const file = await Deno.makeTempFile({ prefix: "vm_v8_prof_" });
  const vm = await Vm.boot({ app: "apps/http_echo.ts", port, v8Prof: file, ...quiet });
  try {
    for (let i = 0; i < 50; i++) assert.equal(await curl([`${vm.url}health`]), "ok\n");
    await assertCleanPowerOff(vm);
    const summary = summarizeTicks(await Deno.readTextFile(file));
    assert.ok(summary.total > 100, `${summary.total} ticks`);
    // The app's own code was sampled, and the log stayed off the console.
    assert.ok(summary.innermostJs.some((c) => c.name.includes("file:///app/stack/")));
    assert.ok(!vm.console.some((line) => line.startsWith("tick,")));
  } finally {
    vm.kill();
    await vm.status;
    await Deno.remove(file);
  }
});

const TAP = `vmt${Deno.pid % 100000}`;
const isRoot = Deno.uid() === 0;

async function ip(...args: string[]): Promise<void> {
  const output = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

Deno.test({
  name: "UDP echo app on a TAP: answers ARP (arping), ping and UDP from the host",
  ignore: !isRoot,
  async fn() {
    // A private /24 on a TAP this test creates and removes; traffic only goes to the guest.
    await ip("link", "del", TAP).catch(() => {});
    await ip("tuntap", "add", "dev", TAP, "mode", "tap");
    let vm: Vm | undefined;
    try {
      await ip("addr", "add", "10.213.77.1/24", "dev", TAP);
      await ip("link", "set", TAP, "up");
      vm = await Vm.boot({
        app: "apps/udp_echo.ts",
        tap: TAP,
        guestAddress: "10.213.77.2/24",
        gateway: "10.213.77.1",
        ...quiet,
      });
      assert.equal(vm.url, "udp://10.213.77.2:7");
      assert.match(
        await run("arping", ["-c", "2", "-w", "5", "-I", TAP, "10.213.77.2"]),
        /Received 2 response/,
      );
      assert.match(
        await run("ping", ["-c", "3", "-i", "0.2", "-W", "3", "10.213.77.2"]),
        / 3 received, 0% packet loss/,
      );
      const payload = new Uint8Array(1400).map((_, i) => i & 0xff);
      assert.deepEqual(await Vm.udpExchange(vm.url, payload, 5000), payload);
      await assertCleanPowerOff(vm);
    } finally {
      vm?.kill();
      await vm?.status;
      await ip("link", "del", TAP).catch(() => {});
    }
  },
});

Deno.test("image builds are incremental and reproducible", async () => {
  const kernel = (await buildImage({ app: "apps/udp_echo.ts" })).kernel;
  const digest = async (path: string) =>
    Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))));
  // Uncompressed builds keep this quick (lz4 and zstd are deterministic for the same input). While
  // others edit the shared tree a source may change between two builds, which the stamps' input hashes
  // reveal; such an attempt is repeated.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dirs = [
      await Deno.makeTempDir({ prefix: "vm_image_a_" }),
      await Deno.makeTempDir({ prefix: "vm_image_b_" }),
    ];
    try {
      const a = await buildImage({ kernel, cacheDir: dirs[0], compress: "none" });
      const again = await buildImage({ kernel, cacheDir: dirs[0], compress: "none" });
      const b = await buildImage({ kernel, cacheDir: dirs[1], compress: "none" });
      const stamps = await Promise.all(
        [a, b].map((r) => Deno.readTextFile(`${r.initramfs}.inputs`)),
      );
      if (again.built || stamps[0] !== stamps[1]) continue;
      assert.ok(a.built && b.built);
      assert.equal(again.initramfs, a.initramfs);
      assert.deepEqual(
        await digest(a.initramfs),
        await digest(b.initramfs),
        "same inputs, same bytes",
      );
      return;
    } finally {
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  }
  assert.fail("the sources changed during every attempt");
});

Deno.test("the image vendors npm packages and transpiled modules into the guest's DENO_DIR", async () => {
  const emitDir = await Deno.makeTempDir({ prefix: "vm_emit_test_" });
  try {
    const lines: string[] = [];
    const entries = await emitCacheEntries(
      ["apps/hono_example.ts", "apps/no_such_module.ts"],
      emitDir,
      (line) => lines.push(line),
    );
    const paths = entries.map((entry) => entry.path);
    assert.ok(paths.includes("var/deno/gen/file/app/apps/hono_example.ts.js"), paths.join("\n"));
    assert.ok(paths.includes("var/deno/gen/file/app/stack/nic/virtio/net.ts.js"));
    assert.ok(
      paths.some((p) =>
        /^var\/deno\/npm\/registry\.npmjs\.org\/hono\/[\d.]+\/package\.json$/.test(p)
      ),
    );
    assert.ok(paths.includes("var/deno/npm/registry.npmjs.org/hono/registry.json"));
    // The app as one file (vm/bundle.ts), with V8's code cache for it where the guest sees it.
    const bundle = entries.find((entry) => entry.path === "app/bundle/apps/hono_example.js");
    assert.ok(bundle?.kind === "file" && bundle.source instanceof Uint8Array, paths.join("\n"));
    assert.match(new TextDecoder().decode(bundle.source), /export\s*\{[^}]*\bmain\b/);
    const codeCache = entries.find((entry) => entry.path === "var/deno/v8_code_cache_v2");
    assert.ok(codeCache?.kind === "file" && codeCache.source instanceof Uint8Array);
    const database = `${emitDir}/code_cache_copy`;
    await Deno.writeFile(database, codeCache.source);
    const db = new DatabaseSync(database, { readOnly: true });
    try {
      const rows = db.prepare("SELECT specifier FROM codecache").all() as { specifier: string }[];
      assert.ok(
        rows.some((row) => row.specifier === "file:///app/bundle/apps/hono_example.js"),
        rows.map((row) => row.specifier).join("\n"),
      );
    } finally {
      db.close();
    }
    assert.ok(
      lines.some((line) => line.includes("apps/no_such_module.ts not cached")),
      lines.join("\n"),
    );
  } finally {
    await Deno.remove(emitDir, { recursive: true });
  }
});

Deno.test("builder and runner reject bad input with clear messages", async () => {
  assert.throws(
    () => resolveApp("apps/no_such_app.ts"),
    /App file not found: apps\/no_such_app\.ts/,
  );
  assert.throws(() => resolveApp("/etc/hostname"), /outside the project/);
  await assert.rejects(buildImage({ app: "apps/missing.ts" }), /App file not found/);
  await assert.rejects(
    buildImage({ compress: "xz" as "lz4" }),
    /Unknown compression 'xz': expected lz4, zstd or none/,
  );
  await assert.rejects(buildImage({ kernel: "/nonexistent/vmlinuz" }), /Kernel file not found/);
  assert.throws(() => parseBootArgs(["--accel", "fast"]), /--accel must be auto, kvm or tcg/);
  assert.throws(() => parseBootArgs(["--memory", "lots"]), /not a size such as 512M/);
  assert.throws(() => parseBootArgs(["--port", "70000"]), /--port must be a port number/);
  assert.throws(() => parseBootArgs(["--protocol", "ftp"]), /--protocol must be http or udp/);
  assert.throws(() => parseBootArgs(["--bogus"]), /Unknown option '--bogus'/);
  assert.equal(parseBootArgs(["--port", "9000", "--accel", "tcg"]).port, 9000);
  assert.throws(() => parseBootArgs(["--cpus", "0"]), /--cpus must be a number of CPUs/);
  assert.equal(parseBootArgs(["--cpus", "2"]).cpus, 2);
  assert.equal(parseBootArgs([]).cpus, undefined);
  await assert.rejects(
    Vm.boot({ memory: "128M", ...quiet }),
    /--memory 128M is too little.* use \d+M/,
  );
  assert.ok(minimumMemoryMiB(100e6) > 256);
  await assert.rejects(
    Vm.boot({ tap: "no-such-tap0", ...quiet }),
    /TAP interface no-such-tap0 does not exist/,
  );
  await assert.rejects(
    Vm.boot({ v8Prof: "/no-such-dir/prof.log", ...quiet }),
    /Cannot write the V8 profile to \/no-such-dir\/prof\.log/,
  );
  assert.equal(parseBootArgs(["--v8-prof", "p.log"]).v8Prof, "p.log");
});

Deno.test("the runner refuses a host port that is in use", async () => {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  try {
    const port = socket.address().port;
    await assert.rejects(
      Vm.boot({ app: "apps/udp_echo.ts", port, ...quiet }),
      new RegExp(`Host port ${port} \\(udp\\) is already in use`),
    );
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
});
