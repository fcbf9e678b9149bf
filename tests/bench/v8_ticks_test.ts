import assert from "node:assert/strict";
import { summarizeTicks } from "./v8_ticks.ts";

// A hand-made log in the format of V8's --prof: a library, two JS functions (one moved), a builtin, a
// deleted code object, and ticks with their stacks (pc, time in µs, ..., then return addresses).
const LOG = [
  'shared-library,"/usr/bin/deno",0x1000,0x9000,0',
  'code-creation,JS,13,10,0x20000,0x100,"onesSum file:///app/stack/wire/checksum.ts:50:28",0x1,*',
  "code-creation,JS,12,11,0x30000,0x100,send file:///app/stack/nic/virtio/net.ts:222:7,0x2,+",
  "code-creation,Builtin,3,12,0x40000,0x80,TypedArrayPrototypeSubArray",
  "code-creation,JS,10,13,0x50000,0x10,gone file:///x.ts:1:1,0x3,~",
  "code-move,0x30000,0x60000",
  "code-delete,0x50000",
  "tick,0x20010,1000,0,0x0,0",
  "tick,0x20020,2000000,0,0x0,0",
  "tick,0x60010,2000100,0,0x0,0",
  "tick,0x40010,2000200,0,0x0,0,0x60020",
  "tick,0x1500,2000300,0,0x0,0,0x1600,0x20030",
  "tick,0x1500,2000400,0,0x0,0",
  "tick,0x50001,2000500,0,0x0,0",
].join("\n");

Deno.test("summarizeTicks charges ticks to code, tiers and innermost JavaScript callers", () => {
  const all = summarizeTicks(LOG, { focus: "deno" });
  assert.equal(all.total, 7);
  const self = Object.fromEntries(all.self.map((c) => [c.name, c.ticks]));
  assert.equal(self["JS onesSum file:///app/stack/wire/checksum.ts:50:28 *"], 2);
  assert.equal(
    self["JS send file:///app/stack/nic/virtio/net.ts:222:7 +"],
    1,
    "found after its move",
  );
  assert.equal(self["Builtin TypedArrayPrototypeSubArray"], 1);
  assert.equal(self["[deno]"], 2);
  assert.equal(self["[unknown]"], 1, "deleted code is not resolved");
  const inner = Object.fromEntries(all.innermostJs.map((c) => [c.name, c.ticks]));
  assert.equal(inner["JS onesSum file:///app/stack/wire/checksum.ts:50:28 *"], 3);
  assert.equal(inner["JS send file:///app/stack/nic/virtio/net.ts:222:7 +"], 2);
  assert.equal(inner["[no JavaScript] [deno]"], 1);
  assert.deepEqual(all.callers, [
    { name: "JS onesSum file:///app/stack/wire/checksum.ts:50:28 *", ticks: 1 },
    { name: "[none]", ticks: 1 },
  ]);
  assert.equal(all.self[0].ticks, 2, "most first");
});

Deno.test("summarizeTicks keeps only the ticks after sinceUs", () => {
  assert.equal(summarizeTicks(LOG, { sinceUs: 1_000_000 }).total, 6);
  assert.equal(summarizeTicks(LOG, { sinceUs: 3_000_000 }).total, 0);
});
