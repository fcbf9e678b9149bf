import assert from "node:assert/strict";
import {
  AddrInUse,
  BadResource,
  ConnectionRefused,
  ConnectionReset,
  TimedOut,
} from "./tcp_errors.ts";

Deno.test("TCP errors: classes extending Error with Deno's names", () => {
  for (
    const [Class, name] of [
      [ConnectionRefused, "ConnectionRefused"],
      [ConnectionReset, "ConnectionReset"],
      [TimedOut, "TimedOut"],
      [AddrInUse, "AddrInUse"],
      [BadResource, "BadResource"],
    ] as const
  ) {
    const error = new Class();
    assert.ok(error instanceof Error);
    assert.equal(error.name, name);
    assert.ok(error.message.length > 0);
  }
  assert.equal(new ConnectionReset("Custom").message, "Custom");
});
