/**
 * Deno's cache for the guest: `deno cache` run at build time over the guest's entry modules, with the
 * transpiled modules and vendored npm packages turned into archive entries under /var/deno (the guest's
 * DENO_DIR).
 *
 * @module
 */

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
  // npm packages (and any remote modules) the apps import, since the guest has no network.
  walk(`${emitDir}/npm`, "var/deno/npm", () => true);
  walk(`${emitDir}/remote`, "var/deno/remote", () => true);
  for (const dir of dirs) {
    if (!["var", "var/deno"].includes(dir)) entries.push({ path: dir, kind: "dir" });
  }
  return entries;
}
