/**
 * Structured fuzzing: well-formed segments with random flags, sequence and acknowledgment numbers near
 * the window, options and payloads, fed to connections in every state. Nothing may throw, and the
 * endpoint must stay consistent (every connection findable, deadlines finite or absent).
 */
import assert from "node:assert/strict";
import { TcpState } from "../../stack/layer/tcp/state.ts";
import { Rng } from "../../stack/util/rng.ts";
import { established, type Harness, synReceived, synSent } from "./fixture.ts";

const FLAGS = [
  "SYN",
  "ACK",
  "FIN",
  "RST",
  "PSH",
  "URG",
  "SYN|ACK",
  "FIN|ACK",
  "RST|ACK",
  "ACK|PSH",
];

function fuzz(h: Harness, rs: number, ls: number, rng: Rng, rounds: number): void {
  const near = (base: number) => (base + rng.below(200_000) - 100_000) >>> 0;
  for (let i = 0; i < rounds; i++) {
    const flags = FLAGS[rng.below(FLAGS.length)];
    const seq = rng.below(4) === 0 ? rng.nextU32() : near(rs);
    const ack = rng.below(4) === 0 ? rng.nextU32() : near(ls);
    const withTs = rng.below(3) === 0;
    h.send({
      seq,
      ack,
      flags,
      window: rng.below(65536),
      payload: rng.below(3) === 0 ? rng.below(1400) : 0,
      mss: rng.below(5) === 0 ? rng.below(65536) : undefined,
      windowScale: rng.below(8) === 0 ? rng.below(20) : undefined,
      sackPermitted: rng.below(8) === 0,
      sackBlocks: rng.below(5) === 0 ? [near(ls), near(ls), near(ls), near(ls)] : undefined,
      tsVal: withTs ? rng.nextU32() : undefined,
      tsEcr: withTs ? rng.nextU32() : undefined,
    });
    if (rng.below(4) === 0) h.now += rng.below(5000);
    h.recv();
    const at = h.endpoint.pollAt(h.now);
    assert.ok(at === undefined || Number.isFinite(at), `pollAt ${at}`);
  }
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  Deno.test(`fuzz: random segments against every opening state, seed ${seed}`, () => {
    const rng = new Rng(seed);
    const est = established({ tcp: { sack: true, timestamps: true, windowScaling: true } }, {
      sackPermitted: true,
      tsVal: 5,
      windowScale: 3,
    });
    est.conn.write(new Uint8Array(20_000));
    est.h.recv();
    fuzz(est.h, est.rs, est.ls, rng, 1500);
    const sr = synReceived();
    fuzz(sr.h, 10_001, sr.iss + 1, rng, 500);
    const ss = synSent();
    fuzz(ss.h, 10_001, ss.iss + 1, rng, 500);
    for (const h of [est.h, sr.h, ss.h]) {
      for (const conn of h.endpoint.connections()) {
        assert.notEqual(conn.state, TcpState.Closed, "closed connections leave the tables");
        assert.equal(
          h.endpoint.find(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort),
          conn,
        );
      }
    }
  });
}

Deno.test("fuzz: closing states survive random segments", () => {
  const rng = new Rng(99);
  for (let variant = 0; variant < 4; variant++) {
    const { h, conn, rs, ls } = established();
    if (variant >= 1) conn.closeWrite();
    h.recv();
    if (variant >= 2) h.send({ seq: rs, ack: ls + 1, flags: "ACK" });
    if (variant >= 3) h.send({ seq: rs, ack: ls + 1, flags: "FIN|ACK" });
    fuzz(h, rs, ls, rng, 800);
    assert.ok(h.endpoint.connectionCount <= 2);
  }
});
