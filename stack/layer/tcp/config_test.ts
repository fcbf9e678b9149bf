import assert from "node:assert/strict";
import { resolveTcpConfig, TCP_DEFAULTS } from "./config.ts";

Deno.test("config: unset fields come from the base, undefined does not override", () => {
  const base = resolveTcpConfig({ recvBufferSize: 1000 });
  const c = resolveTcpConfig({ noDelay: true, sendBufferSize: undefined }, base);
  assert.equal(c.recvBufferSize, 1000);
  assert.equal(c.noDelay, true);
  assert.equal(c.sendBufferSize, TCP_DEFAULTS.sendBufferSize);
  assert.equal(TCP_DEFAULTS.noDelay, false, "the defaults are not modified");
});

Deno.test("config: a send buffer size alone fixes the size; the maximum grows it otherwise", () => {
  assert.equal(TCP_DEFAULTS.sendBufferMax > TCP_DEFAULTS.sendBufferSize, true);
  const fixed = resolveTcpConfig({ sendBufferSize: 1000 });
  assert.equal(fixed.sendBufferMax, 1000);
  const both = resolveTcpConfig({ sendBufferSize: 1000, sendBufferMax: 5000 });
  assert.equal(both.sendBufferMax, 5000);
  assert.equal(resolveTcpConfig({}, fixed).sendBufferMax, 1000, "inherited with the size");
  assert.equal(resolveTcpConfig({ noDelay: true }).sendBufferMax, TCP_DEFAULTS.sendBufferMax);
});
