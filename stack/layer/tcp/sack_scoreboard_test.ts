import assert from "node:assert/strict";
import { SackScoreboard } from "./sack_scoreboard.ts";
import { Rng } from "../../util/rng.ts";

const MSS = 1000;

Deno.test("SackScoreboard IsLost needs DupThresh segments or ranges SACKed above (RFC 6675 §4)", () => {
  const sb = new SackScoreboard();
  sb.reset(0);
  sb.update(0, [1000, 2000], 10_000);
  assert.ok(sb.isSacked(1000) && sb.isSacked(1999));
  assert.ok(!sb.isSacked(999) && !sb.isSacked(2000));
  assert.ok(!sb.isLost(0, MSS));
  sb.update(0, [1000, 3000], 10_000);
  assert.ok(!sb.isLost(0, MSS)); // exactly 2*SMSS is not more than (DupThresh - 1) * SMSS
  sb.update(0, [1000, 4000], 10_000);
  assert.ok(sb.isLost(0, MSS));
  assert.equal(sb.highestSacked, 4000);
  assert.equal(sb.sackedBytes, 3000);
  // Three discontiguous small ranges also make it lost.
  const small = new SackScoreboard();
  small.update(0, [1000, 1100, 3000, 3100, 5000, 5100], 10_000);
  assert.equal(small.rangeCount, 3);
  assert.ok(small.isLost(0, MSS));
  assert.ok(!small.isLost(2000, MSS));
});

Deno.test("SackScoreboard pipe counts un-SACKed bytes not lost plus retransmitted ones (SetPipe)", () => {
  const sb = new SackScoreboard();
  sb.reset(0);
  sb.update(0, [1000, 4000], 10_000);
  // [0, 1000) is lost; [4000, 10000) is not.
  assert.equal(sb.pipe(0, 10_000, 0, MSS), 6000);
  // After retransmitting the lost segment it counts again.
  assert.equal(sb.pipe(0, 10_000, 1000, MSS), 7000);
  assert.equal(new SackScoreboard().pipe(0, 10_000, 0, MSS), 10_000);
});

Deno.test("SackScoreboard NextSeg rule 1 then rule 3", () => {
  const sb = new SackScoreboard();
  sb.reset(0);
  // Holes at [0,1000) and [2000,3000); SACKed 1000-2000 and 3000-6000.
  sb.update(0, [3000, 6000, 1000, 2000], 10_000);
  assert.equal(sb.nextSegmentToRetransmit(0, 10_000, 0, MSS), 0);
  assert.equal(sb.segmentLength(0, 10_000, MSS), 1000);
  assert.equal(sb.nextSegmentToRetransmit(0, 10_000, 1000, MSS), 2000);
  assert.equal(sb.segmentLength(2000, 10_000, 1460), 1000); // stops at the SACKed range
  assert.equal(sb.nextSegmentToRetransmit(0, 10_000, 3000, MSS), undefined);
  assert.equal(sb.nextSegmentToRetransmit(0, 10_000, 3000, MSS, true), undefined);
  // A hole with too little SACKed above it is not lost: only rule 3 offers it.
  const few = new SackScoreboard();
  few.update(0, [1000, 2000], 10_000);
  assert.equal(few.nextSegmentToRetransmit(0, 10_000, 0, MSS), undefined);
  assert.equal(few.nextSegmentToRetransmit(0, 10_000, 0, MSS, true), 0);
  assert.equal(few.segmentLength(9500, 10_000, MSS), 500); // stops at SND.NXT
});

Deno.test("SackScoreboard drops what the cumulative ACK covers and ignores bad blocks", () => {
  const sb = new SackScoreboard();
  sb.reset(0);
  sb.update(0, [1000, 2000, 3000, 4000], 10_000);
  sb.update(1500, [], 10_000);
  assert.equal(sb.sackedBytes, 1500);
  assert.ok(!sb.isSacked(1499));
  sb.update(3500, [], 10_000);
  assert.equal(sb.sackedBytes, 500);
  sb.update(5000, [], 10_000);
  assert.equal(sb.rangeCount, 0);
  assert.equal(sb.highestSacked, undefined);
  // D-SACK below SND.UNA, inverted, empty and beyond-SND.NXT blocks change nothing.
  sb.update(5000, [4000, 5000, 7000, 6000, 6000, 6000, 9000, 10_001], 10_000);
  assert.equal(sb.rangeCount, 0);
  // A block straddling SND.UNA counts from SND.UNA; an odd trailing number is ignored.
  sb.update(5000, [4000, 6000, 7000], 10_000);
  assert.equal(sb.sackedBytes, 1000);
  sb.reset(8000);
  assert.equal(sb.rangeCount, 0);
});

