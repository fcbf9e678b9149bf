/**
 * The sender's SACK scoreboard for RFC 6675 loss recovery: which bytes between SND.UNA and SND.NXT
 * the peer has reported holding, and from that IsLost, the `pipe` estimate and NextSeg.
 *
 * Ranges are kept as offsets from the last SND.UNA seen, sorted, disjoint and not touching, and at most
 * `maxRanges` of them: when a new range does not fit, the least recently reported one is forgotten,
 * which only makes the sender retransmit more than needed. `highRxt` here is exclusive: the sequence
 * number after the last byte retransmitted in this recovery (RFC 6675's HighRxt + 1), so set it to
 * SND.UNA when recovery starts.
 *
 * @module
 */

/** RFC 6675 §2: DupThresh, the segments SACKed above a hole before it counts as lost. */
export const DUP_THRESH = 3;

/** The SACK information a sender holds for its outstanding data. */
export class SackScoreboard {
  #base = 0;
  #starts: number[] = [];
  #ends: number[] = [];
  #stamps: number[] = [];
  #count = 0;
  #clock = 0;
  #maxRanges: number;

  /** A scoreboard that remembers at most `maxRanges` SACKed ranges. */
  constructor(maxRanges = 32) {
    this.#maxRanges = Math.max(1, maxRanges);
  }

  /** Forgets everything, e.g. after a retransmission timeout (RFC 6675 §5.1). */
  reset(sndUna: number): void {
    this.#base = sndUna >>> 0;
    this.#count = 0;
  }

