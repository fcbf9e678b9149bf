/**
 * The fuzz corpus: each failing input is a text file under `tests/fuzz/corpus/` holding the seed and
 * frame index that reproduce it exactly, the invariant that broke, and the last frames in hex.
 *
 * @module
 */

import type { FuzzFailure } from "./harness.ts";

/** A corpus entry as read back. */
export interface CorpusEntry {
  name: string;
  seed: number;
  frame: number;
  message: string;
  frames: string[];
}

/** The corpus directory next to this file. */
export const CORPUS_DIR = new URL("./corpus/", import.meta.url).pathname;

/** Writes `failure` to the corpus; returns the file path. */
export function saveFailure(failure: FuzzFailure, dir = CORPUS_DIR): string {
  Deno.mkdirSync(dir, { recursive: true });
  const path = `${dir.replace(/\/$/, "")}/seed${failure.seed}-frame${failure.frame}.hex`;
  const lines = [
    `# seed ${failure.seed}`,
    `# frame ${failure.frame}`,
    `# ${failure.message.split("\n")[0]}`,
    ...failure.recent,
  ];
  Deno.writeTextFileSync(path, lines.join("\n") + "\n");
  return path;
}

/** Reads every `.hex` entry of the corpus. */
export function readCorpus(dir = CORPUS_DIR): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".hex")).map((e) =>
      e.name
    );
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const text = Deno.readTextFileSync(`${dir}/${name}`);
    const entry: CorpusEntry = { name, seed: 0, frame: 0, message: "", frames: [] };
    for (const line of text.split("\n")) {
      const m = /^# (seed|frame) (\d+)$/.exec(line);
      if (m !== null) entry[m[1] as "seed" | "frame"] = Number(m[2]);
      else if (line.startsWith("# ")) entry.message = line.slice(2);
      else if (/^[0-9a-f]+$/.test(line)) entry.frames.push(line);
    }
    out.push(entry);
  }
  return out;
}
