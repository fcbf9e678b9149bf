import assert from "node:assert/strict";
import { Rng } from "../../util/rng.ts";
import {
  Feature,
  featureBit,
  NET_HDR_F_DATA_VALID,
  NET_HDR_F_NEEDS_CSUM,
  Status,
} from "./constants.ts";
import { HeapDma } from "./dma.ts";
import { MODEL_DEFAULT_FEATURES, VirtioNetModel, type VirtioNetModelOptions } from "./model.ts";
import { dmaBytesFor, MAX_MTU, VirtioNet, type VirtioNetOptions } from "./net.ts";
import { ipv4Frame } from "./testing.ts";
import type { InterruptSource } from "./uio.ts";

/** Memory whose 4 KiB pages sit at shuffled bus frames, so contiguity assumptions fail loudly. */
function scatteredMemory(seed: number, queueSize = 256): HeapDma {
  const pages = Math.ceil(dmaBytesFor(queueSize) / 4096);
  const rng = new Rng(seed);
  const frames = Array.from({ length: pages }, (_, i) => 0x10000 + i * 3);
  for (let i = frames.length - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [frames[i], frames[j]] = [frames[j], frames[i]];
  }
  return new HeapDma(pages, 4096, frames);
}

function setup(model: VirtioNetModelOptions = {}, driver: VirtioNetOptions = {}, seed = 1) {
  const memory = scatteredMemory(seed, driver.queueSize ?? 256);
  const device = new VirtioNetModel(memory, model);
  const nic = VirtioNet.start(device, memory, driver);
  return { memory, device, nic };
}

function receiveAll(nic: VirtioNet, budget?: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  nic.receive(
    0,
    (bytes, offset, length) => frames.push(bytes.slice(offset, offset + length)),
    budget,
  );
  return frames;
}

Deno.test("start negotiates VERSION_1 and MAC plus what is offered, and reaches DRIVER_OK", () => {
  const { device, nic } = setup();
  assert.deepEqual(device.errors, []);
  assert.equal(device.getStatus(), 0x0f);
  assert.equal(nic.features, MODEL_DEFAULT_FEATURES);
  assert.equal(nic.mac, 0x525400123456);
  assert.equal(nic.mtu, 1500);
  assert.equal(nic.name, "virtio:model");
  assert.equal(nic.dmaKind, "heap");
  assert.deepEqual(nic.caps, { rxChecksumVerified: false, txChecksumOffload: false });
  assert.equal(device.rxAvailable(), 256, "every receive buffer is handed to the device");
  assert.equal(device.notifications(0), 1);
});

Deno.test("start names missing required features and leaves the device FAILED", () => {
  const memory = scatteredMemory(2);
  const device = new VirtioNetModel(memory, { features: featureBit(Feature.NET_MAC) });
  assert.throws(() => VirtioNet.start(device, memory), /lacks required features VERSION_1/);
  assert.ok(device.getStatus() & Status.FAILED);
});

Deno.test("start reports a device that refuses FEATURES_OK", () => {
  const memory = scatteredMemory(3);
  const device = new VirtioNetModel(memory, { rejectFeatures: true });
  assert.throws(() => VirtioNet.start(device, memory), /rejected features .*FEATURES_OK not kept/);
  assert.ok(device.getStatus() & Status.FAILED);
});

Deno.test("start checks the MTU against the driver's buffers and the device's MTU", () => {
  const offered = MODEL_DEFAULT_FEATURES | featureBit(Feature.NET_MTU);
  assert.throws(() => setup({}, { mtu: MAX_MTU + 1 }), /MTU 2023 is outside 68\.\.2022/);
  assert.throws(
    () => setup({ features: offered, mtu: 1400 }, { mtu: 1500 }),
    /above the device's MTU 1400/,
  );
  assert.equal(setup({ features: offered, mtu: 9000 }, { mtu: 2000 }).nic.mtu, 2000);
});

Deno.test("start fails clearly with fewer than two queues", () => {
  assert.throws(() => setup({ numQueues: 1 }), /has 1 queues, needs 2/);
});

Deno.test("queue size is capped by the device and by the 4 KiB page", () => {
  const { nic, device } = setup({ queueMax: 64 });
  assert.equal(nic.rxQueueSize, 64);
  assert.equal(device.rxAvailable(), 64);
  assert.equal(setup({}, { queueSize: 1024 }).nic.rxQueueSize, 256);
});

