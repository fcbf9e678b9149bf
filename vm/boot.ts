/**
 * `deno task boot [--app …] [--port 8080] [--accel auto|kvm|tcg] [--memory 512M] [--cpus 1]
 * [--tap NAME] [--log FILE] [--guest-ip 10.0.2.15/24] [--gateway 10.0.2.2] [--arg X]...
 * [--protocol http|udp] [--compress none|lz4|zstd] [--interrupts] [--kernel-net] [--v8-prof FILE]`:
 * builds the image if stale, boots it in QEMU with user networking (restrict=on, one host port on
 * 127.0.0.1 forwarded to the guest) or a TAP, prints the URL once the app answers, and powers the guest off
 * cleanly on Ctrl-C or SIGTERM (Ctrl-Alt-Del through the monitor, which init turns into a power-off).
 *
 * `Vm.boot` is the same as an API for tests and benchmarks.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";
import { ProfileCapture } from "./guest_profile.ts";
import {
  buildImage,
  type Compression,
  defaultApp,
  defaultAppArgs,
  type ImageResult,
} from "./image.ts";
import {
  chooseAccel,
  fastFirmware,
  type GuestNetwork,
  parseMemory,
  QEMU,
  qemuArgs,
} from "./qemu.ts";

/** Options of `Vm.boot`. */
export interface BootOptions {
  /** The app (default: see image.ts `defaultApp`). */
  app?: string;
  /** Arguments for the app (default per app, see image.ts). */
  appArgs?: string[];
  /** Host port forwarded to the guest (default 8080). */
  port?: number;
  /** What the app speaks: http (TCP to guest port 80) or udp (echo on guest port 7); default udp for apps
   * named *udp* and vm/guest_echo.ts, else http. */
  protocol?: "http" | "udp";
  /** auto (default), kvm or tcg. */
  accel?: string;
  /** Virtual CPUs (default 1). */
  cpus?: number;
  /** Guest RAM such as 512M (default). */
  memory?: string;
  /** Use this existing TAP instead of user networking; the guest is then reached at its own address. */
  tap?: string;
  /** The guest's address and prefix (default 10.0.2.15/24, what QEMU's user network expects). */
  guestAddress?: string;
  /** The guest's gateway (default 10.0.2.2). */
  gateway?: string;
  /** Write the console here instead of to the terminal. */
  log?: string;
  /** Where console lines go when there is no log file (default: stdout; tests pass a no-op). */
  echo?: (line: string) => void;
  /** Receives the image builder's progress lines. */
  progress?: (line: string) => void;
  /** How long to wait for the app to answer (default 120 s). */
  timeoutMs?: number;
  /** Initramfs compression (default lz4, see image.ts). */
  compress?: Compression;
  /** Interrupt mode: bind the NIC to uio_pci_generic so the driver sleeps on interrupts when idle. */
  interrupts?: boolean;
  /**
   * The comparison guest: the image built with `kernelNet`, whose init loads the kernel's own virtio-net
   * driver; the app then serves on kernel sockets (default arguments `--nic kernel --hostname 0.0.0.0
   * --port 80`) at the static guest address.
   */
  kernelNet?: boolean;
  /**
   * Profile the app with V8's `--prof` and write the log here on the host once the guest powers off
   * (see guest_profile.ts; summarise it with tests/bench/v8_ticks.ts).
   */
  v8Prof?: string;
  /** Called once QEMU runs, before the app answers (so Ctrl-C during boot can power it off). */
  onStart?: (vm: Vm) => void;
}

/** Writes the guest's V8 log to `file`, reporting a failure as a console line (never throws). */
function writeProfile(file: string, text: string, report: (line: string) => void): void {
  try {
    Deno.writeTextFileSync(file, text + "\n");
    report(`boot: V8 profile written to ${file}`);
  } catch (error) {
    report(`boot: cannot write the V8 profile to ${file}: ${(error as Error).message}`);
  }
}

/** The line every app prints once it accepts connections. */
const LISTENING = / listening on /;
const CONSOLE_TAIL = 30;

