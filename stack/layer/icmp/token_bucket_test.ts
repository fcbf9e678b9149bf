import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("token bucket: burst, then the steady rate", () => {
  const bucket = new TokenBucket(10, 3);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), false);
  assert.equal(bucket.take(99), false);
  assert.equal(bucket.take(100), true);
  assert.equal(bucket.take(100), false);
  // Refill never exceeds the burst.
  assert.equal(bucket.available(100_000), 3);
});

Deno.test("token bucket: a clock stepping back mints nothing", () => {
  const bucket = new TokenBucket(1, 1);
  assert.equal(bucket.take(5000), true);
  assert.equal(bucket.take(0), false);
  assert.equal(bucket.take(5999), false);
  assert.equal(bucket.take(6000), true);
});
