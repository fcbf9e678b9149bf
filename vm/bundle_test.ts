import assert from "node:assert/strict";
import { bundleApps, bundleName, commonFolder, exportsMain } from "./bundle.ts";

Deno.test("bundle names and the folder common to the entries", () => {
  assert.equal(bundleName("apps/http_echo.ts"), "apps/http_echo.js");
  assert.equal(bundleName("vm/x.mjs"), "vm/x.js");
  assert.deepEqual(commonFolder(["apps/a.ts", "apps/b.ts"]), ["apps"]);
  assert.deepEqual(commonFolder(["apps/a.ts", "vm/b.ts"]), []);
  assert.deepEqual(commonFolder(["tests/vm/x/a.ts"]), ["tests", "vm", "x"]);
  assert.deepEqual(commonFolder(["a/b/c.ts", "a/b/d/e.ts", "a/f.ts"]), ["a"]);
  assert.deepEqual(commonFolder([]), []);
});

Deno.test("exportsMain finds the apps init runs in its own deno", () => {
  assert.ok(exportsMain("import x from 'y';\nexport function main(args: string[]) {}\n"));
  assert.ok(exportsMain("export async function main(args) {}"));
  assert.ok(!exportsMain("function main() {}\nmain();\n"));
  assert.ok(!exportsMain("// export function main( in a comment is not at a line start\n x"));
});

Deno.test("bundleApps writes one file per app that keeps its exports and its imports' code", async () => {
  const root = await Deno.makeTempDir({ prefix: "vm_bundle_test_" });
  const out = await Deno.makeTempDir({ prefix: "vm_bundle_out_" });
  try {
    await Deno.mkdir(`${root}/apps/lib`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/apps/lib/twice.ts`,
      "export const twice = (n: number): number => n * 2;\n",
    );
    for (const [name, factor] of [["a", 1], ["b", 5]]) {
      await Deno.writeTextFile(
        `${root}/apps/${name}.ts`,
        `import { twice } from "./lib/twice.ts";\n` +
          `export function main(args: string[]): number { return twice(${factor} * args.length); }\n` +
          `if (import.meta.main) throw new Error("only init calls main");\n`,
      );
    }
    const result = await bundleApps(root, ["apps/a.ts", "apps/b.ts"], out);
    assert.deepEqual(result, { bundled: ["apps/a.ts", "apps/b.ts"] });
    const text = await Deno.readTextFile(`${out}/apps/b.js`);
    assert.ok(!/from\s+["']\.\/lib/.test(text), "imports are inlined");
    const b = await import(`file://${out}/apps/b.js`);
    assert.equal(b.main(["x", "y"]), 20);
    const a = await import(`file://${out}/apps/a.js`);
    assert.equal(a.main(["x"]), 2);

    const broken = await bundleApps(root, ["apps/missing.ts"], out);
    assert.deepEqual(broken.bundled, []);
    assert.match(broken.reason ?? "", /error/i);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
