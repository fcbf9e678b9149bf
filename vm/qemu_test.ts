import assert from "node:assert/strict";
import { chooseAccel, fastFirmware, kernelCmdline, parseMemory, qemuArgs } from "./qemu.ts";

Deno.test("parseMemory reads M, G and plain MiB and rejects the rest", () => {
  assert.equal(parseMemory("512M"), 512);
  assert.equal(parseMemory("1G"), 1024);
  assert.equal(parseMemory("384"), 384);
  assert.throws(() => parseMemory("lots"), /not a size such as 512M/);
});

Deno.test("kernelCmdline keeps only KEY=VAL words before -- and carries ip=, APP= and APP_ARGS=", () => {
  const line = kernelCmdline("10.0.2.15/24", "10.0.2.2", "apps/udp_echo.ts", ["--nic", "virtio"]);
  const [before, after] = line.split(" -- ");
  for (const word of before.split(" ")) {
    assert.ok(word.includes("=") || word === "quiet", `bare word '${word}' would reach deno`);
  }
  assert.match(before, /ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0/);
  assert.match(before, / APP=apps\/udp_echo\.ts APP_ARGS=--nic,virtio$/);
  assert.throws(
    () => kernelCmdline("10.0.2.15/24", "10.0.2.2", "a.ts", ["a b"]),
    /cannot pass the kernel/,
  );
  assert.equal(after, "run -A --v8-flags=--no-lazy --no-config --cached-only /app/vm/init.ts");
  assert.match(
    kernelCmdline("192.168.7.2/20", "192.168.0.1", "a.ts", []),
    /:255\.255\.240\.0 APP=a\.ts --/,
  );
  const flagged = kernelCmdline("10.0.2.15/24", "10.0.2.2", "a.ts", [], {
    interrupts: true,
    kernelNet: true,
    v8Prof: true,
  });
  assert.match(flagged, / VIRTIO_IRQ=1 KERNEL_NET=1 V8_PROF=1 --/);
  assert.ok(!line.includes("V8_PROF"), "no profile unless asked");
});

Deno.test("qemuArgs forwards only from 127.0.0.1 (restrict=on unless UDP needs it off), and picks the CPU per accelerator", () => {
  const base = {
    kernel: "k",
    initramfs: "i",
    memoryMiB: 512,
    guestAddress: "10.0.2.15/24",
    gateway: "10.0.2.2",
    monitor: "/tmp/m.sock",
    app: "apps/udp_echo.ts",
    appArgs: [],
  };
  const args = qemuArgs({
    ...base,
    accel: "tcg",
    network: { kind: "user", protocol: "tcp", hostPort: 5555, guestPort: 80 },
  });
  assert.ok(args.includes("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:5555-:80"));
  const udp = qemuArgs({
    ...base,
    accel: "tcg",
    network: { kind: "user", protocol: "udp", hostPort: 5555, guestPort: 7, restrict: false },
  });
  assert.ok(udp.includes("user,id=n0,restrict=off,hostfwd=udp:127.0.0.1:5555-:7"));
  assert.equal(args[args.indexOf("-cpu") + 1], "qemu64,+rdrand");
  assert.ok(args.includes("virtio-net-pci,netdev=n0,disable-legacy=on,romfile=,addr=03"));
  const kvm = qemuArgs({ ...base, accel: "kvm", network: { kind: "tap", ifname: "tap9" } });
  assert.equal(kvm[kvm.indexOf("-cpu") + 1], "host");
  assert.ok(kvm.includes("tap,id=n0,ifname=tap9,script=no,downscript=no"));
});

Deno.test("qboot when given; the command line skips the crypto self-tests, and the APIC calibration for HZ=250 kernels", () => {
  const base = {
    initramfs: "i",
    accel: "tcg" as const,
    memoryMiB: 512,
    network: { kind: "tap" as const, ifname: "tap9" },
    guestAddress: "10.0.2.15/24",
    gateway: "10.0.2.2",
    monitor: "/tmp/m.sock",
    app: "apps/udp_echo.ts",
    appArgs: [],
  };
  const append = (kernel: string) => {
    const args = qemuArgs({ ...base, kernel });
    return args[args.indexOf("-append") + 1].split(" -- ")[0].split(" ");
  };
  const debian = append("/x/vm/.cache/kernel/vmlinuz-6.1.0-56-cloud-amd64");
  assert.ok(debian.includes("cryptomgr.notests=1"));
  assert.ok(debian.includes("init_on_alloc=0"));
  assert.ok(debian.includes("lapic_timer_period=4000000"));
  const withBios = qemuArgs({ ...base, kernel: "k", bios: "/q/qboot.rom" });
  assert.equal(withBios[withBios.indexOf("-bios") + 1], "/q/qboot.rom");
  assert.ok(!qemuArgs({ ...base, kernel: "k" }).includes("-bios"));
  assert.equal(fastFirmware("/nonexistent/qboot.rom"), undefined);
  const smp = qemuArgs({ ...base, kernel: "k", cpus: 2 });
  assert.equal(smp[smp.indexOf("-smp") + 1], "2");
  assert.ok(!qemuArgs({ ...base, kernel: "k", cpus: 1 }).includes("-smp"));
  const other = append("/boot/my-kernel");
  assert.ok(other.includes("cryptomgr.notests=1"));
  assert.ok(!other.some((word) => word.startsWith("lapic_timer_period=")), other.join(" "));
});

Deno.test("chooseAccel uses TCG without vmx/svm and validates the option", () => {
  const plain = "flags\t\t: fpu vme de pse tsc msr pae\n";
  const vmx = "flags\t\t: fpu vme vmx de pse\n";
  assert.equal(chooseAccel("auto", plain), "tcg");
  assert.equal(chooseAccel("auto", vmx), "kvm");
  assert.equal(chooseAccel("tcg", vmx), "tcg");
  assert.throws(() => chooseAccel("kvm", plain), /needs vmx or svm/);
  assert.throws(() => chooseAccel("fast", plain), /must be auto, kvm or tcg/);
});