Deno.test("received frames reach the handler in place, in order, and buffers return to the device", () => {
  const { device, nic } = setup();
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 600; i++) {
    const frame = ipv4Frame({ payload: new Uint8Array(20 + (i % 50)).fill(i & 0xff) });
    sent.push(frame);
    assert.ok(device.deliver(frame));
    if (i % 7 === 6) assert.deepEqual(receiveAll(nic), sent.splice(0));
  }
  assert.deepEqual(receiveAll(nic), sent);
  assert.equal(device.rxAvailable(), 256);
  assert.equal(nic.stats.rxFrames, 600);
  assert.deepEqual(device.errors, []);
});

Deno.test("the handler sees the DMA buffer itself, not a copy", () => {
  const { device, nic, memory } = setup();
  device.deliver(ipv4Frame());
  nic.receive(0, (bytes) => assert.equal(bytes.buffer, memory.bytes.buffer));
  assert.equal(nic.stats.rxFrames, 1);
});

Deno.test("receive honours the budget and leaves the rest for the next call", () => {
  const { device, nic } = setup();
  for (let i = 0; i < 10; i++) device.deliver(ipv4Frame());
  assert.equal(receiveAll(nic, 4).length, 4);
  assert.equal(receiveAll(nic).length, 6);
});

Deno.test("a full receive ring drops at the device until the driver returns buffers", () => {
  const { device, nic } = setup({ queueMax: 16 });
  let accepted = 0;
  for (let i = 0; i < 20; i++) if (device.deliver(ipv4Frame())) accepted++;
  assert.equal(accepted, 16);
  assert.equal(receiveAll(nic, 100).length, 16);
  assert.ok(device.deliver(ipv4Frame()));
});

Deno.test("malformed used entries are dropped and counted, never thrown", () => {
  const { device, nic } = setup();
  device.deliverRaw(0, 5); // shorter than the header
  device.deliverRaw(1, 12 + 2000); // longer than MTU + 14
  device.deliverRaw(999, 100); // id outside the table
  assert.equal(receiveAll(nic).length, 0);
  assert.equal(nic.stats.rxMalformed, 2);
  assert.equal(nic.stats.rxBadDescriptor, 1);
  assert.equal(nic.stats.rxDropped, 2);
});

Deno.test("a throwing handler still gives the buffer back", () => {
  const { device, nic } = setup({ queueMax: 8 });
  device.deliver(ipv4Frame());
  assert.throws(() =>
    nic.receive(0, () => {
      throw new Error("app bug");
    }), /app bug/);
  nic.receive(0, () => {});
  assert.equal(device.rxAvailable(), 8);
});

Deno.test("send fills in place, flush publishes once, and the device sees zero headers", () => {
  const { device, nic } = setup();
  const frame = ipv4Frame();
  for (let i = 0; i < 3; i++) {
    assert.ok(nic.send(0, frame.length, (bytes, offset, length) => {
      assert.equal(length, frame.length);
      bytes.set(frame, offset);
      bytes[offset + length - 1] = i;
    }));
  }
  assert.deepEqual(device.transmitted(), [], "nothing visible before flush");
  nic.flush(0);
  assert.equal(device.notifications(1), 1);
  const out = device.transmitted();
  assert.equal(out.length, 3);
  out.forEach((f, i) => {
    assert.equal(f.flags, 0);
    assert.equal(f.frame[f.frame.length - 1], i);
    assert.deepEqual(f.frame.subarray(0, 20), frame.subarray(0, 20));
  });
  assert.equal(nic.stats.txFrames, 3);
  assert.deepEqual(device.errors, []);
});

Deno.test("transmit buffers run out, are refused without calling fill, and come back from the used ring", () => {
  const { device, nic } = setup({ queueMax: 8 });
  const fill = (bytes: Uint8Array, offset: number) => bytes.fill(0xaa, offset, offset + 60);
  for (let i = 0; i < 8; i++) assert.ok(nic.send(0, 60, fill));
  assert.equal(nic.send(0, 60, () => assert.fail("fill called with no buffer")), false);
  assert.equal(nic.stats.txBusy, 1);
  nic.flush(0);
  assert.equal(device.transmitted().length, 8);
  assert.equal(nic.txFree, 8);
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 5; i++) assert.ok(nic.send(0, 60, fill));
    nic.flush(0);
    assert.equal(device.transmitted().length, 5);
  }
  assert.deepEqual(device.errors, []);
});

Deno.test("send refuses frames longer than MTU + 14 or shorter than a header", () => {
  const { nic } = setup();
  assert.equal(nic.send(0, 1515, () => assert.fail()), false);
  assert.equal(nic.send(0, 10, () => assert.fail()), false);
  assert.equal(nic.stats.txTooLong, 2);
  assert.ok(nic.send(0, 1514, () => {}));
});

