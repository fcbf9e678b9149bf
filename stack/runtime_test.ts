import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { Interface } from "./layer/interface.ts";
import { Loopback, MemoryPair } from "./nic/memory.ts";
import { Rng } from "./util/rng.ts";
import { Ipv4Cidr } from "./wire/address.ts";
import { type Pollable, Runtime } from "./runtime.ts";

/** An interface stand-in that records polls and reports work as told. */
class FakeIface implements Pollable {
  polls = 0;
  busyFor = 0;
  deadline: number | undefined;
  nic: Loopback;
  received = 0;
  constructor(nic: Loopback) {
    this.nic = nic;
  }
  poll(now: number): boolean {
    this.polls++;
    const got = this.nic.receive(now, () => this.received++);
    if (this.busyFor > 0) {
      this.busyFor--;
      return true;
    }
    return got > 0;
  }
  pollAt(): number | undefined {
    return this.deadline;
  }
}

/** Yields to the event loop until `cond` holds, at most `rounds` times. */
async function until(cond: () => boolean, rounds = 20_000): Promise<boolean> {
  for (let i = 0; i < rounds && !cond(); i++) {
    await new Promise<void>((r) => setImmediate(r));
  }
  return cond();
}

/**
 * Starts a runtime over one `Loopback` NIC and the interface `makeIface` builds on it, runs `body`,
 * then stops the runtime and closes the NIC; resolves to the stopped runtime.
 */
async function withRuntime<I extends Pollable>(
  makeIface: (nic: Loopback) => I,
  body: (runtime: Runtime, iface: I, nic: Loopback) => Promise<void>,
  clock?: () => number,
): Promise<Runtime> {
  const nic = new Loopback();
  const iface = makeIface(nic);
  const runtime = new Runtime([{ iface, nic }], clock, { maxSleepMs: 3_600_000 });
  runtime.start();
  try {
    await body(runtime, iface, nic);
  } finally {
    await runtime.stop();
    nic.close();
  }
  return runtime;
}

const fake = (nic: Loopback) => new FakeIface(nic);

Deno.test("runtime: idle loop sleeps instead of spinning, and wake() ends the sleep", async () => {
  const runtime = await withRuntime(fake, async (runtime, iface) => {
    assert.ok(await until(() => runtime.stats.sleeps === 1));
    const polls = iface.polls;
    // Thousands of event-loop turns later it is still asleep: no busy spinning.
    await until(() => false, 2000);
    assert.equal(iface.polls, polls);
    runtime.wake();
    assert.ok(await until(() => iface.polls > polls));
    assert.equal(runtime.stats.wakes, 1);
  });
  assert.equal(runtime.running, false);
});

Deno.test("runtime: a frame arriving on the NIC ends the sleep", async () => {
  await withRuntime(fake, async (runtime, iface, nic) => {
    assert.ok(await until(() => runtime.stats.sleeps === 1));
    assert.equal(nic.send(0, 60, (b, o, l) => b.fill(7, o, o + l)), true);
    assert.ok(await until(() => iface.received === 1));
  });
});

Deno.test("runtime: a busy stack still lets app code run between rounds", async () => {
  const busy = (nic: Loopback) => Object.assign(new FakeIface(nic), { busyFor: 500 });
  await withRuntime(busy, async (runtime, iface) => {
    let appTurns = 0;
    assert.ok(await until(() => ++appTurns > 0 && iface.busyFor === 0));
    assert.ok(appTurns > 10);
    assert.ok(runtime.stats.busyRounds >= 500);
  });
});

Deno.test("runtime: a due deadline makes it poll again without sleeping", async () => {
  let t = 0;
  const due = (nic: Loopback) => {
    const iface = new FakeIface(nic);
    iface.deadline = 5;
    return iface;
  };
  await withRuntime(due, async (runtime, iface) => {
    // The clock stands at 0, so it sleeps towards the deadline; moving the clock past it and waking polls.
    assert.ok(await until(() => runtime.stats.sleeps === 1));
    t = 10;
    iface.deadline = undefined;
    runtime.wake();
    assert.ok(await until(() => runtime.stats.sleeps === 2));
    assert.ok(iface.polls >= 2);
  }, () => t);
});

Deno.test("runtime: a throwing poll is counted and the loop keeps serving", async () => {
  let calls = 0;
  const throwing = (): Pollable => ({
    poll() {
      if (++calls === 1) throw new Error("app handler failed");
      return false;
    },
    pollAt: () => undefined,
  });
  await withRuntime(throwing, async (runtime) => {
    assert.ok(await until(() => runtime.stats.sleeps === 1));
    assert.equal(runtime.stats.errors, 1);
    runtime.wake();
    assert.ok(await until(() => calls === 2));
  });
});

Deno.test("runtime: drives two interfaces over a memory pair until a ping is answered", async () => {
  const pair = new MemoryPair({ seed: 3 });
  const clock = () => performance.now();
  const a = new Interface(pair.a, {
    addresses: [Ipv4Cidr.parse("10.0.0.1/24")],
    rng: new Rng(1),
    clock,
  });
  const b = new Interface(pair.b, {
    addresses: [Ipv4Cidr.parse("10.0.0.2/24")],
    rng: new Rng(2),
    clock,
  });
  const runtime = new Runtime([{ iface: a, nic: pair.a }, { iface: b, nic: pair.b }], clock, {
    maxSleepMs: 3_600_000,
  });
  let replies = 0;
  a.icmp.onEchoReply = () => replies++;
  runtime.start();
  try {
    assert.ok(await until(() => runtime.stats.sleeps > 0));
    // Sent from app code between rounds, as a CLI does; wake() makes the loop poll at once.
    a.icmp.ping(0x0a000002, { ident: 1, seq: 1, now: clock() });
    runtime.wake();
    assert.ok(await until(() => replies === 1));
  } finally {
    await runtime.stop();
    pair.a.close();
    pair.b.close();
  }
});