/** Checks that `port` is free on 127.0.0.1 for `protocol`, with a clear message when it is not. */
export async function checkPortFree(port: number, protocol: "tcp" | "udp"): Promise<void> {
  const inUse = () =>
    new Error(`Host port ${port} (${protocol}) is already in use; pick another with --port`);
  if (protocol === "tcp") {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch (error) {
      throw error instanceof Deno.errors.AddrInUse ? inUse() : error;
    }
    return;
  }
  const socket = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once(
      "error",
      (error: Error & { code?: string }) => reject(error.code === "EADDRINUSE" ? inUse() : error),
    );
    socket.bind(port, "127.0.0.1", () => resolve());
  }).finally(() => socket.close());
}

/** The smallest RAM (MiB) the image boots in: the archive unpacks into a tmpfs of half the RAM. */
export function minimumMemoryMiB(cpioBytes: number): number {
  return Math.ceil((2 * cpioBytes) / (1 << 20)) + 160;
}

/** Throws when `memoryMiB` cannot hold an archive of `cpioBytes`. */
function checkMemory(memoryMiB: number, cpioBytes: number): void {
  const minimum = minimumMemoryMiB(cpioBytes);
  if (memoryMiB < minimum) {
    throw new Error(
      `--memory ${memoryMiB}M is too little: the ${
        (cpioBytes / 1e6).toFixed(0)
      } MB image unpacks ` +
        `into a tmpfs capped at half the RAM, and deno needs room; use ${minimum}M or more`,
    );
  }
}

/** A running guest. */
export class Vm {
  /** QEMU's process id. */
  readonly pid: number;
  /** Where the app answers: udp://127.0.0.1:PORT or http://127.0.0.1:PORT/. */
  readonly url: string;
  /** The image that was booted. */
  readonly image: ImageResult;
  /** Every console line so far. */
  readonly console: string[] = [];
  /** Milliseconds from QEMU start until the app first answered. */
  bootMs = 0;
  readonly #child: Deno.ChildProcess;
  readonly #monitor: string;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #stderr: Promise<string>;
  readonly #consoleDone: Promise<void>;
  #exited = false;
  #probes?: { pending: Set<AbortController>; answered: boolean; onAnswer: () => void };
  /** Starts one more HTTP probe while `#probeHttp` waits (see there). */
  #launchProbe: (() => void) | undefined;

