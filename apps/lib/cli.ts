/**
 * What every CLI app shares: one-line errors with the right exit status (2 for usage, 1 otherwise, never
 * a stack trace), the stack's counters printed on SIGUSR1 and at exit, and a clean stop on SIGINT or
 * SIGTERM.
 *
 * @module
 */

import { UsageError } from "./link_options.ts";

/** Counters grouped by layer, as `Interface.stats()` returns them. */
export type StackStats = Record<string, Record<string, number>>;

/** Formats the non-zero counters, one layer per line. */
export function formatStats(stats: StackStats): string {
  const lines: string[] = [];
  for (const [layer, counters] of Object.entries(stats)) {
    const shown = Object.entries(counters).filter(([, v]) => v !== 0).map(([k, v]) => `${k}=${v}`);
    if (shown.length > 0) lines.push(`  ${layer}: ${shown.join(" ")}`);
  }
  return lines.length > 0 ? lines.join("\n") : "  (no traffic)";
}

/** Prints an error as one line on stderr and exits: status 2 for usage errors, else 1. */
export function exitWithError(program: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`${program}: ${message.split("\n")[0]}`);
  Deno.exit(error instanceof UsageError ? 2 : 1);
}

/** Signal handling of a running app. */
export interface SignalWatch {
  /** Resolves when SIGINT or SIGTERM arrives. */
  readonly stopped: Promise<void>;
  /** True once a stop signal arrived. */
  readonly isStopped: boolean;
  /** Removes the listeners (so the process can exit). */
  dispose(): void;
}

/**
 * Calls `onStats` on SIGUSR1 or SIGUSR2 and resolves `stopped` on SIGINT/SIGTERM until disposed. Since Deno
 * 2.9.2, SIGUSR1 also starts Deno's inspector on 127.0.0.1:9229 (as in Node.js), so SIGUSR2 is the signal
 * to use where that matters; both print the counters.
 */
export function watchSignals(onStats: () => void): SignalWatch {
  let resolveStop: () => void = () => {};
  let isStopped = false;
  const stopped = new Promise<void>((resolve) => (resolveStop = resolve));
  const stop = () => {
    isStopped = true;
    resolveStop();
  };
  const added: [Deno.Signal, () => void][] = [];
  const add = (signal: Deno.Signal, handler: () => void) => {
    try {
      Deno.addSignalListener(signal, handler);
      added.push([signal, handler]);
    } catch {
      // Signals a platform lacks are simply not watched.
    }
  };
  add("SIGUSR1", onStats);
  add("SIGUSR2", onStats);
  add("SIGINT", stop);
  add("SIGTERM", stop);
  return {
    stopped,
    get isStopped() {
      return isStopped;
    },
    dispose() {
      for (const [signal, handler] of added.splice(0)) Deno.removeSignalListener(signal, handler);
    },
  };
}
