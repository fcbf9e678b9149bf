import assert from "node:assert/strict";
import { entryPoints } from "./deno_cache.ts";
import {
  defaultAppArgs,
  imageEntries,
  inputsHash,
  inStandardImage,
  parseImageArgs,
  sharedLibraries,
} from "./image.ts";

Deno.test("sharedLibraries lists deno's libc and dynamic loader from ldd", async () => {
  const libraries = await sharedLibraries(Deno.execPath());
  assert.ok(libraries.some((path) => /\/libc\.so\.6$/.test(path)), libraries.join(" "));
  assert.ok(libraries.some((path) => /\/ld-linux-x86-64\.so\.2$/.test(path)), libraries.join(" "));
  assert.ok(libraries.every((path) => path.startsWith("/")));
});

Deno.test("imageEntries holds deno, its libraries, the console, init and sources but no tests", async () => {
  const entries = await imageEntries();
  const paths = new Map(entries.map((entry) => [entry.path, entry]));
  assert.deepEqual(paths.get("bin/deno"), {
    path: "bin/deno",
    kind: "file",
    mode: 0o755,
    source: Deno.execPath(),
  });
  assert.deepEqual(paths.get("dev/console"), {
    path: "dev/console",
    kind: "char",
    major: 5,
    minor: 1,
  });
  for (
    const path of ["app/vm/init.ts", "app/stack/nic/virtio/mod.ts", "app/apps/udp_echo.ts", "proc"]
  ) {
    assert.ok(paths.has(path), path);
  }
  assert.ok(![...paths.keys()].some((path) => path.endsWith("_test.ts")));
  // Every entry's parent folder is itself an entry, so the kernel can create it first.
  for (const path of paths.keys()) {
    const parent = path.split("/").slice(0, -1).join("/");
    if (parent) assert.equal(paths.get(parent)?.kind, "dir", `${path} lacks ${parent}`);
  }
  assert.deepEqual(entryPoints(entries).filter((m) => m.startsWith("vm/")), [
    "vm/deno_serve_echo.ts",
    "vm/guest_echo.ts",
    "vm/guest_profile.ts",
    "vm/init.ts",
    "vm/kernel_net.ts",
  ]);
});

Deno.test("inputsHash changes with content and settings, not with entry order", async () => {
  const a = [
    { path: "x", kind: "file" as const, source: new Uint8Array([1]) },
    { path: "d", kind: "dir" as const },
  ];
  const base = await inputsHash(a, { compress: "lz4" });
  assert.equal(await inputsHash([...a].reverse(), { compress: "lz4" }), base);
  assert.notEqual(await inputsHash(a, { compress: "zstd" }), base);
  const changed = [{ path: "x", kind: "file" as const, source: new Uint8Array([2]) }, a[1]];
  assert.notEqual(await inputsHash(changed, { compress: "lz4" }), base);
});

Deno.test("app helpers: standard image membership, default arguments, CLI options", () => {
  assert.equal(inStandardImage("apps/http_echo.ts"), true);
  assert.equal(inStandardImage("vm/guest_echo.ts"), true);
  assert.equal(inStandardImage("tests/vm/extra_app.ts"), false);
  assert.deepEqual(defaultAppArgs("apps/udp_echo.ts"), ["--nic", "virtio", "--ip", "dhcp"]);
  assert.deepEqual(defaultAppArgs("apps/udp_echo.ts", false), [
    "--nic",
    "virtio",
    "--ip",
    "{address}",
    "--gateway",
    "{gateway}",
  ]);
  assert.deepEqual(defaultAppArgs("vm/guest_echo.ts"), ["--ip", "{address}"]);
  assert.equal(parseImageArgs(["--compress", "zstd"]).compress, "zstd");
  assert.throws(() => parseImageArgs(["--compress", "xz"]), /--compress must be lz4, zstd or none/);
  assert.throws(() => parseImageArgs(["--what"]), /Unknown option '--what'/);
});