Deno.test("a throwing fill returns its buffer", () => {
  const { nic } = setup({ queueMax: 4 });
  assert.throws(() =>
    nic.send(0, 60, () => {
      throw new Error("fill bug");
    }), /fill bug/);
  assert.equal(nic.txFree, 4);
});

Deno.test("notifications are suppressed while the device polls (EVENT_IDX and flags)", () => {
  for (const eventIdx of [true, false]) {
    const { device, nic } = setup({}, { eventIdx });
    device.polling = true;
    device.advertise();
    for (let i = 0; i < 10; i++) {
      nic.send(0, 60, () => {});
      nic.flush(0);
      device.transmitted();
    }
    assert.equal(device.notifications(1), 0, `eventIdx ${eventIdx}`);
    device.polling = false;
    device.advertise();
    nic.send(0, 60, () => {});
    nic.flush(0);
    assert.equal(device.notifications(1), 1);
    // A second publish before the device looked: under EVENT_IDX it is not notified again.
    nic.send(0, 60, () => {});
    nic.flush(0);
    assert.equal(device.notifications(1), eventIdx ? 1 : 2);
  }
});

Deno.test("CSUM: transmitted TCP and UDP frames carry NEEDS_CSUM with start and offset", () => {
  const features = MODEL_DEFAULT_FEATURES | featureBit(Feature.NET_CSUM) |
    featureBit(Feature.NET_GUEST_CSUM);
  const { device, nic } = setup({ features });
  assert.deepEqual(nic.caps, { rxChecksumVerified: true, txChecksumOffload: true });
  for (const protocol of [17, 6] as const) {
    const frame = ipv4Frame({ protocol, partialChecksum: true });
    nic.send(0, frame.length, (bytes, offset) => bytes.set(frame, offset));
  }
  const arp = new Uint8Array(42);
  arp[12] = 0x08;
  arp[13] = 0x06;
  nic.send(0, arp.length, (bytes, offset) => bytes.set(arp, offset));
  nic.flush(0);
  const [udp, tcp, other] = device.transmitted();
  assert.deepEqual([udp.flags, udp.csumStart, udp.csumOffset], [NET_HDR_F_NEEDS_CSUM, 34, 6]);
  assert.deepEqual([tcp.flags, tcp.csumStart, tcp.csumOffset], [NET_HDR_F_NEEDS_CSUM, 34, 16]);
  assert.deepEqual([other.flags, other.csumStart], [0, 0]);
  nic.close();
  const plain = setup({ features }, { offloads: false });
  assert.deepEqual(plain.nic.caps, { rxChecksumVerified: false, txChecksumOffload: false });
});

Deno.test("GUEST_CSUM: unmarked frames are verified by the driver, marked ones pass", () => {
  const features = MODEL_DEFAULT_FEATURES | featureBit(Feature.NET_GUEST_CSUM);
  const { device, nic } = setup({ features });
  const good = ipv4Frame();
  const bad = ipv4Frame();
  bad[bad.length - 1] ^= 0xff;
  device.deliver(good);
  device.deliver(bad);
  device.deliver(bad, NET_HDR_F_DATA_VALID);
  device.deliver(ipv4Frame({ partialChecksum: true }), NET_HDR_F_NEEDS_CSUM);
  device.deliver(ipv4Frame({ protocol: 6 }));
  assert.equal(receiveAll(nic).length, 4);
  assert.equal(nic.stats.rxChecksumDropped, 1);
});

Deno.test("wait returns at once when a frame is pending and after the timeout otherwise", async () => {
  const { device, nic } = setup();
  device.deliver(ipv4Frame());
  await nic.wait(10_000); // would hang the test if it slept
  assert.equal(receiveAll(nic).length, 1);
  await nic.wait(3);
});

Deno.test("a newer wait ends the loop of an older one", async () => {
  const { nic } = setup();
  const older = nic.wait(60_000);
  await nic.wait(2);
  await older; // would keep the test alive for a minute if the old loop kept polling
});

Deno.test("wait ends when a frame arrives while it sleeps", async () => {
  const { device, nic } = setup();
  const waiting = nic.wait(60_000);
  setTimeout(() => device.deliver(ipv4Frame()), 5);
  await waiting;
  assert.equal(receiveAll(nic).length, 1);
});