Deno.test("SackScoreboard works across the sequence-number wrap", () => {
  const una = 0xfffff000;
  const sb = new SackScoreboard();
  sb.reset(una);
  const at = (n: number) => (una + n) >>> 0;
  sb.update(una, [at(1000), at(5000)], at(10_000)); // the range crosses 2^32
  assert.ok(sb.isSacked(at(4096)) && sb.isSacked(0));
  assert.ok(sb.isLost(una, MSS));
  assert.equal(sb.highestSacked, at(5000));
  assert.equal(sb.pipe(una, at(10_000), una, MSS), 5000);
  assert.equal(sb.nextSegmentToRetransmit(una, at(10_000), una, MSS), una);
  sb.update(at(4500), [], at(10_000));
  assert.equal(sb.sackedBytes, 500);
});

Deno.test("SackScoreboard keeps at most maxRanges, forgetting the least recently reported", () => {
  const sb = new SackScoreboard(4);
  for (let i = 0; i < 6; i++) sb.update(0, [i * 200 + 100, i * 200 + 150], 10_000);
  assert.equal(sb.rangeCount, 4);
  assert.ok(!sb.isSacked(100) && !sb.isSacked(300)); // the two oldest are gone
  assert.ok(sb.isSacked(500) && sb.isSacked(1100));
  // Reporting an old range again refreshes it, so the next eviction takes another.
  sb.update(0, [500, 550], 10_000);
  sb.update(0, [5000, 5100], 10_000);
  assert.ok(sb.isSacked(500) && !sb.isSacked(700) && sb.isSacked(5000));
});

Deno.test("SackScoreboard matches a per-byte model of RFC 6675", () => {
  const rng = new Rng(99);
  const mss = 10;
  for (let trial = 0; trial < 40; trial++) {
    const sb = new SackScoreboard(1000);
    const base = rng.nextU32();
    sb.reset(base);
    const n = 400;
    const sacked = new Array<boolean>(n).fill(false);
    let una = 0;
    for (let step = 0; step < 40; step++) {
      if (rng.below(4) === 0) una = Math.min(n, una + rng.below(60));
      const blocks: number[] = [];
      for (let b = rng.below(4); b > 0; b--) {
        const l = una + rng.below(n - una + 1);
        const r = Math.min(n, l + 1 + rng.below(40));
        blocks.push((base + l) >>> 0, (base + r) >>> 0);
        if (r > l) { for (let x = l; x < r; x++) sacked[x] = true; }
      }
      for (let x = 0; x < una; x++) sacked[x] = false;
      sb.update((base + una) >>> 0, blocks, (base + n) >>> 0);
      const lost = (x: number) => {
        let bytes = 0;
        let runs = 0;
        for (let y = x + 1; y < n; y++) {
          if (sacked[y]) {
            bytes++;
            if (y === x + 1 || !sacked[y - 1]) runs++;
          }
        }
        return runs >= 3 || bytes > 2 * mss;
      };
      const rxt = una + rng.below(n - una + 1);
      let pipe = 0;
      for (let x = una; x < n; x++) {
        if (sacked[x]) continue;
        if (!lost(x)) pipe++;
        if (x < rxt) pipe++;
      }
      let highest = -1;
      for (let x = 0; x < n; x++) if (sacked[x]) highest = x;
      let rule1: number | undefined;
      let rule3: number | undefined;
      for (let x = Math.max(una, rxt); x < highest; x++) {
        if (sacked[x]) continue;
        rule3 ??= x;
        if (lost(x)) {
          rule1 = x;
          break;
        }
      }
      const seq = (x: number) => (base + x) >>> 0;
      const tag = `trial ${trial} step ${step}`;
      for (let x = una; x < n; x += 7) {
        assert.equal(sb.isSacked(seq(x)), sacked[x], tag);
        if (!sacked[x]) assert.equal(sb.isLost(seq(x), mss), lost(x), `${tag} x ${x}`);
      }
      assert.equal(sb.pipe(seq(una), seq(n), seq(rxt), mss), pipe, tag);
      const got1 = sb.nextSegmentToRetransmit(seq(una), seq(n), seq(rxt), mss);
      assert.equal(got1, rule1 === undefined ? undefined : seq(rule1), tag);
      const got3 = sb.nextSegmentToRetransmit(seq(una), seq(n), seq(rxt), mss, true);
      const expect3 = rule1 ?? rule3;
      assert.equal(got3, expect3 === undefined ? undefined : seq(expect3), tag);
    }
  }
});
