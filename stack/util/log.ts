/**
 * A tiny leveled logger. It is silent by default so that tests and benchmarks print nothing; apps raise
 * the level with `--verbose`. Messages are built lazily by callers that check `enabled(level)` first on
 * hot paths.
 *
 * @module
 */

/** Severity levels, most severe first. */
export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

/** Where log lines go; the default writes to stderr. */
export type LogSink = (level: LogLevel, scope: string, message: string) => void;

let current: LogLevel = "silent";
let sink: LogSink = (level, scope, message) => {
  console.error(`${level.padEnd(5)} ${scope}: ${message}`);
};

/** Sets the global level (e.g. `"debug"` for `--verbose`). */
export function setLogLevel(level: LogLevel): void {
  current = level;
}

/** The global level. */
export function logLevel(): LogLevel {
  return current;
}

/** Replaces where lines go (tests capture them). Returns the previous sink. */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

/** A logger bound to one scope such as `"arp"` or `"runtime"`. */
export class Logger {
  readonly scope: string;

  /** Creates a logger whose lines are prefixed with `scope`. */
  constructor(scope: string) {
    this.scope = scope;
  }

  /** True when lines of `level` are written (guard costly messages with it). */
  enabled(level: LogLevel): boolean {
    return level !== "silent" && RANK[level] <= RANK[current];
  }

  /** Logs an error. */
  error(message: string): void {
    if (this.enabled("error")) sink("error", this.scope, message);
  }

  /** Logs a warning. */
  warn(message: string): void {
    if (this.enabled("warn")) sink("warn", this.scope, message);
  }

  /** Logs an informational line. */
  info(message: string): void {
    if (this.enabled("info")) sink("info", this.scope, message);
  }

  /** Logs a debugging line. */
  debug(message: string): void {
    if (this.enabled("debug")) sink("debug", this.scope, message);
  }
}
