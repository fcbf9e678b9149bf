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
