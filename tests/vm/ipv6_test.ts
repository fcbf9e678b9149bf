/**
 * IPv6 to the VM image. QEMU 7.2's user network (IPv6 on by default) advertises fec0::/64, and the guest
 * takes a SLAAC address from it; but its `hostfwd` parses both addresses as IPv4 (inet_aton in
 * net/slirp.c), so the host cannot reach the guest over IPv6 there. The host reaches the echo app over
 * IPv6 on a TAP instead: radvd advertises a private prefix, the guest takes SLAAC, and ping -6 and
 * curl -6 get answers. QEMU, radvd and the TAP are removed by PID / name in `finally`.
 */

import assert from "node:assert/strict";
import { QEMU } from "../../vm/qemu.ts";
import { Vm } from "../../vm/boot.ts";
import { Rng } from "../../stack/util/rng.ts";
import { freePort } from "./free_port.ts";

const quiet = { echo: () => {}, progress: () => {} };
const isRoot = Deno.uid() === 0;
const TAP = `vm6t${Deno.pid % 100000}`;
/** A ULA prefix of this test's own (RFC 4193), distinct from anything on the host's links. */
const PREFIX = "fd6b:7a3e:6::";
const HOST6 = `${PREFIX}1`;
/** How long the guest may take to print an address after the app answered over IPv4. */
const ADDRESS_WAIT_MS = 30_000;

/** Waits (bounded) for the app's `ipv6: address A/64 (origin)` line with `A` inside `prefix`. */
async function guestAddress(vm: Vm, prefix: string, origin: string): Promise<string> {
  const pattern = new RegExp(`^ipv6: address (${prefix}[0-9a-f:]+)/64 \\(${origin}\\)$`);
  const deadline = performance.now() + ADDRESS_WAIT_MS;
  while (performance.now() < deadline) {
    for (const line of vm.console) {
      const match = line.match(pattern);
      if (match) return match[1];
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`No ${origin} address in ${prefix}/64 was printed:\n${vm.tail()}`);
}

async function run(cmd: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `${cmd} ${args.join(" ")} failed:\n${text}`);
  return text;
}

async function ip(...args: string[]): Promise<void> {
  await run("ip", args);
}

async function assertCleanPowerOff(vm: Vm): Promise<void> {
  const status = await vm.powerOff();
  assert.equal(status.code, 0, vm.tail());
  assert.ok(
    vm.console.some((line) => /^init: app exited with code 0; powering off$/.test(line)),
    vm.tail(),
  );
}

