/**
 * The guest's init: deno runs it as PID 1 (`rdinit=/bin/deno ... -- run -A --no-config /app/vm/init.ts`).
 * It mounts the pseudo file systems over FFI, reserves hugepages for the driver's DMA memory, shows that
 * the kernel has no network interface besides lo and that no driver is bound to the NIC, runs the app named
 * by APP= (arguments in APP_ARGS=, comma-separated) on the kernel command line, inside this deno when it
 * exports `main(args)` (else as a child process), and powers the machine off when the app exits. Ctrl-Alt-Del (QEMU's
 * `sendkey ctrl-alt-delete`, sent by `deno task boot` on Ctrl-C) asks the app to stop first.
 *
 * PID 1 must never exit (the kernel panics), so every failure ends in a power-off instead.
 *
 * @module
 */

import { PROFILE_BEGIN, PROFILE_END, PROFILE_LOG } from "./guest_profile.ts";

const libc = Deno.dlopen("libc.so.6", {
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "pointer"], result: "i32" },
  reboot: { parameters: ["i32"], result: "i32" },
  sync: { parameters: [], result: "void" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "buffer", "i64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
});

const RB_POWER_OFF = 0x4321fedc;
const SYS_FINIT_MODULE = 313n;
const O_RDONLY_CLOEXEC = 0o2000000;
const RB_DISABLE_CAD = 0;
const STOP_GRACE_MS = 3000;

function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text + "\0");
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}

function errno(): number {
  const where = libc.symbols.__errno_location();
  return where === null ? 0 : new Deno.UnsafePointerView(where).getInt32();
}

function log(message: string): void {
  console.log(`init: ${message}`);
}

function mount(source: string, target: string, type: string, required: boolean): void {
  const rc = libc.symbols.mount(cString(source), cString(target), cString(type), 0n, null);
  if (rc !== 0) {
    const message = `cannot mount ${type} on ${target} (errno ${errno()})`;
    if (required) throw new Error(message);
    log(message);
  }
}

function powerOff(): never {
  libc.symbols.sync();
  libc.symbols.reboot(RB_POWER_OFF);
  // reboot(2) does not return on success; if it did, wait rather than let PID 1 exit.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "";
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The network settings from the kernel command line's `ip=client::gateway:netmask` (nfsroot style). */
function networkFromCmdline(): { address: string; gateway: string } {
  const word = readText("/proc/cmdline").split(/\s+/).find((w) => w.startsWith("ip=")) ??
    `ip=${Deno.env.get("ip") ?? ""}`;
  const [client, , gateway, netmask] = word.slice(3).split(":");
  if (!client) return { address: "", gateway: "" };
  const prefix = (netmask || "255.255.255.0").split(".").reduce(
    (bits, octet) => bits + (Number(octet) >>> 0).toString(2).replace(/0/g, "").length,
    0,
  );
  return { address: `${client}/${prefix}`, gateway: gateway ?? "" };
}

/** Loads a kernel module from the image with finit_module(2) (there is no modprobe). */
function loadModule(path: string): void {
  const fd = libc.symbols.open(cString(path), O_RDONLY_CLOEXEC, 0);
  if (fd < 0) throw new Error(`cannot open ${path} (errno ${errno()})`);
  const rc = libc.symbols.syscall(SYS_FINIT_MODULE, BigInt(fd), cString(""), 0n);
  const code = errno();
  libc.symbols.close(fd);
  if (rc !== 0n && code !== 17) throw new Error(`cannot load ${path} (errno ${code})`); // 17: EEXIST
}

/**
 * Interrupt mode (VIRTIO_IRQ=1): hands the virtio-net card's INTx line to user space through
 * uio_pci_generic, a stub that drives nothing; the stack's driver then sleeps on /dev/uioN when idle.
 */
function bindUio(): void {
  loadModule("/lib/modules/uio.ko");
  loadModule("/lib/modules/uio_pci_generic.ko");
  for (const id of ["1af4 1041", "1af4 1000"]) {
    try {
      Deno.writeTextFileSync("/sys/bus/pci/drivers/uio_pci_generic/new_id", id);
    } catch {
      // Already known, or no such device.
    }
  }
  log("uio_pci_generic loaded: the NIC's interrupts go to user space");
}

/** Lists /sys/class/net and the drivers bound to virtio PCI devices, as lines tests can read. */
function reportNetworking(): void {
  const interfaces = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).sort();
  log(`net interfaces: ${interfaces.join(" ") || "(none)"}`);
  for (
    const entry of [...Deno.readDirSync("/sys/bus/pci/devices")].sort((a, b) =>
      a.name < b.name ? -1 : 1
    )
  ) {
    const folder = `/sys/bus/pci/devices/${entry.name}`;
    const vendor = readText(`${folder}/vendor`).replace(/^0x/, "");
    if (vendor !== "1af4") continue;
    const device = readText(`${folder}/device`).replace(/^0x/, "");
    // No driver link: no kernel driver owns the device, which is what the stack needs. Looked up
    // rather than read and caught: the process's first exception costs ~45 ms of boot under TCG.
    const bound = [...Deno.readDirSync(folder)].some((e) => e.name === "driver");
    const driver = bound ? Deno.readLinkSync(`${folder}/driver`).split("/").pop() ?? "?" : "none";
    log(`pci ${entry.name} ${vendor}:${device} driver=${driver}`);
  }
}