Deno.test("DEVICE_NEEDS_RESET gives a clear error from wait", async () => {
  const { device, nic } = setup();
  device.breakDevice();
  await assert.rejects(nic.wait(1), /device needs a reset \(DEVICE_NEEDS_RESET/);
});

Deno.test("the link state follows the config space with STATUS", () => {
  const { device, nic } = setup();
  nic.checkDevice();
  assert.equal(nic.stats.linkUp, 1);
  device.setLink(false);
  nic.checkDevice();
  assert.equal(nic.stats.linkUp, 0);
});

Deno.test("close resets the device", () => {
  const { device, nic } = setup();
  nic.close();
  assert.equal(device.getStatus(), 0);
  nic.close();
});

Deno.test("seeded traffic in both directions keeps rings consistent and ordered over many wraps", () => {
  const { device, nic } = setup({ queueMax: 32 }, {}, 7);
  const rng = new Rng(42);
  const delivered: number[] = [];
  let received = 0;
  let sent = 0;
  let seen = 0;
  const check = (bytes: Uint8Array, offset: number, length: number) => {
    assert.equal(bytes[offset + length - 1], delivered[received++]);
  };
  const consume = () => {
    for (const f of device.transmitted()) assert.equal(f.frame[0], seen++ & 0xff);
  };
  for (let step = 0; step < 3000; step++) {
    const action = rng.nextU32() % 4;
    if (action === 0) {
      if (device.deliver(ipv4Frame({ payload: new Uint8Array([step & 0xff]) }))) {
        delivered.push(step & 0xff);
      }
    } else if (action === 1) {
      nic.receive(0, check, 1 + (rng.nextU32() % 8));
    } else if (action === 2) {
      if (nic.send(0, 60, (bytes, offset) => (bytes[offset] = sent & 0xff))) sent++;
      if (rng.nextU32() % 3 === 0) nic.flush(0);
    } else {
      consume();
    }
  }
  nic.flush(0);
  consume();
  nic.receive(0, check, 1000);
  assert.equal(received, delivered.length);
  assert.equal(seen, sent);
  assert.ok(delivered.length > 500 && sent > 500);
  assert.deepEqual(device.errors, []);
});

/** An interrupt line the model raises, standing in for uio_pci_generic. */
class FakeInterrupts implements InterruptSource {
  unmasked = 0;
  waits = 0;
  #fire: (() => void) | undefined;

  unmask(): void {
    this.unmasked++;
  }

  wait(timeoutMs: number): Promise<boolean> {
    this.waits++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#fire = undefined;
        resolve(false);
      }, timeoutMs);
      this.#fire = () => {
        clearTimeout(timer);
        this.#fire = undefined;
        resolve(true);
      };
    });
  }

  fire(): void {
    this.#fire?.();
  }

  close(): void {}
}

Deno.test("interrupt mode: wait sleeps until the device interrupts, then suppresses again", async () => {
  for (const eventIdx of [true, false]) {
    const memory = scatteredMemory(11);
    const device = new VirtioNetModel(memory);
    const interrupts = new FakeInterrupts();
    device.onInterrupt = () => interrupts.fire();
    const nic = VirtioNet.start(device, memory, { interrupts, eventIdx });
    device.deliver(ipv4Frame());
    assert.equal(device.interrupts, 0, "suppressed while polling");
    await nic.wait(60_000); // a frame is pending: returns without arming
    assert.equal(interrupts.unmasked, 0);
    assert.equal(receiveAll(nic).length, 1);
    const waiting = nic.wait(60_000);
    setTimeout(() => device.deliver(ipv4Frame()), 2);
    await waiting;
    assert.equal(device.interrupts, 1, `eventIdx ${eventIdx}`);
    assert.equal(nic.stats.interrupts, 1);
    assert.equal(interrupts.unmasked, 1);
    assert.equal(device.isr, 0, "the driver read (cleared) the ISR");
    device.deliver(ipv4Frame());
    assert.equal(device.interrupts, 1, "suppressed again after the wait");
    assert.equal(receiveAll(nic).length, 2);
    await nic.wait(1); // times out quietly
    assert.equal(nic.stats.interrupts, 1);
    nic.close();
  }
});

Deno.test("interrupt mode: a frame landing just before the ISR read is not slept through", async () => {
  for (const eventIdx of [true, false]) {
    const memory = scatteredMemory(12);
    const device = new VirtioNetModel(memory);
    const interrupts = new FakeInterrupts();
    device.onInterrupt = () => interrupts.fire();
    const nic = VirtioNet.start(device, memory, { interrupts, eventIdx });
    // The device uses a buffer after the driver asked for an interrupt and before it reads (clears)
    // the ISR: the interrupt fires while nobody waits, and the ISR read then clears it.
    const readIsr = device.readIsr.bind(device);
    let raced = false;
    device.readIsr = () => {
      if (!raced) {
        raced = true;
        device.deliver(ipv4Frame());
      }
      return readIsr();
    };
    await nic.wait(50);
    assert.ok(raced);
    assert.equal(interrupts.waits, 0, `eventIdx ${eventIdx}: slept although a frame was pending`);
    assert.equal(receiveAll(nic).length, 1);
    nic.close();
  }
});
