/**
 * Deno's cache for the guest: `deno cache` run at build time over the guest's entry modules, with the
 * transpiled modules and vendored npm packages turned into archive entries under /var/deno (the guest's
 * DENO_DIR).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import type { CpioEntry } from "./cpio.ts";
import { parents, PROJECT_ROOT } from "./project.ts";

/** The modules the guest may start: init, the echo, every top-level app (project-relative). */
export function entryPoints(entries: CpioEntry[]): string[] {
  return entries.map((entry) => entry.path)
    .filter((path) =>
      /^app\/apps\/[^/]+\.ts$/.test(path) || path === "app/vm/init.ts" ||
      path === "app/vm/guest_echo.ts" ||
      (/^app\/.+\.ts$/.test(path) && !/^app\/(stack|apps|vm)\//.test(path))
    )
    .map((path) => path.slice("app/".length));
}

/**
 * Deno's cache for the guest's modules: the transpiled TypeScript, so the guest does not transpile at
 * every boot (seconds under TCG), and the npm packages the apps import, vendored since the guest has no
 * network. `deno cache` writes gen/file/<absolute path>.js; those files move under
 * /var/deno/gen/file/app/, since the guest sees the project at /app. The output only depends on the
 * sources (npm versions are pinned in them) and deno, both in the inputs hash, so it is reproducible. A
 * module that fails to load (a file mid-edit) only costs the cache, not the build.
 */
export async function emitCacheEntries(
  modules: string[],
  emitDir: string,
  progress: (line: string) => void,
): Promise<CpioEntry[]> {
  const cache = async (list: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["cache", "--no-config", ...list.map((m) => `${PROJECT_ROOT}/${m}`)],
      env: { DENO_DIR: emitDir, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    return output.success ? "" : new TextDecoder().decode(output.stderr).trim().split("\n")[0];
  };
  if (await cache(modules)) {
    // One module failing (mid-edit, or npm unreachable) should not cost the others their cache.
    for (const module of modules) {
      const reason = await cache([module]);
      if (reason) progress(`[2/3] initramfs: ${module} not cached (${reason})`);
    }
  }
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const walk = (from: string, to: string, keep: (name: string) => boolean) => {
    let listing: Deno.DirEntry[];
    try {
      listing = [...Deno.readDirSync(from)];
    } catch {
      return;
    }
    for (const entry of listing) {
      if (entry.isDirectory) walk(`${from}/${entry.name}`, `${to}/${entry.name}`, keep);
      else if (entry.isFile && keep(entry.name)) {
        const target = `${to}/${entry.name}`;
        entries.push({ path: target, kind: "file", source: `${from}/${entry.name}` });
        parents(target, dirs);
      }
    }
  };
  // The guest sees the project at /app, so gen/file/<project root>/x.ts.js moves to gen/file/app/.
  walk(
    `${emitDir}/gen/file${Deno.realPathSync(PROJECT_ROOT)}`,
    "var/deno/gen/file/app",
    (name) => name.endsWith(".js"),
  );
  const analysis = relocateDependencyCache(emitDir, `file://${Deno.realPathSync(PROJECT_ROOT)}/`);
  if (analysis) {
    entries.push({ path: "var/deno/dep_analysis_cache_v2", kind: "file", source: analysis });
  }
  // npm packages (and any remote modules) the apps import, since the guest has no network.
  walk(`${emitDir}/npm`, "var/deno/npm", () => true);
  walk(`${emitDir}/remote`, "var/deno/remote", () => true);
  for (const dir of dirs) {
    if (!["var", "var/deno"].includes(dir)) entries.push({ path: dir, kind: "dir" });
  }
  return entries;
}

/**
 * Deno's module-graph cache (each module's imports, keyed by specifier and source hash) with the
 * project's specifiers moved to file:///app/. Without it the guest parses every TypeScript module again
 * just to find its imports, which costs about a second under TCG. Rows go into a fresh database in
 * sorted order, so the same sources give the same bytes. Undefined when deno wrote no such cache.
 */
export function relocateDependencyCache(
  emitDir: string,
  projectUrl: string,
  guestUrl = "file:///app/",
): Uint8Array<ArrayBuffer> | undefined {
  const sourcePath = `${emitDir}/dep_analysis_cache_v2`;
  try {
    Deno.statSync(sourcePath);
  } catch {
    return undefined;
  }
  const source = new DatabaseSync(sourcePath, { readOnly: true });
  const target = `${emitDir}/dep_analysis_cache_v2.relocated`;
  try {
    Deno.removeSync(target);
  } catch {
    // Not there: the usual case.
  }
  const out = new DatabaseSync(target);
  try {
    const schema = source.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('info', 'moduleinfocache') ORDER BY name",
    ).all() as { sql: string }[];
    for (const { sql } of schema) out.exec(sql);
    const info = source.prepare("SELECT key, value FROM info ORDER BY key").all() as {
      key: string;
      value: string;
    }[];
    const putInfo = out.prepare("INSERT INTO info (key, value) VALUES (?, ?)");
    for (const row of info) putInfo.run(row.key, row.value);
    // Source hashes are 64-bit: read them as bigints so that no bit is lost.
    const select = source.prepare(
      "SELECT specifier, media_type, source_hash, module_info FROM moduleinfocache ORDER BY specifier",
    );
    select.setReadBigInts(true);
    const modules = select.all() as {
      specifier: string;
      media_type: bigint;
      source_hash: bigint;
      module_info: string;
    }[];
    const putModule = out.prepare(
      "INSERT INTO moduleinfocache (specifier, media_type, source_hash, module_info) VALUES (?, ?, ?, ?)",
    );
    for (const row of modules) {
      const specifier = row.specifier.startsWith(projectUrl)
        ? `${guestUrl}${row.specifier.slice(projectUrl.length)}`
        : row.specifier;
      putModule.run(specifier, row.media_type, row.source_hash, row.module_info);
    }
  } finally {
    source.close();
    out.close();
  }
  const bytes = Deno.readFileSync(target);
  Deno.removeSync(target);
  return bytes;
}
