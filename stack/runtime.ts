/**
 * The runtime loop: drives interfaces in real time. Each round polls every interface with the clock's
 * `now` and flushes its NIC; while there is work it yields to the event loop with `setImmediate` (~2 µs,
 * where `setTimeout(0)` costs ~2 ms) so that app code runs between rounds; when idle it sleeps until the
 * earliest `pollAt` or until a NIC's `wait()` says a frame may be ready, so an idle stack uses no CPU.
 * `wake()` ends a sleep at once: sockets call it after queueing data.
 *
 * This is the one place in `stack/` that touches real time; everything below it takes `now`.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Nic } from "./nic/nic.ts";
import { Logger } from "./util/log.ts";

/** What the runtime needs of an interface (`Interface` implements it). */
export interface Pollable {
  poll(now: number): boolean;
  pollAt(now: number): number | undefined;
}

/** Options of the runtime. */
export interface RuntimeOptions {
  /** Longest sleep when nothing is due (ms, default 1000). */
  maxSleepMs?: number;
}

/** Counters of the runtime. */
export interface RuntimeStats {
  [counter: string]: number;
  rounds: number;
  busyRounds: number;
  sleeps: number;
  wakes: number;
  errors: number;
}

const log = new Logger("runtime");

function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Drives interfaces and their NICs in real time. */
export class Runtime {
  /** Counters. */
  readonly stats: RuntimeStats = { rounds: 0, busyRounds: 0, sleeps: 0, wakes: 0, errors: 0 };
  #entries: { iface: Pollable; nic: Nic }[];
  #clock: () => number;
  #maxSleep: number;
  #running = false;
  #loop: Promise<void> | undefined;
  #woken = false;
  #wakeResolve: (() => void) | undefined;

  /** Creates a stopped runtime over `ifaces`; `clock` returns milliseconds. */
  constructor(
    ifaces: { iface: Pollable; nic: Nic }[],
    clock: () => number = () => performance.now(),
    options: RuntimeOptions = {},
  ) {
    this.#entries = [...ifaces];
    this.#clock = clock;
    this.#maxSleep = options.maxSleepMs ?? 1000;
  }

  /** True between `start` and `stop`. */
  get running(): boolean {
    return this.#running;
  }

  /** The runtime's clock, for apps that stamp things with the stack's time. */
  now(): number {
    return this.#clock();
  }

  /** Starts the loop (no-op when running). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    log.debug(`started with ${this.#entries.length} interfaces`);
    this.#loop = this.#run();
  }

  /** Stops the loop after its current round; resolves once it has stopped. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.wake();
    await this.#loop;
    this.#loop = undefined;
    log.debug(`stopped after ${this.stats.rounds} rounds, ${this.stats.sleeps} sleeps`);
  }

  /** Ends the current sleep at once so that the next round polls (call after queueing output). */
  wake(): void {
    this.#woken = true;
    const resolve = this.#wakeResolve;
    if (resolve !== undefined) {
      this.#wakeResolve = undefined;
      this.stats.wakes++;
      resolve();
    }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      this.#woken = false;
      const now = this.#clock();
      let work = false;
      this.stats.rounds++;
      for (const { iface, nic } of this.#entries) {
        try {
          if (iface.poll(now)) work = true;
          nic.flush(now);
        } catch (error) {
          // The stack never throws on bad input; this is an app handler or a bug. Keep serving.
          this.stats.errors++;
          log.error(`poll failed: ${error instanceof Error ? error.stack : String(error)}`);
        }
      }
      if (work) {
        this.stats.busyRounds++;
        await yieldToEventLoop();
        continue;
      }
      const timeout = this.#sleepFor(now);
      if (timeout <= 0 || this.#woken) {
        await yieldToEventLoop();
        continue;
      }
      await this.#sleep(timeout);
    }
  }

  /** Milliseconds until the earliest deadline, capped at the longest sleep. */
  #sleepFor(now: number): number {
    let at: number | undefined;
    for (const { iface } of this.#entries) {
      const t = iface.pollAt(now);
      if (t !== undefined && (at === undefined || t < at)) at = t;
    }
    if (at === undefined) return this.#maxSleep;
    return Math.min(this.#maxSleep, at - this.#clock());
  }

  async #sleep(timeoutMs: number): Promise<void> {
    this.stats.sleeps++;
    const woken = new Promise<void>((resolve) => (this.#wakeResolve = resolve));
    const waits: Promise<void>[] = [woken];
    for (const { nic } of this.#entries) waits.push(nic.wait(timeoutMs));
    try {
      await Promise.race(waits);
    } catch (error) {
      this.stats.errors++;
      log.error(`wait failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.#wakeResolve = undefined;
    }
  }
}
