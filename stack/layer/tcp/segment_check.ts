/**
 * The sequence-number acceptability test of RFC 9293 §3.10.7.4.
 *
 * @module
 */

import { seqAdd, seqLe, seqLt } from "../../wire/seq.ts";

/**
 * RFC 9293 §3.10.7.4, Table 6: whether a segment of `segLen` at `seq` overlaps the receive window. Like
 * Linux (`tcp_sequence`), a segment without data may sit exactly at the right edge: a peer whose sends
 * filled our window acknowledges from there (its `tcp_acceptable_seq`).
 */
export function acceptable(seq: number, segLen: number, rcvNxt: number, rcvWnd: number): boolean {
  if (segLen === 0) {
    if (rcvWnd === 0) return seq === rcvNxt;
    return seqLe(rcvNxt, seq) && seqLe(seq, seqAdd(rcvNxt, rcvWnd));
  }
  if (rcvWnd === 0) return false;
  const last = seqAdd(seq, segLen - 1);
  const right = seqAdd(rcvNxt, rcvWnd);
  return (seqLe(rcvNxt, seq) && seqLt(seq, right)) || (seqLe(rcvNxt, last) && seqLt(last, right));
}
