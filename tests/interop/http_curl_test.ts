/**
 * `apps/http_echo.ts` on our stack over a TAP, in a child process inside a throwaway namespace, driven
 * by curl and wrk from Linux (issue 7): a GET, a 10 MiB POST echoed byte-exact, keep-alive across
 * several requests on one connection, 100 MiB up and back down through /echo (SHA-256 checked), and a
 * short wrk run without errors or non-2xx answers.
 */

import assert from "node:assert/strict";
import { AppProcess } from "./app_process.ts";
import { createLink, type Link } from "./setup.ts";
import { TestStream } from "./tcp_fixture.ts";

/** Starts http_echo on a fresh TAP link and runs `fn` with it; cleans up whatever happens. */
async function withEchoApp(
  fn: (link: Link, dir: string) => Promise<void>,
  extraArgs: string[] = [],
): Promise<void> {
  const link = await createLink("tap");
  const app = new AppProcess("http_echo.ts", [
    "--nic",
    `tap:${link.stackIf}`,
    "--ip",
    `${link.stackIp}/24`,
    "--port",
    "80",
    ...extraArgs,
  ], link.ns.name);
  const dir = await Deno.makeTempDir();
  try {
    await app.waitFor(/http_echo listening/);
    await fn(link, dir);
  } finally {
    await app.stop();
    await link.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `sh -c script` in the namespace, bounded by `timeout`, and expects success. */
async function sh(link: Link, script: string, seconds = 30): Promise<string> {
  const r = await link.ns.exec("timeout", [`${seconds}`, "sh", "-c", script]);
  assert.equal(r.code, 0, `${script}: ${r.stdout} ${r.stderr}`);
  return r.stdout;
}

Deno.test("interop tap: curl GET, a 10 MiB POST echoed, keep-alive over one connection", async () => {
  await withEchoApp(async (link, dir) => {
    const base = `http://${link.stackIp}`;
    const get = await sh(link, `curl -sS --max-time 10 ${base}/`);
    assert.match(get, /Hello from the Deno TCP\/IP stack/);

    const body = new TestStream(10 << 20, 61);
    await body.writeFile(`${dir}/body`);
    const post = await sh(
      link,
      `curl -sS --max-time 30 -H 'content-type: application/octet-stream' ` +
        `--data-binary @${dir}/body ${base}/echo | sha256sum`,
    );
    assert.equal(post.split(" ")[0], body.sha256());

    // Four requests in one curl: only the first opens a connection, the others reuse it.
    const urls = ["/", "/health", "/json?n=3", "/nothing-here"].map((p) => `${base}${p}`);
    const outs = urls.map((_, i) => `-o ${dir}/r${i}`).join(" ");
    const keep = await sh(
      link,
      `curl -sS --max-time 10 -w '%{num_connects} %{http_code}\\n' ${outs} ${urls.join(" ")}`,
    );
    assert.deepEqual(keep.trim().split("\n"), ["1 200", "0 200", "0 200", "0 404"]);
    assert.equal(await Deno.readTextFile(`${dir}/r1`), "ok\n");
    const json = JSON.parse(await Deno.readTextFile(`${dir}/r2`));
    assert.deepEqual([json.method, json.path, json.query], ["GET", "/json", { n: "3" }]);
  });
});

for (const offload of [false, true]) {
  const name = offload ? "interop tap --offload" : "interop tap";
  Deno.test(`${name}: 100 MiB uploaded to /echo and downloaded back byte-exact`, async () => {
    await withEchoApp(async (link, dir) => {
      const body = new TestStream(100 << 20, 62);
      await body.writeFile(`${dir}/body`);
      // -T streams the file (PUT; /echo takes any method); "Expect:" skips curl's 100-continue wait.
      const out = await sh(
        link,
        `curl -sS --max-time 90 -H 'Expect:' -H 'content-type: application/octet-stream' ` +
          `-T ${dir}/body -w '%{http_code} %{size_upload} %{size_download}\\n' ` +
          `-o ${dir}/echoed http://${link.stackIp}/echo && sha256sum ${dir}/echoed`,
        100,
      );
      const [status, digest] = out.trim().split("\n");
      assert.equal(status, `200 ${body.size} ${body.size}`);
      assert.equal(digest.split(" ")[0], body.sha256());
    }, ["--max-body-bytes", `${200 << 20}`, offload ? "--offload" : "--no-offload"]);
  });
}

Deno.test("interop tap: wrk -t1 -c10 for 2 s gets no errors and only 2xx", async () => {
  await withEchoApp(async (link) => {
    const out = await sh(link, `wrk -t1 -c10 -d2s --timeout 2s http://${link.stackIp}/`, 20);
    const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
    assert.ok(requests > 100, out);
    assert.ok(!/Socket errors/.test(out), out);
    assert.ok(!/Non-2xx or 3xx responses/.test(out), out);
  });
});
