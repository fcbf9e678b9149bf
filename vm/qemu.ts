/**
 * The QEMU command line for the guest, and the choice between KVM and TCG. Kept apart from the runner so
 * that tests can check the arguments without starting a VM.
 *
 * @module
 */

import { GUEST_V8_FLAGS } from "./deno_cache.ts";

/** How the guest reaches the host. */
export type GuestNetwork =
  | {
    kind: "user";
    protocol: "udp" | "tcp";
    hostPort: number;
    guestPort: number;
    restrict?: boolean;
  }
  | { kind: "tap"; ifname: string };

/** Everything the command line depends on. */
export interface QemuConfig {
  kernel: string;
  initramfs: string;
  accel: "kvm" | "tcg";
  memoryMiB: number;
  /**
   * Virtual CPUs (default 1). Two gave the fastest boots under TCG on a 2-core host (the kernel unpacks
   * the initramfs beside its other initcalls; deno's and V8's threads run beside the app's), but the
   * median of alternating rounds was the same as with one on the shared machine, so one stays the
   * default.
   */
  cpus?: number;
  network: GuestNetwork;
  /** The guest's address with prefix (10.0.2.15/24) and gateway. */
  guestAddress: string;
  gateway: string;
  /** The app to run (project-relative) and its arguments. */
  app: string;
  appArgs: string[];
  /** Bind the NIC to uio_pci_generic so the driver sleeps on interrupts when idle. */
  interrupts?: boolean;
  /** Comparison guest: init loads the kernel's virtio-net driver and configures eth0 (KERNEL_NET=1). */
  kernelNet?: boolean;
  /** Profile the app with V8's `--prof` (V8_PROF=1; see guest_profile.ts). */
  v8Prof?: boolean;
  /** Unix socket path of the human monitor (for sendkey at power-off). */
  monitor: string;
  /** Firmware instead of SeaBIOS (see `fastFirmware`). */
  bios?: string;
}

/**
 * Debian's amd64 kernel images (such as vmlinuz-6.1.0-56-cloud-amd64, or the ELF inside it unpacked as
 * vmlinux-…, see kernel.ts), all built with HZ=250.
 */
const DEBIAN_KERNEL = /(^|\/)vmlinu[xz]-[^/]+-amd64$/;

/** The QEMU binary. */
export const QEMU = "qemu-system-x86_64";

/** qboot, the minimal firmware that Debian's qemu-system-data ships beside SeaBIOS. */
export const QBOOT = "/usr/share/qemu/qboot.rom";

/**
 * qboot when QEMU has it: it only sets up PCI and the tables QEMU hands over (ACPI, e820) and jumps to
 * the kernel, where SeaBIOS runs a whole POST (device scans, boot device search); about a quarter of a
 * second of CPU less before the kernel under TCG. Undefined when it is missing (SeaBIOS then).
 */
