import assert from "node:assert/strict";
import { parseVirtioCapabilities } from "./capabilities.ts";
import { qemuLikeConfig } from "./testing.ts";

Deno.test("parseVirtioCapabilities finds the four register blocks and the notify multiplier", () => {
  const caps = parseVirtioCapabilities(qemuLikeConfig());
  assert.deepEqual(caps, {
    common: { bar: 4, offset: 0, length: 0x1000 },
    notify: { bar: 4, offset: 0x3000, length: 0x1000, multiplier: 4 },
    isr: { bar: 4, offset: 0x1000, length: 0x1000 },
    device: { bar: 4, offset: 0x2000, length: 0x1000 },
  });
});

Deno.test("parseVirtioCapabilities keeps the first capability of a type", () => {
  const config = qemuLikeConfig();
  // Turn the PCI-cfg capability at the end into a second COMMON pointing elsewhere.
  config[0xb3] = 1;
  config[0xb8] = 0x77;
  const caps = parseVirtioCapabilities(config);
  assert.ok(typeof caps !== "string");
  assert.equal(caps.common.offset, 0);
});

Deno.test("parseVirtioCapabilities explains what is missing or malformed", () => {
  const config = qemuLikeConfig();
  config[0x4b] = 0x07; // NOTIFY becomes an unknown type
  assert.match(parseVirtioCapabilities(config) as string, /no virtio NOTIFY capability/);
  const noList = qemuLikeConfig();
  noList[0x06] = 0;
  assert.equal(parseVirtioCapabilities(noList), "PCI device has no capability list");
  const loop = qemuLikeConfig();
  loop[0xb1] = 0x84; // back to an earlier capability
  assert.match(parseVirtioCapabilities(loop) as string, /malformed at 0x84/);
  const low = qemuLikeConfig();
  low[0x34] = 0x10;
  assert.match(parseVirtioCapabilities(low) as string, /malformed at 0x10/);
  assert.match(parseVirtioCapabilities(new Uint8Array(16)) as string, /only 16 bytes/);
});
