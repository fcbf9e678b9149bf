/**
 * Deno's cache for the guest: `deno cache` run at build time over the guest's entry modules, with the
 * transpiled modules and vendored npm packages turned into archive entries under /var/deno (the guest's
 * DENO_DIR).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { bundleApps, bundleName, exportsMain, GUEST_BUNDLE_DIR } from "./bundle.ts";
import type { CpioEntry } from "./cpio.ts";
import { parents, PROJECT_ROOT } from "./project.ts";

/** The modules the guest may start: init, the echo, every top-level app (project-relative). */
export function entryPoints(entries: CpioEntry[]): string[] {
  return entries.map((entry) => entry.path)
    .filter((path) =>
      /^app\/apps\/[^/]+\.ts$/.test(path) || /^app\/vm\/[^/]+\.ts$/.test(path) ||
      (/^app\/.+\.ts$/.test(path) && !/^app\/(stack|apps|vm)\//.test(path))
    )
    .map((path) => path.slice("app/".length));
}

/** Modules of vm/ the warm-up may import: they act only as the main module, or when called. */
const SIDE_EFFECT_FREE = ["vm/init.ts", "vm/guest_profile.ts", "vm/kernel_net.ts"];

/**
 * The V8 flags of the guest's deno, which the warm-up shares since V8 only takes a code cache made
 * under the same flags. `--no-lazy` compiles every function of a module when the module is compiled, so
 * the code cache made at build time holds them all, and the guest compiles none of the app's functions
 * when it first calls them (under TCG, ~0.3 s of CPU between the app's start and its first answer).
 */
export const GUEST_V8_FLAGS = "--v8-flags=--no-lazy";

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
  opts: { bundle?: boolean } = {},
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
  const failed = new Set<string>();
  if (await cache(modules)) {
    // One module failing (mid-edit, or npm unreachable) should not cost the others their cache.
    for (const module of modules) {
      const reason = await cache([module]);
      if (reason) {
        progress(`[2/3] initramfs: ${module} not cached (${reason})`);
        failed.add(module);
      }
    }
  }
  // V8's code cache holds the URL the module was loaded from, so the bundles are warmed up from one
  // fixed folder, for the same bytes at every build; a lock keeps concurrent builds out of each other's
  // way there.
  const bundleDir = `${PROJECT_ROOT}/vm/.cache/bundle`;
  await Deno.mkdir(`${PROJECT_ROOT}/vm/.cache`, { recursive: true });
  using lock = await Deno.open(`${PROJECT_ROOT}/vm/.cache/bundle.lock`, {
    create: true,
    write: true,
  });
  await lock.lock(true);
  try {
    await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
    await Deno.mkdir(bundleDir);
    const loading = modules.filter((module) => !failed.has(module));
    return await emitWithBundles(
      loading,
      emitDir,
      Deno.realPathSync(bundleDir),
      progress,
      opts.bundle ?? true,
    );
  } finally {
    await Deno.remove(bundleDir, { recursive: true }).catch(() => {});
    await lock.unlock();
  }
}

