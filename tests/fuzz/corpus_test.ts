/**
 * Replays the fuzz corpus (tests/fuzz/corpus/*.hex): each entry's frames fed to a fresh harness, and
 * the run of its seed up to its frame, must keep every invariant, in strict mode now that the bugs it
 * tolerates are fixed (see `HarnessOptions.strict` and tests/hardening/regressions_test.ts).
 */

import assert from "node:assert/strict";
import { readCorpus } from "./corpus.ts";
import { fromHex, FuzzHarness } from "./harness.ts";

const entries = readCorpus();

Deno.test("fuzz corpus: it holds the inputs the fuzzer found", () => {
  assert.ok(entries.length >= 3, `only ${entries.length} corpus entries`);
  for (const e of entries) {
    assert.ok(e.frames.length > 0, `${e.name} has no frames`);
    assert.ok(e.message.length > 0, `${e.name} has no message`);
  }
});

for (const entry of entries) {
  Deno.test(`fuzz corpus ${entry.name}: its frames keep every invariant`, () => {
    const h = new FuzzHarness({ seed: entry.seed, strict: true });
    for (const hex of entry.frames) {
      const bytes = fromHex(hex);
      h.feed(bytes, bytes.length);
    }
    for (let i = 0; i < 50; i++) h.step();
    assert.equal(h.failure, undefined, h.failure?.message);
  });
  if (entry.frame <= 20_000) {
    Deno.test(`fuzz corpus ${entry.name}: seed ${entry.seed} to frame ${entry.frame} passes`, () => {
      const h = new FuzzHarness({ seed: entry.seed, strict: true });
      const failure = h.run(entry.frame + 1);
      assert.equal(failure, undefined, failure?.message);
    });
  }
}
