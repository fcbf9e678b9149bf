/**
 * One JavaScript file per app, made at image time with `deno bundle`: under TCG the guest pays for every
 * module it loads (reading it, checking its cached emit and import list, instantiating and linking it),
 * and an app on the stack is about 130 modules. Init imports `/app/bundle/<app>.js` when the image has
 * one, else the app's TypeScript with its module graph.
 *
 * @module
 */

/** Where the guest finds the bundles: the app's project path, `.ts` → `.js`, under this folder. */
export const GUEST_BUNDLE_DIR = "/app/bundle";

/** True for an app that init runs in its own deno (it exports `main(args)`), the ones worth bundling. */
export function exportsMain(source: string): boolean {
  // The same test as init.ts's hasMain: only these are imported by init, so only these are bundled.
  return /^export (async )?function main\(/m.test(source);
}

/** The bundle's path relative to a bundle folder: apps/http_echo.ts → apps/http_echo.js. */
export function bundleName(module: string): string {
  return module.replace(/\.(ts|js|mjs)$/, "") + ".js";
}

/** The folders that every one of `modules` (project-relative, "/"-separated) lies below. */
export function commonFolder(modules: string[]): string[] {
  const folders = modules.map((module) => module.split("/").slice(0, -1));
  const common = folders[0] ?? [];
  let length = common.length;
  for (const folder of folders) {
    let i = 0;
    while (i < length && folder[i] === common[i]) i++;
    length = i;
  }
  return common.slice(0, length);
}

/**
 * Bundles each of `modules` (project-relative) from `root` into `outDir`/{@linkcode bundleName}, npm
 * packages included (`--packages bundle`), with one `deno bundle` run. Returns the modules bundled, or
 * none with the reason when deno could not bundle them (such as esbuild missing from DENO_DIR with no
 * network, or a source mid-edit): the guest then loads the modules one by one, which still works.
 */
export async function bundleApps(
  root: string,
  modules: string[],
  outDir: string,
): Promise<{ bundled: string[]; reason?: string }> {
  if (modules.length === 0) return { bundled: [] };
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--no-config",
        "--platform",
        "deno",
        "--packages",
        "bundle",
        // esbuild writes each entry's path below the entries' common folder, so the output goes to
        // that folder's place in outDir.
        "--outdir",
        [outDir, ...commonFolder(modules)].join("/"),
        ...modules.map((module) => `${root}/${module}`),
      ],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    return { bundled: [], reason: error instanceof Error ? error.message : String(error) };
  }
  const missing = modules.filter((module) => {
    try {
      return !Deno.statSync(`${outDir}/${bundleName(module)}`).isFile;
    } catch {
      return true;
    }
  });
  if (!output.success || missing.length > 0) {
    // NO_COLOR leaves the escapes out of the message; the first error line says why.
    const text = new TextDecoder().decode(output.stderr).split("\n")
      .find((line) => /error/i.test(line))?.trim();
    return {
      bundled: [],
      reason: text || `no bundle for ${missing.join(", ")}`,
    };
  }
  return { bundled: modules };
}
