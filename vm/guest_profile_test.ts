import assert from "node:assert/strict";
import { PROFILE_BEGIN, PROFILE_END, ProfileCapture } from "./guest_profile.ts";

Deno.test("ProfileCapture takes the lines between the markers, and only those", () => {
  const capture = new ProfileCapture();
  const console: string[] = [];
  for (
    const line of [
      "init: app exited",
      PROFILE_BEGIN,
      "v8-version,1",
      "tick,0x1,5",
      PROFILE_END,
      "x",
    ]
  ) {
    if (!capture.take(line)) console.push(line);
    if (line === "tick,0x1,5") assert.equal(capture.text, undefined, "not done before the end");
  }
  assert.deepEqual(console, ["init: app exited", "x"]);
  assert.equal(capture.text, "v8-version,1\ntick,0x1,5");
});