async function emitWithBundles(
  modules: string[],
  emitDir: string,
  bundleDir: string,
  progress: (line: string) => void,
  bundle: boolean,
): Promise<CpioEntry[]> {
  // The apps init runs in its own deno, each as one file (see bundle.ts).
  const inProcess = modules.filter((m) =>
    exportsMain(Deno.readTextFileSync(`${PROJECT_ROOT}/${m}`))
  );
  const { bundled, reason } = bundle
    ? await bundleApps(PROJECT_ROOT, inProcess, bundleDir)
    : { bundled: [] };
  if (reason) progress(`[2/3] initramfs: apps not bundled (${reason})`);
  // V8's code cache is written only for modules that ran, in a process that ended by itself: import
  // every app once (they call main only as the main module) so that the guest finds them compiled:
  // its bundle where it has one, since that is what the guest loads.
  // (Modules that do not load are left out: one would fail the whole warm-up, and every app's cache.)
  // Init and the module it imports in the comparison guest too: importing them runs nothing.
  const apps = modules.filter((m) =>
    /^apps\/[^/]+\.ts$/.test(m) || bundled.includes(m) || SIDE_EFFECT_FREE.includes(m)
  );
  if (apps.length > 0) {
    const warmUpDir = await Deno.makeTempDir({ prefix: "vm_warm_up_" });
    const warmUp = `${warmUpDir}/warm_up.ts`;
    const path = (m: string) =>
      bundled.includes(m) ? `${bundleDir}/${bundleName(m)}` : `${PROJECT_ROOT}/${m}`;
    await Deno.writeTextFile(
      warmUp,
      apps.map((m) => `import ${JSON.stringify(path(m))};\n`).join(""),
    );
    await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", GUEST_V8_FLAGS, "--no-config", "--cached-only", warmUp],
      env: { DENO_DIR: emitDir, NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output().finally(() => Deno.remove(warmUpDir, { recursive: true }));
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
  for (const module of bundled) {
    const target = `${GUEST_BUNDLE_DIR.slice(1)}/${bundleName(module)}`;
    // Read now: the folder goes away before the archive is written.
    const bytes = Deno.readFileSync(`${bundleDir}/${bundleName(module)}`);
    entries.push({ path: target, kind: "file", source: bytes });
    parents(target, dirs);
  }
  for (const cache of SQLITE_CACHES) {
    // The bundles' folder first: it lies inside the project.
    const moves: [string, string][] = [
      [`file://${bundleDir}/`, `file://${GUEST_BUNDLE_DIR}/`],
      [`file://${Deno.realPathSync(PROJECT_ROOT)}/`, "file:///app/"],
    ];
    if (cache.npm) moves.push([`file://${Deno.realPathSync(emitDir)}/`, "file:///var/deno/"]);
    const bytes = relocateSqliteCache(emitDir, cache, moves);
    if (bytes) entries.push({ path: `var/deno/${cache.file}`, kind: "file", source: bytes });
  }
  // npm packages (and any remote modules) the apps import, since the guest has no network.
  walk(`${emitDir}/npm`, "var/deno/npm", () => true);
  walk(`${emitDir}/remote`, "var/deno/remote", () => true);
  for (const dir of dirs) {
    if (!["var", "var/deno", "app"].includes(dir)) entries.push({ path: dir, kind: "dir" });
  }
  return entries;
}

/**
 * The SQLite caches deno keeps in DENO_DIR that the guest can reuse: file, table, its columns, and
 * whether rows of npm packages are kept.
 */
const SQLITE_CACHES = [
  // Each module's imports, so the guest does not parse every TypeScript module again to find them
  // (about a second under TCG).
  {
    file: "dep_analysis_cache_v2",
    table: "moduleinfocache",
    columns: ["specifier", "media_type", "source_hash", "module_info"],
    npm: true,
  },
  // V8's compiled code for the project's modules and the runtime's lazily loaded ones (node:util...).
  // Not for npm packages: their code differs from one warm-up run to the next (the image would no
  // longer be reproducible), and Hono is only one app's.
  {
    file: "v8_code_cache_v2",
    table: "codecache",
    columns: ["specifier", "type", "source_hash", "data"],
    npm: false,
  },
] as const;

/**
 * One of deno's SQLite caches in `emitDir` with specifiers moved to where the guest sees them: each
 * `[host prefix, guest prefix]` of `moves` (the project to file:///app/, DENO_DIR's npm packages to
 * file:///var/deno/). Rows elsewhere on the host are left out, the runtime's own (ext:...) kept. Rows go
 * into a fresh database in sorted order, so the same sources give the same bytes. Undefined when deno
 * wrote no such cache.
 */
export function relocateSqliteCache(
  emitDir: string,
  cache: { file: string; table: string; columns: readonly string[] },
  moves: [string, string][],
): Uint8Array<ArrayBuffer> | undefined {
  const sourcePath = `${emitDir}/${cache.file}`;
  try {
    Deno.statSync(sourcePath);
  } catch {
    return undefined;
  }
  const source = new DatabaseSync(sourcePath, { readOnly: true });
  const target = `${emitDir}/${cache.file}.relocated`;
  try {
    Deno.removeSync(target);
  } catch {
    // Not there: the usual case.
  }
  const out = new DatabaseSync(target);
  try {
    const schema = source.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('info', ?) ORDER BY name",
    ).all(cache.table) as { sql: string }[];
    for (const { sql } of schema) out.exec(sql);
    const info = source.prepare("SELECT key, value FROM info ORDER BY key").all() as {
      key: string;
      value: string;
    }[];
    const putInfo = out.prepare("INSERT INTO info (key, value) VALUES (?, ?)");
    for (const row of info) putInfo.run(row.key, row.value);
    const columns = cache.columns.join(", ");
    const select = source.prepare(`SELECT ${columns} FROM ${cache.table} ORDER BY ${columns}`);
    // Source hashes are 64-bit: read them as bigints so that no bit is lost.
    select.setReadBigInts(true);
    const put = out.prepare(
      `INSERT INTO ${cache.table} (${columns}) VALUES (${cache.columns.map(() => "?").join(", ")})`,
    );
    for (const row of select.all() as Record<string, string | bigint | Uint8Array>[]) {
      const specifier = String(row.specifier);
      if (specifier.startsWith("file:")) {
        const move = moves.find(([from]) => specifier.startsWith(from));
        if (!move) continue; // such as the warm-up module
        row.specifier = move[1] + specifier.slice(move[0].length);
      }
      put.run(...cache.columns.map((column) => row[column]));
    }
  } finally {
    source.close();
    out.close();
  }
  const bytes = Deno.readFileSync(target);
  Deno.removeSync(target);
  return bytes;
}
