import assert from "node:assert/strict";
import { TcpRepr } from "../../wire/tcp.ts";
import { resolveTcpConfig } from "./config.ts";
import { ConnOptions, DEFAULT_MSS, tsLt, windowScaleFor } from "./options.ts";

function syn(fields: Partial<TcpRepr>): TcpRepr {
  return Object.assign(new TcpRepr(), fields);
}

Deno.test("options: window scale covers the buffer", () => {
  assert.equal(windowScaleFor(65535), 0);
  assert.equal(windowScaleFor(65536), 1);
  assert.equal(windowScaleFor(1 << 20), 5);
  assert.equal(windowScaleFor(1 << 30), 14);
});

Deno.test("options: negotiation takes only what both sides want", () => {
  const o = new ConnOptions(resolveTcpConfig({ sack: false }), 0);
  o.negotiate(syn({ mss: 1200, windowScale: 3, sackPermitted: true, tsVal: 9 }), 0, true);
  assert.equal(o.peerMss, 1200);
  assert.equal(o.sndWscale, 3);
  assert.equal(o.sackOk, false);
  assert.equal(o.tsOk, true);
  assert.equal(o.tsRecent, 9);
});

Deno.test("options: no MSS option means 536, and timestamps cost 12 bytes", () => {
  const o = new ConnOptions(resolveTcpConfig({}), 0);
  o.negotiate(syn({}), 0, false);
  assert.equal(o.peerMss, DEFAULT_MSS);
  assert.equal(o.mss(), 536);
  o.negotiate(syn({ mss: 1460, tsVal: 1 }), 0, false);
  assert.equal(o.mss(), 1448);
});

Deno.test("options: PAWS rejects older timestamps, with wrap-around", () => {
  const o = new ConnOptions(resolveTcpConfig({}), 0);
  o.negotiate(syn({ tsVal: 0xfffffff0 }), 0, false);
  assert.equal(o.pawsRejects(0xffffffe0, 1), true);
  assert.equal(o.pawsRejects(5, 1), false);
  assert.equal(tsLt(0xffffffff, 0), true);
});

Deno.test("options: TS.Recent follows only segments at or below Last.ACK.sent", () => {
  const o = new ConnOptions(resolveTcpConfig({}), 0);
  o.negotiate(syn({ tsVal: 100 }), 0, false);
  o.lastAckSent = 1000;
  o.noteTimestamp(2000, 150, 1);
  assert.equal(o.tsRecent, 100);
  o.noteTimestamp(1000, 150, 1);
  assert.equal(o.tsRecent, 150);
});