export function fastFirmware(path = QBOOT): string | undefined {
  try {
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/** Parses 512M, 1G, 768 (MiB) into MiB; throws on anything else. */
export function parseMemory(text: string): number {
  const match = text.match(/^(\d+)([MmGg]?)$/);
  if (!match) throw new Error(`--memory '${text}' is not a size such as 512M or 1G`);
  const value = Number(match[1]);
  return match[2].toLowerCase() === "g" ? value * 1024 : value;
}

/** What `kernelCmdline` switches on besides the app and its network. */
export interface CmdlineFlags {
  /** VIRTIO_IRQ=1: init binds the NIC to uio_pci_generic. */
  interrupts?: boolean;
  /** KERNEL_NET=1: the comparison guest on the kernel's virtio_net. */
  kernelNet?: boolean;
  /** The kernel ticks at 250 Hz, so the APIC timer's period can be given instead of calibrated. */
  hz250?: boolean;
  /** V8_PROF=1: init profiles the app (see guest_profile.ts). */
  v8Prof?: boolean;
}

/**
 * The kernel command line: quiet serial console, deno as init, the guest's network settings, and the app
 * with its arguments (comma-separated, since a word cannot hold spaces).
 */
export function kernelCmdline(
  guestAddress: string,
  gateway: string,
  app: string,
  appArgs: string[],
  flags: CmdlineFlags = {},
): string {
  const { interrupts = false, kernelNet = false, hz250 = false, v8Prof = false } = flags;
  for (const word of [app, ...appArgs]) {
    if (word === "" || /[\s,"]/.test(word)) {
      throw new Error(
        `App argument '${word}' cannot pass the kernel command line (no spaces, commas, quotes)`,
      );
    }
  }
  const [address, prefixText] = guestAddress.split("/");
  const prefix = Number(prefixText ?? 24);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const netmask = [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join(".");
  // Words before "--" must be KEY=VAL: the kernel hands them to init as environment, and any bare word
  // would become an argument of deno. The kernel has no IP autoconfiguration, so ip= is left to init.
  return [
    "console=ttyS0",
    "quiet",
    "panic=-1",
    // Measured with initcall_debug under TCG: the crypto self-tests (at every algorithm's registration
    // and in a late initcall) cost ~0.3-0.6 s of CPU, and nothing in the guest uses the kernel's crypto.
    "cryptomgr.notests=1",
    // Debian turns init_on_alloc on (a hardening option that zeroes every page the kernel allocates):
    // unpacking the initramfs then writes its 113 MB twice. Boots alternated under TCG: 3.4-3.5 s to
    // the first 200 without it against 3.6-4.3 s with it. User memory is zeroed either way, and the
    // guest runs one process, which holds every privilege the option would keep kernel leftovers from.
    "init_on_alloc=0",
    // The local APIC timer's calibration spins for ~0.1 s, while QEMU's (and KVM's) APIC bus runs at a
    // fixed 1 GHz (APIC_BUS_CYCLE_NS = 1): at HZ=250, every Debian amd64 kernel's, 4,000,000 ticks per
    // jiffy (the calibration itself measures 4,007,052 here). Other kernels (--kernel) calibrate.
    ...(hz250 ? ["lapic_timer_period=4000000"] : []),
    "rdinit=/bin/deno",
    "DENO_DIR=/var/deno",
    "NO_COLOR=1",
    // The guest has no route to deno's release server; never try it.
    "DENO_NO_UPDATE_CHECK=1",
    `ip=${address}::${gateway}:${netmask}`,
    `APP=${app}`,
    ...(appArgs.length > 0 ? [`APP_ARGS=${appArgs.join(",")}`] : []),
    ...(interrupts ? ["VIRTIO_IRQ=1"] : []),
    ...(kernelNet ? ["KERNEL_NET=1"] : []),
    ...(v8Prof ? ["V8_PROF=1"] : []),
    "--",
    "run",
    "-A",
    GUEST_V8_FLAGS,
    "--no-config",
    // Apps run inside init (see init.ts); npm packages were vendored at build time, with no network.
    "--cached-only",
    "/app/vm/init.ts",
  ].join(" ");
}

/** The arguments of `qemu-system-x86_64` for `config`. */
export function qemuArgs(config: QemuConfig): string[] {
  const netdev = config.network.kind === "user"
    ? `user,id=n0,restrict=${
      config.network.restrict === false ? "off" : "on"
    },hostfwd=${config.network.protocol}:127.0.0.1:${config.network.hostPort}-:${config.network.guestPort}`
    : `tap,id=n0,ifname=${config.network.ifname},script=no,downscript=no`;
  return [
    "-nodefaults",
    "-no-user-config",
    ...(config.bios ? ["-bios", config.bios] : []),
    "-machine",
    "pc",
    "-accel",
    config.accel,
    "-cpu",
    // Without RDRAND deno waits about a second for entropy under TCG.
    config.accel === "kvm" ? "host" : "qemu64,+rdrand",
    "-m",
    `${config.memoryMiB}M`,
    ...(config.cpus !== undefined && config.cpus > 1 ? ["-smp", String(config.cpus)] : []),
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    config.kernel,
    "-initrd",
    config.initramfs,
    "-append",
    kernelCmdline(
      config.guestAddress,
      config.gateway,
      config.app,
      config.appArgs,
      {
        interrupts: config.interrupts,
        kernelNet: config.kernelNet,
        hz250: DEBIAN_KERNEL.test(config.kernel),
        v8Prof: config.v8Prof,
      },
    ),
    "-serial",
    "stdio",
    "-monitor",
    `unix:${config.monitor},server=on,wait=off`,
    "-netdev",
    netdev,
    // Modern-only virtio 1.x, at a fixed address; no option ROM (it costs ~1.8 s of boot under TCG).
    "-device",
    "virtio-net-pci,netdev=n0,disable-legacy=on,romfile=,addr=03",
  ];
}

/** True when `/proc/cpuinfo` shows hardware virtualisation and /dev/kvm opens read-write. */
export function kvmUsable(cpuinfo?: string): boolean {
  let text = cpuinfo;
  try {
    text ??= Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return false;
  }
  // A nested software hypervisor can expose /dev/kvm without vmx/svm; it crawls and dies (FACTS).
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(text)) return false;
  if (cpuinfo !== undefined) return true;
  try {
    Deno.openSync("/dev/kvm", { read: true, write: true }).close();
    return true;
  } catch {
    return false;
  }
}

/** Resolves --accel: `auto` is KVM only where it really works, else TCG. */
export function chooseAccel(accel: string, cpuinfo?: string): "kvm" | "tcg" {
  if (accel === "tcg") return "tcg";
  if (accel === "kvm") {
    if (!kvmUsable(cpuinfo)) {
      throw new Error(
        "--accel kvm needs vmx or svm in /proc/cpuinfo and a usable /dev/kvm; use --accel tcg",
      );
    }
    return "kvm";
  }
  if (accel === "auto") return kvmUsable(cpuinfo) ? "kvm" : "tcg";
  throw new Error(`--accel must be auto, kvm or tcg, not '${accel}'`);
}