async function main(): Promise<void> {
  // Milliseconds since deno's process started: its own start-up and the loading of this module.
  const denoStartupMs = performance.now();
  // /proc first: Deno.execPath() reads /proc/self/exe.
  mount("proc", "/proc", "proc", true);
  mount("sysfs", "/sys", "sysfs", true);
  mount("devtmpfs", "/dev", "devtmpfs", true);
  mount("tmpfs", "/tmp", "tmpfs", false);
  Deno.mkdirSync("/dev/hugepages", { recursive: true });
  mount("hugetlbfs", "/dev/hugepages", "hugetlbfs", false);
  try {
    Deno.writeTextFileSync("/proc/sys/vm/nr_hugepages", "2");
  } catch {
    log("no hugepages; the driver falls back to locked 4 KiB pages");
  }
  libc.symbols.reboot(RB_DISABLE_CAD); // Ctrl-Alt-Del now sends SIGINT to PID 1 instead of rebooting
  const uptime = readText("/proc/uptime").split(" ")[0];
  log(
    `kernel ${readText("/proc/sys/kernel/osrelease")}, up ${uptime} s, hugepages ${
      readText("/proc/sys/vm/nr_hugepages")
    }, deno start-up ${(denoStartupMs / 1000).toFixed(2)} s`,
  );
  reportNetworking();
  if (Deno.env.get("VIRTIO_IRQ") === "1") {
    bindUio();
    reportNetworking();
  }

  const app = Deno.env.get("APP");
  if (!app) throw new Error("no APP= on the kernel command line");
  const net = networkFromCmdline();
  if (Deno.env.get("KERNEL_NET") === "1") {
    // The comparison guest: the kernel's own driver and TCP/IP, for apps run with --nic kernel.
    const { bringUpKernelNet } = await import("./kernel_net.ts");
    log(bringUpKernelNet(net.address, net.gateway));
    reportNetworking();
  }
  const args = (Deno.env.get("APP_ARGS") ?? "").split(",").filter((arg) => arg !== "").map((arg) =>
    arg.replaceAll("{address}", net.address).replaceAll("{gateway}", net.gateway)
  );
  log(`starting ${app} ${args.join(" ")}`);
  // A profiled app runs as a child: V8 writes the end of its log only when its process exits.
  const profile = Deno.env.get("V8_PROF") === "1";
  const code = hasMain(`/app/${app}`) && !profile
    ? await runInProcess(app, args, net)
    : await runChild(app, args, net, profile ? PROFILE_V8_FLAGS : "");
  log(`app exited with code ${code}; powering off`);
  if (profile) dumpProfile();
}

