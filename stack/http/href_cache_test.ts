import assert from "node:assert/strict";
import { HrefCache } from "./href_cache.ts";

Deno.test("HrefCache gives what new URL(...).href gives, invalid URLs as undefined", () => {
  const cache = new HrefCache(8);
  for (
    const raw of [
      "http://Example.TEST:80/a/./b/../c?x=1 2",
      "http://127.1:8080/%7e/{}",
      "http://h/a\\b",
      "http://[::0:1]/",
      "http://h/",
    ]
  ) {
    assert.equal(cache.href(raw), new URL(raw).href);
    assert.equal(cache.href(raw), new URL(raw).href, "the remembered answer is the same");
  }
  assert.equal(cache.href("http://a b/"), undefined);
  assert.equal(cache.href("http://a b/"), undefined, "a remembered failure stays a failure");
});

Deno.test("HrefCache stays within its capacity, dropping the oldest URL first", () => {
  const cache = new HrefCache(4);
  for (let i = 0; i < 1000; i++) cache.href(`http://h/${i}`);
  assert.equal(cache.size, 4);
  assert.equal(cache.href("http://h/999"), "http://h/999");
  assert.equal(cache.size, 4, "a hit adds nothing");
  cache.href("http://h/new");
  assert.equal(cache.size, 4);
});

Deno.test("HrefCache rejects a capacity that is not a positive integer", () => {
  assert.throws(() => new HrefCache(0), /positive integer/);
  assert.throws(() => new HrefCache(1.5), /positive integer/);
});
