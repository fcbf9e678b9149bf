/**
 * Summarises a V8 `--prof` log, such as the guest's from `deno task boot --v8-prof FILE`: where the
 * sampled ticks landed, by code object (self time, with its tier: `~` interpreted, `^` Sparkplug, `+`
 * Maglev, `*` TurboFan), by the innermost JavaScript function on the stack (so that a builtin or C++ call
 * is charged to the function that made it), and, with `--focus TEXT`, which functions called the code
 * objects whose name holds TEXT. `--since SECONDS` keeps the ticks after that time (V8's clock starts with
 * the process), e.g. to leave out start-up and JIT warm-up. Node's `--prof-process` would do much of
 * this, but it rejects the code states of newer V8s; native code shows as its library (deno is stripped).
 *
 *   deno run -R tests/bench/v8_ticks.ts FILE [--top 40] [--since SECONDS] [--focus TEXT]
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One count of ticks under a name. */
export interface TickCount {
  name: string;
  ticks: number;
}

/** What {@linkcode summarizeTicks} found. */
export interface TickSummary {
  /** Ticks counted (after `sinceUs`). */
  total: number;
  /** Ticks by the code object they landed in (name with tier), most first. */
  self: TickCount[];
  /** Ticks by the innermost JavaScript function on the stack, most first. */
  innermostJs: TickCount[];
  /** With `focus`: the innermost JavaScript callers of the matching code objects, most first. */
  callers: TickCount[];
}

interface CodeRange {
  start: number;
  end: number;
  name: string;
}

/** Splits one log line at commas outside double quotes (V8 doubles a quote inside one). */
function fields(line: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c !== '"') current += c;
      else if (line[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(current);
      current = "";
    } else current += c;
  }
  out.push(current);
  return out;
}

function sorted(counts: Map<string, number>): TickCount[] {
  return [...counts].map(([name, ticks]) => ({ name, ticks })).sort((a, b) => b.ticks - a.ticks);
}

function add(counts: Map<string, number>, name: string): void {
  counts.set(name, (counts.get(name) ?? 0) + 1);
}

/**
 * Summarises the `--prof` log `text`. Code is resolved against the code objects alive at the end of the
 * log (V8 logs moves and deletions), which can misname a tick in code freed and reused meanwhile.
 */
export function summarizeTicks(
  text: string,
  options: { sinceUs?: number; focus?: string } = {},
): TickSummary {
  const byStart = new Map<number, CodeRange>();
  const libraries: CodeRange[] = [];
  const ticks: { pc: number; stack: number[] }[] = [];
  const since = options.sinceUs ?? 0;
  for (const line of text.split("\n")) {
    const f = fields(line);
    switch (f[0]) {
      case "shared-library":
        libraries.push({
          start: Number(f[2]),
          end: Number(f[3]),
          name: `[${f[1].split("/").pop()}]`,
        });
        break;
      case "code-creation": {
        const start = Number(f[4]);
        const tier = f[8] ? ` ${f[8]}` : "";
        byStart.set(start, { start, end: start + Number(f[5]), name: `${f[1]} ${f[6]}${tier}` });
        break;
      }
      case "code-move": {
        const code = byStart.get(Number(f[1]));
        if (code === undefined) break;
        byStart.delete(code.start);
        const size = code.end - code.start;
        code.start = Number(f[2]);
        code.end = code.start + size;
        byStart.set(code.start, code);
        break;
      }
      case "code-delete":
        byStart.delete(Number(f[1]));
        break;
      case "tick":
        if (Number(f[2]) >= since) ticks.push({ pc: Number(f[1]), stack: f.slice(6).map(Number) });
        break;
    }
  }
  const codes = [...byStart.values()].sort((a, b) => a.start - b.start);
  const find = (pc: number): string => {
    let lo = 0;
    let hi = codes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (codes[mid].start <= pc) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi >= 0 && pc < codes[hi].end) return codes[hi].name;
    return libraries.find((l) => pc >= l.start && pc < l.end)?.name ?? "[unknown]";
  };
  const self = new Map<string, number>();
  const innermost = new Map<string, number>();
  const callers = new Map<string, number>();
  for (const tick of ticks) {
    const name = find(tick.pc);
    add(self, name);
    let js = name.startsWith("JS ") ? name : undefined;
    let caller: string | undefined;
    for (const address of tick.stack) {
      const frame = find(address);
      if (frame.startsWith("JS ")) {
        caller = frame;
        break;
      }
    }
    js ??= caller === undefined ? `[no JavaScript] ${name}` : caller;
    add(innermost, js);
    if (options.focus !== undefined && name.includes(options.focus)) {
      add(callers, caller ?? "[none]");
    }
  }
  return {
    total: ticks.length,
    self: sorted(self),
    innermostJs: sorted(innermost),
    callers: sorted(callers),
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      top: { type: "string", default: "40" },
      since: { type: "string" },
      focus: { type: "string" },
    },
  });
  const top = Number(values.top);
  const since = values.since === undefined ? 0 : Number(values.since);
  if (positionals.length !== 1 || !(top > 0) || !(since >= 0)) {
    console.error("usage: v8_ticks.ts FILE [--top N] [--since SECONDS] [--focus TEXT]");
    Deno.exit(2);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(positionals[0]);
  } catch (error) {
    console.error(`v8_ticks: cannot read ${positionals[0]}: ${(error as Error).message}`);
    Deno.exit(1);
  }
  const summary = summarizeTicks(text, { sinceUs: since * 1e6, focus: values.focus });
  const show = (title: string, counts: TickCount[]) => {
    console.log(`== ${title} (${summary.total} ticks)`);
    for (const { name, ticks } of counts.slice(0, top)) {
      const share = (100 * ticks / summary.total).toFixed(1).padStart(5);
      console.log(`${share}% ${String(ticks).padStart(7)}  ${name.slice(0, 160)}`);
    }
  };
  show("self", summary.self);
  show("innermost JavaScript function", summary.innermostJs);
  if (values.focus !== undefined) show(`callers of '${values.focus}'`, summary.callers);
}
