/**
 * Runs one of the apps (`apps/*.ts`) as a child process, optionally inside a namespace, collects its
 * output, and stops it by PID.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running app. */
export class AppProcess {
  readonly child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  #listeners: (() => void)[] = [];
  #reading: Promise<void>;
  #exited = false;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;

  /** Starts `deno run -A apps/<app> ARGS`, inside namespace `ns` when given. */
  constructor(app: string, args: string[], ns?: string) {
    const deno = [Deno.execPath(), "run", "-A", "--no-lock", `${ROOT}apps/${app}`, ...args];
    // `ip netns exec` execs the command, so the child's PID is the app's own.
    const [cmd, ...rest] = ns === undefined ? deno : ["ip", "netns", "exec", ns, ...deno];
    this.child = new Deno.Command(cmd, {
      args: rest,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = Promise.all([
      this.#collect(this.child.stdout, (t) => this.#stdout += t),
      this.#collect(this.child.stderr, (t) => this.#stderr += t),
    ]).then(() => {});
    this.exited = this.child.status.then((s) => {
      this.#exited = true;
      this.#notify();
      return s.code;
    });
  }

  /** Everything the app printed on stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Everything the app printed on stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves when stdout matches `pattern`; rejects when the app exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 15000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`App did not print ${pattern} in ${timeoutMs} ms: ${this.#describe()}`));
      }, timeoutMs);
      const check = () => {
        if (pattern.test(this.#stdout)) {
          done();
          resolve();
        } else if (this.#exited) {
          done();
          reject(new Error(`App exited before printing ${pattern}: ${this.#describe()}`));
        }
      };
      const done = () => {
        clearTimeout(timer);
        const i = this.#listeners.indexOf(check);
        if (i >= 0) this.#listeners.splice(i, 1);
      };
      this.#listeners.push(check);
      check();
    });
  }

  /** Sends SIGTERM (the app's clean stop) and waits for the exit code and the end of its output. */
  async stop(): Promise<number> {
    if (!this.#exited) {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // It exited meanwhile.
      }
    }
    const code = await this.exited;
    await this.#reading;
    return code;
  }

  #describe(): string {
    return `stdout ${JSON.stringify(this.#stdout)} stderr ${JSON.stringify(this.#stderr)}`;
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  async #collect(stream: ReadableStream<Uint8Array>, add: (text: string) => void): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      add(text);
      this.#notify();
    }
  }
}
