/**
 * Per-layer counters: packets in and out, and drops by reason. Drops caused by a `WireError` are
 * counted under the error's code, so every layer reports malformed input the same way.
 *
 * @module
 */

import type { WireError } from "../wire/error.ts";

/** Counters every layer keeps; layers add their own drop reasons. */
export interface LayerStats {
  [counter: string]: number;
  rxPackets: number;
  txPackets: number;
  dropTruncated: number;
  dropMalformed: number;
  dropChecksum: number;
  dropUnsupported: number;
}

/** New counters with the common fields and `extra` reasons set to zero. */
export function newLayerStats<K extends string>(
  ...extra: K[]
): LayerStats & { [key in K]: number } {
  const stats: LayerStats = {
    rxPackets: 0,
    txPackets: 0,
    dropTruncated: 0,
    dropMalformed: 0,
    dropChecksum: 0,
    dropUnsupported: 0,
  };
  for (const key of extra) stats[key] = 0;
  return stats as LayerStats & { [key in K]: number };
}

/** Counts a drop under the error's code. */
export function countWireError(stats: LayerStats, error: WireError): void {
  switch (error.code) {
    case "truncated":
      stats.dropTruncated++;
      break;
    case "malformed":
      stats.dropMalformed++;
      break;
    case "checksum":
      stats.dropChecksum++;
      break;
    case "unsupported":
      stats.dropUnsupported++;
      break;
  }
}