Deno.test("QEMU 7.2's hostfwd refuses IPv6 addresses on either side (so IPv6 to the image goes over a TAP)", async () => {
  // -machine none: nothing boots; a rule QEMU accepted would leave it running, so it is killed after 10 s.
  for (
    const [rule, reason] of [
      ["tcp:[::1]:18080-:80", "Bad host address"],
      ["tcp:127.0.0.1:18080-[fec0::15]:80", "Bad guest address"],
    ]
  ) {
    const child = new Deno.Command(QEMU, {
      args: [
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-machine",
        "none",
        "-netdev",
        `user,id=n0,ipv6=on,restrict=on,hostfwd=${rule}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    clearTimeout(timer);
    assert.equal(status.signal, null, `QEMU accepted hostfwd=${rule}: IPv6 forwarding now exists`);
    assert.notEqual(status.code, 0);
    assert.match(stderr, new RegExp(`Invalid host forwarding rule .*\\(${reason}\\)`));
  }
});

Deno.test("http_echo in the VM on QEMU's user network: takes a SLAAC address in fec0::/64, IPv4 forward still answers", async () => {
  const port = await freePort();
  const vm = await Vm.boot({ app: "apps/http_echo.ts", port, ...quiet });
  try {
    // libslirp sends its RAs for fec0::/64 (the default ipv6-prefix); the guest answers the solicited one.
    const address = await guestAddress(vm, "fec0::", "slaac");
    assert.match(address, /^fec0::[0-9a-f]{1,4}(:[0-9a-f]{1,4}){3}$/);
    assert.ok(
      vm.console.some((line) => /^ipv6: address fe80::[0-9a-f:]+\/64 \(link-local\)$/.test(line)),
      vm.tail(),
    );
    const response = await fetch(`${vm.url}health`);
    assert.equal(await response.text(), "ok\n");
    await assertCleanPowerOff(vm);
  } finally {
    vm.kill();
    await vm.status;
  }
});

Deno.test({
  name:
    "http_echo in the VM on a TAP: SLAAC from radvd, ping -6 and curl -6 (GET, POST byte-exact)",
  ignore: !isRoot,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vm_ipv6_" });
    // RAs every 3-4 s, answered at once when solicited; lifetime 0: the host is no default router.
    await Deno.writeTextFile(
      `${dir}/radvd.conf`,
      `interface ${TAP} {
  AdvSendAdvert on;
  IgnoreIfMissing on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvDefaultLifetime 0;
  prefix ${PREFIX}/64 { AdvOnLink on; AdvAutonomous on; };
};
`,
    );
    await ip("link", "del", TAP).catch(() => {});
    await ip("tuntap", "add", "dev", TAP, "mode", "tap");
    let radvd: Deno.ChildProcess | undefined;
    let vm: Vm | undefined;
    try {
      await ip("addr", "add", "10.213.78.1/24", "dev", TAP);
      // nodad: the TAP has no carrier until QEMU opens it, which would hold the address tentative.
      await ip("-6", "addr", "add", `${HOST6}/64`, "dev", TAP, "nodad");
      await ip("link", "set", TAP, "up");
      radvd = new Deno.Command("radvd", {
        args: ["-C", `${dir}/radvd.conf`, "-p", `${dir}/radvd.pid`, "-n", "-m", "stderr"],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const radvdLog = new Response(radvd.stderr).text();
      vm = await Vm.boot({
        app: "apps/http_echo.ts",
        tap: TAP,
        guestAddress: "10.213.78.2/24",
        gateway: "10.213.78.1",
        ...quiet,
      });
      const address = await guestAddress(vm, PREFIX.replace(/::$/, ":0:"), "slaac")
        .catch(async (error) => {
          radvd?.kill("SIGTERM");
          throw new Error(`${error.message}\nradvd:\n${await radvdLog}`);
        });
      assert.match(
        await run("ping", ["-6", "-c", "3", "-i", "0.2", "-W", "3", address]),
        / 3 received, 0% packet loss/,
      );
      const url = `http://[${address}]`;
      assert.equal(
        await run("curl", ["-6", "-sS", "-m", "20", `${url}/`]),
        "Hello from the Deno TCP/IP stack! Try /echo, /json or /health.\n",
      );
      const body = new Uint8Array(100_000);
      new Rng(6).fill(body);
      await Deno.writeFile(`${dir}/body`, body);
      const headers = await run("curl", [
        "-6",
        "-sS",
        "-m",
        "60",
        "-D",
        "-",
        "-o",
        `${dir}/echo`,
        "-H",
        "content-type: application/x-ipv6-test",
        "--data-binary",
        `@${dir}/body`,
        `${url}/echo`,
      ]);
      assert.match(headers, /^HTTP\/1\.1 200 /);
      assert.match(headers, /^content-type: application\/x-ipv6-test\r?$/im);
      assert.deepEqual(await Deno.readFile(`${dir}/echo`), body);
      // The app sees the client's IPv6 address: /json reflects the Host header curl sent.
      const json = JSON.parse(await run("curl", ["-6", "-sS", "-m", "20", `${url}/json?v=6`]));
      assert.equal(json.headers.host, `[${address}]`);
      assert.deepEqual(json.query, { v: "6" });
      // The link-local address answers too, scoped to the TAP.
      const linkLocal = await guestAddress(vm, "fe80::", "link-local");
      assert.equal(
        await run("curl", ["-6", "-sS", "-m", "20", `http://[${linkLocal}%25${TAP}]/health`]),
        "ok\n",
      );
      await assertCleanPowerOff(vm);
    } finally {
      vm?.kill();
      await vm?.status;
      if (radvd !== undefined) {
        try {
          radvd.kill("SIGTERM");
        } catch {
          // Already stopped.
        }
        await radvd.status;
      }
      await ip("link", "del", TAP).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