  /**
   * Takes the cumulative ACK and the SACK blocks (flat pairs) of one incoming ACK. Blocks at or below
   * SND.UNA (D-SACK, RFC 2883), inverted or reaching beyond SND.NXT are ignored.
   */
  update(sndUna: number, sackBlocks: number[], sndNxt: number): void {
    this.#rebase(sndUna);
    const limit = (sndNxt - this.#base) | 0;
    for (let i = 0; i + 1 < sackBlocks.length; i += 2) {
      const start = Math.max(0, (sackBlocks[i] - this.#base) | 0);
      const end = (sackBlocks[i + 1] - this.#base) | 0;
      if (end <= start || end > limit) continue;
      this.#insert(start, end);
    }
  }

  /** Whether the byte `seq` has been SACKed. */
  isSacked(seq: number): boolean {
    const off = (seq - this.#base) | 0;
    for (let i = 0; i < this.#count; i++) {
      if (off < this.#starts[i]) return false;
      if (off < this.#ends[i]) return true;
    }
    return false;
  }

  /**
   * RFC 6675 IsLost: DupThresh discontiguous SACKed ranges, or more than (DupThresh - 1) * SMSS SACKed
   * bytes, lie above `seq`.
   */
  isLost(seq: number, mss: number): boolean {
    return this.#lostAt((seq - this.#base) | 0, mss);
  }

  /** The sequence number after the highest SACKed byte, if any. */
  get highestSacked(): number | undefined {
    return this.#count === 0 ? undefined : (this.#base + this.#ends[this.#count - 1]) >>> 0;
  }

  /** SACKed bytes held. */
  get sackedBytes(): number {
    let total = 0;
    for (let i = 0; i < this.#count; i++) total += this.#ends[i] - this.#starts[i];
    return total;
  }

  /** How many SACKed ranges are held. */
  get rangeCount(): number {
    return this.#count;
  }

  /**
   * RFC 6675 SetPipe: bytes in flight. Each byte in [SND.UNA, SND.NXT) that is not SACKed counts once
   * if not lost and once more if it was retransmitted (below `highRxt`).
   */
  pipe(sndUna: number, sndNxt: number, highRxt: number, mss: number): number {
    this.#rebase(sndUna);
    const end = (sndNxt - this.#base) | 0;
    const rxt = (highRxt - this.#base) | 0;
    let pipe = 0;
    let holeStart = 0;
    for (let i = 0; i <= this.#count; i++) {
      const holeEnd = i < this.#count ? Math.min(this.#starts[i], end) : end;
      if (holeEnd > holeStart) {
        // Every byte of a hole has the same SACKed bytes above it, so IsLost holds for all or none.
        if (!this.#lostAt(holeEnd - 1, mss)) pipe += holeEnd - holeStart;
        if (rxt > holeStart) pipe += Math.min(rxt, holeEnd) - holeStart;
      }
      if (i < this.#count) holeStart = this.#ends[i];
      if (holeStart >= end) break;
    }
    return pipe;
  }

  /**
   * RFC 6675 NextSeg: the first byte to retransmit. Rule 1 returns the first un-SACKed byte at or
   * above `highRxt` that IsLost; with `rule3` (call it after rule 2, new data, had nothing to send)
   * any un-SACKed byte at or above `highRxt` below the highest SACKed byte. `undefined` if none.
   */
  nextSegmentToRetransmit(
    sndUna: number,
    sndNxt: number,
    highRxt: number,
    mss: number,
    rule3 = false,
  ): number | undefined {
    this.#rebase(sndUna);
    const end = (sndNxt - this.#base) | 0;
    const from = Math.max(0, (highRxt - this.#base) | 0);
    let holeStart = 0;
    for (let i = 0; i < this.#count; i++) {
      const holeEnd = Math.min(this.#starts[i], end);
      const start = Math.max(holeStart, from);
      if (holeEnd > start) {
        if (this.#lostAt(holeEnd - 1, mss)) return (this.#base + start) >>> 0;
        // Holes further up have fewer SACKed bytes above them: none of them is lost either.
        return rule3 ? (this.#base + start) >>> 0 : undefined;
      }
      holeStart = this.#ends[i];
    }
    return undefined;
  }

  /** How many bytes to send at `seq`: up to `mss`, stopping at the next SACKed range and at SND.NXT. */
  segmentLength(seq: number, sndNxt: number, mss: number): number {
    const off = (seq - this.#base) | 0;
    let limit = Math.min(off + mss, (sndNxt - this.#base) | 0);
    for (let i = 0; i < this.#count; i++) {
      if (this.#starts[i] > off) {
        limit = Math.min(limit, this.#starts[i]);
        break;
      }
    }
    return Math.max(0, limit - off);
  }

  #lostAt(off: number, mss: number): boolean {
    let ranges = 0;
    let bytes = 0;
    for (let i = this.#count - 1; i >= 0 && this.#ends[i] > off + 1; i--) {
      ranges++;
      bytes += this.#ends[i] - Math.max(this.#starts[i], off + 1);
      if (ranges >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return true;
    }
    return false;
  }

  /** Moves the offsets' origin to `sndUna`, dropping what it acknowledges. */
  #rebase(sndUna: number): void {
    const delta = (sndUna - this.#base) | 0;
    this.#base = sndUna >>> 0;
    if (delta === 0) return;
    let kept = 0;
    for (let i = 0; i < this.#count; i++) {
      const end = this.#ends[i] - delta;
      if (end <= 0) continue;
      this.#starts[kept] = Math.max(0, this.#starts[i] - delta);
      this.#ends[kept] = end;
      this.#stamps[kept] = this.#stamps[i];
      kept++;
    }
    this.#count = kept;
  }

  #insert(start: number, end: number): void {
    let first = 0;
    while (first < this.#count && this.#ends[first] < start) first++;
    let last = first;
    while (last < this.#count && this.#starts[last] <= end) last++;
    if (first < last) {
      start = Math.min(start, this.#starts[first]);
      end = Math.max(end, this.#ends[last - 1]);
    } else if (this.#count >= this.#maxRanges) {
      const victim = this.#oldest();
      this.#remove(victim, 1);
      if (victim < first) first--;
      last = first;
    }
    // Replace ranges first .. last - 1 by [start, end).
    this.#remove(first, last - first);
    for (let i = this.#count; i > first; i--) {
      this.#starts[i] = this.#starts[i - 1];
      this.#ends[i] = this.#ends[i - 1];
      this.#stamps[i] = this.#stamps[i - 1];
    }
    this.#starts[first] = start;
    this.#ends[first] = end;
    this.#stamps[first] = ++this.#clock;
    this.#count++;
  }

  #remove(index: number, n: number): void {
    if (n <= 0) return;
    for (let i = index; i + n < this.#count; i++) {
      this.#starts[i] = this.#starts[i + n];
      this.#ends[i] = this.#ends[i + n];
      this.#stamps[i] = this.#stamps[i + n];
    }
    this.#count -= n;
  }

  #oldest(): number {
    let oldest = 0;
    for (let i = 1; i < this.#count; i++) if (this.#stamps[i] < this.#stamps[oldest]) oldest = i;
    return oldest;
  }
}
