import assert from "node:assert/strict";
import { ReceiveWindow } from "./rcv_window.ts";

Deno.test("ReceiveWindow: advertises free space, scaled", () => {
  const w = new ReceiveWindow();
  w.reset(1000);
  assert.equal(w.field(1000, 80_000, 2, 1460), 20_000);
  w.commit();
  assert.equal(w.right, 81_000);
  assert.equal(w.size(1000), 80_000);
});

Deno.test("ReceiveWindow: the right edge never moves left", () => {
  const w = new ReceiveWindow();
  w.reset(0);
  w.field(0, 10_000, 0, 1460);
  w.commit();
  // The app has not read and 4000 bytes arrived: free space shrank, the edge stays.
  assert.equal(w.field(4000, 6000, 0, 1460), 6000);
  assert.equal(w.field(4000, 1000, 0, 1460), 6000);
});

Deno.test("ReceiveWindow: small openings are not advertised (receiver SWS avoidance)", () => {
  const w = new ReceiveWindow();
  w.reset(0);
  w.field(0, 0, 0, 1460);
  w.commit();
  assert.equal(w.field(0, 100, 0, 1460), 0);
  assert.equal(w.growth(0, 100, 0), 100);
  assert.equal(w.field(0, 1460, 0, 1460), 1460);
});