/** V8 flags of a profiled app (`deno task boot --v8-prof FILE`): a sample every ms into /tmp. */
const PROFILE_V8_FLAGS = `,--prof,--logfile=${PROFILE_LOG},--no-logfile-per-isolate`;

/** Copies the profile to the console between the markers the host's boot.ts cuts it out by. */
function dumpProfile(): void {
  let text: string;
  try {
    text = Deno.readTextFileSync(PROFILE_LOG);
  } catch (error) {
    log(`no V8 profile: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  console.log(PROFILE_BEGIN);
  const encoder = new TextEncoder();
  // Whole lines at a time, in pieces the serial console takes without one huge write.
  for (let at = 0; at < text.length;) {
    let end = text.indexOf("\n", at + 65536);
    end = end === -1 ? text.length : end + 1;
    Deno.stdout.writeSync(encoder.encode(text.slice(at, end)));
    at = end;
  }
  console.log(`\n${PROFILE_END}`);
}

/** True when the app exports `main(args)`, so init can run it without a second deno (see runInProcess). */
function hasMain(path: string): boolean {
  return /^export (async )?function main\(/m.test(readText(path));
}

/**
 * Runs the app inside init's own deno: a second deno process costs seconds of start-up under TCG (the
 * runtime, then every module compiled again). Apps export `main(args)` and only call it themselves when
 * they are the main module. The app watches SIGINT/SIGTERM itself; init gives it a grace period to
 * stop, then powers off regardless, since nothing can kill code running in PID 1.
 */
async function runInProcess(
  app: string,
  args: string[],
  net: { address: string; gateway: string },
): Promise<number> {
  Deno.env.set("STACK_ADDRESS", net.address);
  Deno.env.set("STACK_GATEWAY", net.gateway);
  Deno.addSignalListener("SIGINT", () => {
    log("power-off requested, stopping the app");
    setTimeout(() => {
      log("the app did not stop in time; powering off");
      powerOff();
    }, STOP_GRACE_MS);
  });
  // Deno.exit in PID 1 would panic the kernel: an app that calls it powers the machine off instead.
  (Deno as { exit: (code?: number) => never }).exit = (code = 0) => {
    log(`app exited with code ${code}; powering off`);
    powerOff();
  };
  try {
    const loading = performance.now();
    // The image's one-file bundle of the app (vm/bundle.ts) loads far faster than its ~130 modules.
    const bundle = `/app/bundle/${app.replace(/\.(ts|js|mjs)$/, "")}.js`;
    const bundled = isFile(bundle);
    const module = await import(bundled ? `file://${bundle}` : `file:///app/${app}`);
    log(
      `${app} loaded in ${((performance.now() - loading) / 1000).toFixed(2)} s (${
        bundled ? "bundle" : "modules"
      })`,
    );
    const code = await module.main(args);
    return typeof code === "number" ? code : 0;
  } catch (error) {
    log(`app failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** Runs an app without `main` (such as vm/guest_echo.ts, which reads Deno.args) as a child process. */
async function runChild(
  app: string,
  args: string[],
  net: { address: string; gateway: string },
  extraV8Flags = "",
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    // --cached-only: npm packages were vendored into DENO_DIR at build time; there is no network to fetch.
    // The V8 flags of init's own deno (qemu.ts), under which the image's code cache was made.
    args: [
      "run",
      "-A",
      `--v8-flags=--no-lazy${extraV8Flags}`,
      "--no-config",
      "--cached-only",
      `/app/${app}`,
      ...args,
    ],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    env: { STACK_ADDRESS: net.address, STACK_GATEWAY: net.gateway },
  }).spawn();
  Deno.addSignalListener("SIGINT", () => {
    log("power-off requested, stopping the app");
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, STOP_GRACE_MS);
  });
  const status = await child.status;
  if (status.signal) log(`app ended by ${status.signal}`);
  return status.code;
}

// Only as the main module (PID 1): the image's build imports this module too, so that V8's code cache
// holds it compiled (see deno_cache.ts).
if (import.meta.main) {
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    log(`unhandled rejection: ${event.reason}`);
    powerOff();
  });

  try {
    await main();
  } catch (error) {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  powerOff();
}
