import assert from "node:assert/strict";
import { DmaArena, HeapDma } from "./dma.ts";
import { needEvent, placeQueue, queueAreaSizes, SplitQueue } from "./queue.ts";

function queueOver(size: number, eventIdx: boolean) {
  const memory = new HeapDma(8);
  const layout = placeQueue(new DmaArena(memory), size);
  const queue = new SplitQueue(memory, layout, eventIdx);
  const view = new DataView(memory.bytes.buffer);
  return { memory, layout, queue, view };
}

Deno.test("needEvent follows vring_need_event across the 16-bit wrap", () => {
  assert.equal(needEvent(0, 1, 0), true);
  assert.equal(needEvent(5, 5, 0), false); // event 5 not yet passed: next must go beyond it
  assert.equal(needEvent(5, 6, 0), true);
  assert.equal(needEvent(0xffff, 0, 0xfffe), true);
  assert.equal(needEvent(0xfffe, 3, 0xffff), false);
  assert.equal(needEvent(0xffff, 3, 0xffff), true);
});

Deno.test("placeQueue aligns areas and rejects sizes that are not powers of 2", () => {
  const { layout } = queueOver(256, false);
  assert.equal(layout.descOffset % 16, 0);
  assert.equal(layout.availOffset % 2, 0);
  assert.equal(layout.usedOffset % 4, 0);
  const sizes = queueAreaSizes(256);
  assert.ok(layout.availOffset >= layout.descOffset + sizes.desc);
  assert.ok(layout.usedOffset >= layout.availOffset + sizes.avail);
  assert.throws(() => placeQueue(new DmaArena(new HeapDma(4)), 100), /power of 2/);
});

Deno.test("descriptors are written little-endian with 64-bit addresses and the WRITE flag", () => {
  const { queue, layout, view } = queueOver(8, false);
  queue.setDescriptor(3, 0x1_2345_6780, 2048, true);
  const at = layout.descOffset + 3 * 16;
  assert.equal(view.getUint32(at, true), 0x2345_6780);
  assert.equal(view.getUint32(at + 4, true), 1);
  assert.equal(view.getUint32(at + 8, true), 2048);
  assert.equal(view.getUint16(at + 12, true), 2);
  queue.setDescriptor(4, 0x1000, 60, false);
  assert.equal(view.getUint16(at + 16 + 12, true), 0);
});

Deno.test("offered ids become visible only on publish, which honours NO_NOTIFY", () => {
  const { queue, layout, view } = queueOver(8, false);
  queue.offer(5);
  queue.offer(6);
  assert.equal(view.getUint16(layout.availOffset + 2, true), 0);
  assert.equal(queue.unpublished, 2);
  assert.equal(queue.publish(), true);
  assert.equal(view.getUint16(layout.availOffset + 2, true), 2);
  assert.equal(view.getUint16(layout.availOffset + 4, true), 5);
  assert.equal(view.getUint16(layout.availOffset + 6, true), 6);
  assert.equal(queue.publish(), false, "nothing new, no notification");
  view.setUint16(layout.usedOffset, 1, true); // device: VIRTQ_USED_F_NO_NOTIFY
  queue.offer(1);
  assert.equal(queue.publish(), false);
});

Deno.test("with EVENT_IDX publish notifies only when avail_event is passed", () => {
  const { queue, layout, view } = queueOver(8, true);
  const availEvent = layout.usedOffset + 4 + 8 * 8;
  view.setUint16(availEvent, 0, true);
  queue.offer(0);
  assert.equal(queue.publish(), true); // 0 -> 1 passes event 0
  queue.offer(1);
  assert.equal(queue.publish(), false); // 1 -> 2 does not pass 0 again
  view.setUint16(availEvent, 3, true);
  queue.offer(2);
  assert.equal(queue.publish(), false); // 2 -> 3: event 3 not passed
  queue.offer(3);
  assert.equal(queue.publish(), true); // 3 -> 4 passes 3
});

Deno.test("takeUsed walks the used ring in order, wraps, and flags ids outside the table", () => {
  const { queue, layout, view } = queueOver(4, false);
  const push = (index: number, id: number, length: number) => {
    const slot = layout.usedOffset + 4 + 8 * (index % 4);
    view.setUint32(slot, id, true);
    view.setUint32(slot + 4, length, true);
    view.setUint16(layout.usedOffset + 2, (index + 1) & 0xffff, true);
  };
  assert.equal(queue.takeUsed(), -1);
  let index = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 4; i++) push(index++, (i + round) % 4, 100 + i);
    assert.equal(queue.usedPending, 4);
    for (let i = 0; i < 4; i++) {
      assert.equal(queue.takeUsed(), (i + round) % 4);
      assert.equal(queue.usedLength, 100 + i);
    }
    assert.equal(queue.takeUsed(), -1);
  }
  push(index++, 9, 0);
  assert.equal(queue.takeUsed(), -2);
  assert.equal(queue.takeUsed(), -1);
});

Deno.test("used index wraps at 65536", () => {
  const { queue, layout, view } = queueOver(4, false);
  for (let index = 0; index < 70000; index++) {
    const slot = layout.usedOffset + 4 + 8 * (index % 4);
    view.setUint32(slot, index % 4, true);
    view.setUint16(layout.usedOffset + 2, (index + 1) & 0xffff, true);
    assert.equal(queue.takeUsed(), index % 4);
  }
  assert.equal(queue.takeUsed(), -1);
});

Deno.test("suppressInterrupts sets NO_INTERRUPT and parks used_event behind the last used index", () => {
  const { queue, layout, view } = queueOver(8, true);
  queue.suppressInterrupts();
  assert.equal(view.getUint16(layout.availOffset, true), 1);
  assert.equal(view.getUint16(layout.availOffset + 4 + 2 * 8, true), 0xffff);
  queue.requestInterrupt();
  assert.equal(view.getUint16(layout.availOffset, true), 0);
  assert.equal(view.getUint16(layout.availOffset + 4 + 2 * 8, true), 0);
});
