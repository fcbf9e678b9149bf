/**
 * Throwaway network namespaces and veth pairs for tests against the real kernel. Everything a test
 * creates is named with the test process's PID and removed by `close` (call it in `finally`).
 *
 * @module
 */

/** The result of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and returns its output. */
export async function run(cmd: string, args: string[]): Promise<CommandResult> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`Command failed: ${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

let counter = 0;

/** A short name unique to this process, such as `nt4711a3` (interface names hold 15 bytes). */
export function uniqueName(prefix: string): string {
  return `${prefix}${Deno.pid % 100000}${(counter++).toString(36)}`;
}

/** A network namespace that `close` deletes, with the links moved into it. */
export class Netns {
  readonly name: string;
  #hostLinks: string[] = [];
  #closed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates a fresh namespace with only `lo` (down). */
  static async create(prefix = "nt"): Promise<Netns> {
    const name = uniqueName(prefix);
    await must("ip", ["netns", "add", name]);
    return new Netns(name);
  }

  /** Runs `ip ARGS` inside the namespace. */
  ip(...args: string[]): Promise<string> {
    return must("ip", ["-n", this.name, ...args]);
  }

  /** Runs a command inside the namespace to completion. */
  exec(cmd: string, args: string[]): Promise<CommandResult> {
    return run("ip", ["netns", "exec", this.name, cmd, ...args]);
  }

  /** Starts a command inside the namespace; the caller kills it by PID and awaits its status. */
  spawn(cmd: string, args: string[]): Deno.ChildProcess {
    return new Deno.Command("ip", {
      args: ["netns", "exec", this.name, cmd, ...args],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  /** Turns off IPv6 in the namespace so that no autoconfiguration traffic mixes with the test's. */
  async quiet(): Promise<void> {
    await this.exec("sysctl", ["-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    await this.exec("sysctl", ["-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
  }

  /**
   * Creates a veth pair: `host` stays in this process's namespace with no address (for AF_PACKET), and
   * `inner` moves into the namespace with `cidr` and is brought up.
   */
  async veth(host: string, inner: string, cidr: string): Promise<void> {
    await must("ip", ["link", "add", host, "type", "veth", "peer", "name", inner]);
    this.#hostLinks.push(host);
    await run("sysctl", ["-qw", `net.ipv6.conf.${host}.disable_ipv6=1`]);
    await must("ip", ["link", "set", inner, "netns", this.name]);
    await this.ip("addr", "add", cidr, "dev", inner);
    await this.ip("link", "set", inner, "up");
    await must("ip", ["link", "set", host, "up"]);
  }

  /** Moves an existing link (such as a TAP we hold open) into the namespace, addresses it, brings it up. */
  async adopt(link: string, cidr: string): Promise<void> {
    await must("ip", ["link", "set", link, "netns", this.name]);
    await this.ip("addr", "add", cidr, "dev", link);
    await this.ip("link", "set", link, "up");
  }

  /** A link's counter inside the namespace, such as `rx_packets`. */
  async counter(link: string, name: string): Promise<number> {
    const r = await this.exec("cat", [`/sys/class/net/${link}/statistics/${name}`]);
    return Number(r.stdout.trim());
  }

  /** Deletes the namespace (and the links in it) and the host ends of veth pairs. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await run("ip", ["netns", "del", this.name]);
    for (const link of this.#hostLinks) await run("ip", ["link", "del", link]);
  }
}

/** Stops a child process started by a test (by its PID) and waits for it. */
export async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // It has already exited.
  }
  await child.output();
}
