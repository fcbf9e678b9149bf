import assert from "node:assert/strict";
import { processCpuSeconds } from "./process_cpu.ts";

Deno.test("processCpuSeconds reads a live process and is NaN for one that is gone", () => {
  const mine = processCpuSeconds(Deno.pid);
  assert.ok(Number.isFinite(mine) && mine >= 0, `own CPU seconds ${mine}`);
  // PIDs are below 2^22 on Linux (pid_max), so this one never exists.
  assert.ok(Number.isNaN(processCpuSeconds(1 << 23)));
});
