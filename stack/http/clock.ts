/**
 * The time source for the server's timeouts. Tests pass a virtual clock; apps on our stack pass the
 * stack runtime's clock; the kernel-socket default is {@linkcode systemClock}.
 *
 * @module
 */

/** Milliseconds and sleeps, as the server needs them. */
export interface Clock {
  /** The current time in milliseconds (monotonic; the origin does not matter). */
  now(): number;
  /** Resolves after `ms` milliseconds, or early (resolving, not rejecting) once `signal` aborts. */
  after(ms: number, signal?: AbortSignal): Promise<void>;
  /** Wall-clock milliseconds since the epoch for the `Date` header; without it none is sent. */
  wallTime?(): number;
}

/** The operating system's clock: `performance.now`, `setTimeout` and `Date.now`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  after(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
    });
  },
  wallTime: () => Date.now(),
};

/** A clock that reads the stack runtime's time (`runtime.now()`) and sleeps with timers. */
export function runtimeClock(runtime: { now(): number }): Clock {
  return {
    now: () => runtime.now(),
    after: systemClock.after,
    wallTime: () => Date.now(),
  };
}