  private constructor(
    child: Deno.ChildProcess,
    url: string,
    image: ImageResult,
    monitor: string,
    sink: (line: string) => void,
    profile?: { capture: ProfileCapture; file: string },
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.url = url;
    this.image = image;
    this.#monitor = monitor;
    this.#status = child.status.then((status) => {
      this.#exited = true;
      return status;
    });
    this.#stderr = new Response(child.stderr).text().catch(() => "");
    this.#consoleDone = (async () => {
      let pending = "";
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        pending += decoder.decode(chunk, { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const raw of lines) {
          const line = raw.replace(/\r$/, "");
          if (profile?.capture.take(line)) {
            const text = profile.capture.text;
            if (text !== undefined) writeProfile(profile.file, text, (note) => sink(note));
            continue;
          }
          this.console.push(line);
          sink(line);
          // The app says it listens: probe now rather than at the next 100 ms tick.
          if (this.#launchProbe !== undefined && LISTENING.test(line)) this.#launchProbe();
        }
      }
      if (pending) {
        this.console.push(pending);
        sink(pending);
      }
    })().catch(() => {});
  }

  /** Builds the image if needed, boots it and resolves once the app answers. */
  static async boot(opts: BootOptions = {}): Promise<Vm> {
    const port = opts.port ?? 8080;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`--port must be a port number between 1 and 65535, not '${opts.port}'`);
    }
    const accel = chooseAccel(opts.accel ?? "auto");
    const memoryMiB = parseMemory(opts.memory ?? "512M");
    if (opts.v8Prof !== undefined) {
      // Found out now, not when the profile arrives after the whole run.
      try {
        await Deno.writeTextFile(opts.v8Prof, "");
      } catch (error) {
        throw new Error(
          `Cannot write the V8 profile to ${opts.v8Prof}: ${(error as Error).message}`,
        );
      }
    }
    const guestAddress = opts.guestAddress ?? "10.0.2.15/24";
    const gateway = opts.gateway ?? "10.0.2.2";
    if (opts.tap) {
      try {
        Deno.statSync(`/sys/class/net/${opts.tap}`);
      } catch {
        throw new Error(`TAP interface ${opts.tap} does not exist (create it with ip tuntap add)`);
      }
    }
    // deno is nearly all of the archive, so its size bounds the need before anything is built.
    checkMemory(memoryMiB, Deno.statSync(Deno.execPath()).size);
    // Apps serve HTTP on port 80 unless they are UDP echoes.
    const protocol = opts.protocol ??
      (/udp|guest_echo/.test(opts.app ?? defaultApp()) ? "udp" : "http");
    if (!opts.tap) await checkPortFree(port, protocol === "http" ? "tcp" : "udp");
    const image = await buildImage({
      app: opts.app,
      compress: opts.compress,
      progress: opts.progress,
      kernelNet: opts.kernelNet,
    });
    checkMemory(memoryMiB, image.cpioBytes);
    let network: GuestNetwork;
    let url: string;
    if (opts.tap) {
      network = { kind: "tap", ifname: opts.tap };
      const host = guestAddress.split("/")[0];
      url = protocol === "http" ? `http://${host}/` : `udp://${host}:7`;
    } else {
      network = protocol === "http"
        ? { kind: "user", protocol: "tcp", hostPort: port, guestPort: 80 }
        // libslirp's restricted mode drops every UDP datagram from the guest except DHCP and TFTP
        // (udp_input), so echo replies would never reach the forwarded socket: UDP needs restrict=off.
        // The guest apps only answer; nothing in the image opens connections of its own.
        : { kind: "user", protocol: "udp", hostPort: port, guestPort: 7, restrict: false };
      url = protocol === "http" ? `http://127.0.0.1:${port}/` : `udp://127.0.0.1:${port}`;
    }
    const monitor = `${await Deno.makeTempDir({ prefix: "vm_boot_" })}/monitor.sock`;
    const args = qemuArgs({
      kernel: image.kernel,
      initramfs: image.initramfs,
      accel,
      memoryMiB,
      network,
      guestAddress,
      gateway,
      monitor,
      app: image.app,
      // DHCP from QEMU's user network; a TAP, or an address chosen by hand, gets static settings.
      appArgs: opts.appArgs ??
        (opts.kernelNet
          ? ["--nic", "kernel", "--hostname", "0.0.0.0", "--port", "80"]
          : defaultAppArgs(image.app, !opts.tap && opts.guestAddress === undefined)),
      interrupts: opts.interrupts,
      kernelNet: opts.kernelNet,
      v8Prof: opts.v8Prof !== undefined,
      bios: fastFirmware(),
      cpus: opts.cpus,
    });
    let logFile: Deno.FsFile | undefined;
    if (opts.log) {
      logFile = await Deno.open(opts.log, { write: true, create: true, truncate: true });
    }
    const encoder = new TextEncoder();
    const echo = opts.echo ?? ((line: string) => console.log(line));
    const sink = logFile ? (line: string) => logFile!.writeSync(encoder.encode(line + "\n")) : echo;
    let child: Deno.ChildProcess;
    const started = performance.now();
    try {
      child = new Deno.Command(QEMU, { args, stdin: "null", stdout: "piped", stderr: "piped" })
        .spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(`${QEMU} is not installed: apt-get install qemu-system-x86`);
      }
      throw error;
    }
    const profile = opts.v8Prof === undefined
      ? undefined
      : { capture: new ProfileCapture(), file: opts.v8Prof };
    const vm = new Vm(child, url, image, monitor, sink, profile);
    opts.onStart?.(vm);
    vm.#status.finally(() => {
      logFile?.close();
      Deno.remove(monitor.replace(/\/monitor\.sock$/, ""), { recursive: true }).catch(() => {});
    });
    try {
      await vm.#waitForApp(protocol, url, opts.timeoutMs ?? 120_000);
      vm.bootMs = performance.now() - started;
    } catch (error) {
      vm.kill();
      await vm.#status;
      await vm.#consoleDone;
      await vm.#stderr;
      throw error;
    }
    return vm;
  }

  /** The last console lines, for error messages. */
  tail(lines = CONSOLE_TAIL): string {
    return this.console.slice(-lines).join("\n");
  }

  /** Resolves with QEMU's exit status. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** Sends one UDP datagram to the guest and resolves with the answer, or undefined after `timeoutMs`. */
  static udpExchange(
    url: string,
    payload: Uint8Array,
    timeoutMs: number,
  ): Promise<Uint8Array | undefined> {
    const { hostname, port } = new URL(url.replace(/^udp:/, "http:"));
    const socket = createSocket("udp4");
    return new Promise<Uint8Array | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.on("message", (message: Uint8Array) => {
        clearTimeout(timer);
        resolve(new Uint8Array(message));
      });
      socket.on("error", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      socket.send(payload, Number(port), hostname);
    }).finally(() => socket.close());
  }

  async #waitForApp(protocol: "http" | "udp", url: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const probe = new TextEncoder().encode("vm-boot-probe");
    while (performance.now() < deadline) {
      if (this.#exited) {
        const stderr = (await this.#stderr).trim();
        await this.#consoleDone;
        throw new Error(
          `QEMU exited before the app answered${stderr ? `: ${stderr}` : ""}\n` +
            `last console lines:\n${this.tail()}`,
        );
      }
      if (protocol === "udp") {
        const answer = await Vm.udpExchange(url, probe, 500).catch(() => undefined);
        if (answer && new TextDecoder().decode(answer) === "vm-boot-probe") return;
      } else if (await this.#probeHttp(url, 1000)) {
        return;
      }
    }
    throw new Error(
      `Guest did not answer on ${url} within ${Math.round(timeoutMs / 1000)} s; ` +
        `last console lines:\n${this.tail()}`,
    );
  }

  /**
   * Probes `url` for `windowMs`: a new request every 100 ms and one as soon as the console shows the
   * app's "listening on" line, each allowed 3 s, so that the boot time is measured closely even though
   * the first answer from a cold guest under TCG can take longer than the gap between probes. Probes
   * are not cut short sooner because a SYN that nothing answers waits for QEMU's slirp to retransmit
   * it, while one sent once the app listens is answered at once. Resolves true at the first answer.
   */
  #probeHttp(url: string, windowMs: number): Promise<boolean> {
    const state = this.#probes ??= { pending: new Set(), answered: false, onAnswer: () => {} };
    if (state.answered) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean) => {
        clearInterval(timer);
        clearTimeout(end);
        state.onAnswer = () => {};
        this.#launchProbe = undefined;
        resolve(ok);
      };
      // A probe started in an earlier window may be the one that answers.
      state.onAnswer = () => finish(true);
      const launch = () => {
        if (state.pending.size >= 30 || this.#exited) return;
        const probe = new AbortController();
        state.pending.add(probe);
        const limit = setTimeout(() => probe.abort(), 3000);
        fetch(url, { signal: probe.signal })
          .then(async (response) => {
            await response.body?.cancel();
            if (state.answered) return;
            state.answered = true;
            for (const other of state.pending) if (other !== probe) other.abort();
            state.onAnswer();
          })
          .catch(() => {})
          .finally(() => {
            clearTimeout(limit);
            state.pending.delete(probe);
          });
      };
      const timer = setInterval(launch, 100);
      const end = setTimeout(() => finish(false), windowMs);
      this.#launchProbe = launch;
      launch();
    });
  }

  /**
   * Powers the guest off cleanly: Ctrl-Alt-Del through the monitor, which init turns into stopping the
   * app and reboot(RB_POWER_OFF). Kills QEMU if it is still running after `timeoutMs`.
   */
  async powerOff(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      try {
        const connection = await Deno.connect({ transport: "unix", path: this.#monitor });
        await connection.write(new TextEncoder().encode("sendkey ctrl-alt-delete\n"));
        // Give the monitor a moment to read the command before the socket closes.
        await new Promise((resolve) => setTimeout(resolve, 200));
        connection.close();
      } catch {
        this.kill();
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((
      resolve,
    ) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
    const outcome = await Promise.race([this.#status, late]);
    clearTimeout(timer);
    if (outcome === "late") this.kill();
    const status = await this.#status;
    await this.#consoleDone;
    await this.#stderr;
    return status;
  }

  /** Kills QEMU by its PID (no clean shutdown). */
  kill(): void {
    if (this.#exited) return;
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Parses `deno task boot` options. */
export function parseBootArgs(args: string[]): BootOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      app: { type: "string" },
      arg: { type: "string", multiple: true },
      port: { type: "string" },
      accel: { type: "string" },
      memory: { type: "string" },
      cpus: { type: "string" },
      tap: { type: "string" },
      "guest-ip": { type: "string" },
      gateway: { type: "string" },
      log: { type: "string" },
      protocol: { type: "string" },
      compress: { type: "string" },
      timeout: { type: "string" },
      interrupts: { type: "boolean" },
      "kernel-net": { type: "boolean" },
      "v8-prof": { type: "string" },
    },
  });
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`--port must be a port number between 1 and 65535, not '${values.port}'`);
  }
  if (values.protocol !== undefined && values.protocol !== "http" && values.protocol !== "udp") {
    throw new Error(`--protocol must be http or udp, not '${values.protocol}'`);
  }
  if (values.compress !== undefined && !["lz4", "zstd", "none"].includes(values.compress)) {
    throw new Error(`--compress must be lz4, zstd or none, not '${values.compress}'`);
  }
  const cpus = values.cpus === undefined ? undefined : Number(values.cpus);
  if (cpus !== undefined && !(Number.isInteger(cpus) && cpus >= 1 && cpus <= 64)) {
    throw new Error(`--cpus must be a number of CPUs between 1 and 64, not '${values.cpus}'`);
  }
  chooseAccel(values.accel ?? "auto");
  parseMemory(values.memory ?? "512M");
  return {
    app: values.app,
    appArgs: values.arg,
    port,
    accel: values.accel,
    memory: values.memory,
    cpus,
    tap: values.tap,
    guestAddress: values["guest-ip"],
    gateway: values.gateway,
    log: values.log,
    protocol: values.protocol as "http" | "udp" | undefined,
    compress: values.compress as Compression | undefined,
    timeoutMs: values.timeout === undefined ? undefined : Number(values.timeout) * 1000,
    interrupts: values.interrupts,
    kernelNet: values["kernel-net"],
    v8Prof: values["v8-prof"],
  };
}

if (import.meta.main) {
  let vm: Vm | undefined;
  let stopping = false;
  const stop = () => {
    if (!vm) Deno.exit(130);
    if (stopping) {
      vm.kill(); // a second Ctrl-C does not wait for the guest
      return;
    }
    stopping = true;
    console.error("boot: powering the guest off");
    vm.powerOff().then((status) => Deno.exit(status.code));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const opts = parseBootArgs(Deno.args);
    vm = await Vm.boot({
      ...opts,
      progress: (line) => console.error(`image ${line}`),
      onStart: (started) => (vm = started),
    });
    console.error(`boot: guest up in ${(vm.bootMs / 1000).toFixed(1)} s (QEMU pid ${vm.pid})`);
    console.log(vm.url);
    const status = await vm.status;
    if (!stopping) {
      console.error(`boot: QEMU exited with code ${status.code}`);
      Deno.exit(status.code);
    }
  } catch (error) {
    // While stopping, the boot fails because QEMU went away; the stop handler reports and exits.
    if (!stopping) {
      console.error(`boot: ${error instanceof Error ? error.message : String(error)}`);
      vm?.kill();
      Deno.exit(1);
    }
  }
}
