/**
 * A V8 CPU profile of the app inside the guest (`deno task boot --v8-prof FILE`): init runs the app with
 * `--prof`, then copies V8's log to the console between two marker lines; the host cuts it out of the
 * console into FILE, which `tests/bench/v8_ticks.ts` summarises. Under TCG the guest's costs differ from
 * the host's (memory accesses, V8's compilers and C++ builtins cost far more there), so the guest's own
 * profile is the one that tells where its time goes.
 *
 * @module
 */

/** Where the profiled app's V8 log is written in the guest (init's tmpfs). */
export const PROFILE_LOG = "/tmp/v8.log";
/** The console line before the log. */
export const PROFILE_BEGIN = "init: v8 profile begins";
/** The console line after the log. */
export const PROFILE_END = "init: v8 profile ends";

/** Takes console lines; those between the markers go to the profile instead of the console. */
export class ProfileCapture {
  #lines: string[] | undefined;
  #done: string[] | undefined;

  /** True when `line` belonged to the profile (markers included) and is not a console line. */
  take(line: string): boolean {
    if (this.#lines === undefined) {
      if (line !== PROFILE_BEGIN) return false;
      this.#lines = [];
      return true;
    }
    if (line === PROFILE_END) {
      this.#done = this.#lines;
      this.#lines = undefined;
      return true;
    }
    this.#lines.push(line);
    return true;
  }

  /** The profile's text once its end marker was seen, else undefined. */
  get text(): string | undefined {
    return this.#done?.join("\n");
  }
}
