/**
 * `apps/http_echo.ts` on our stack's TCP, in a child process on a TAP or on AF_PACKET, driven by curl in
 * a throwaway namespace: a GET, and a 4 MiB POST echoed back byte for byte (bulk TCP both ways).
 */

import assert from "node:assert/strict";
import { Rng } from "../../stack/util/rng.ts";
import { AppProcess } from "./app_process.ts";
import { APP_LINKS, createLink, type Link } from "./setup.ts";

function appArgs(link: Link): { args: string[]; ns?: string } {
  const args = ["--ip", `${link.stackIp}/24`, "--port", "80"];
  if (link.kind === "tap") {
    return { args: ["--nic", `tap:${link.stackIf}`, ...args], ns: link.ns.name };
  }
  return { args: ["--nic", `packet:${link.stackIf}`, ...args] };
}

for (const kind of APP_LINKS) {
  Deno.test({
    name: `interop ${kind}: curl GETs from and POSTs 4 MiB through apps/http_echo.ts`,
    fn: async () => {
      const link = await createLink(kind);
      const { args, ns } = appArgs(link);
      const app = new AppProcess("http_echo.ts", args, ns);
      const dir = await Deno.makeTempDir();
      try {
        await app.waitFor(/http_echo listening/);
        const get = await link.ns.exec("curl", [
          "-sS",
          "--max-time",
          "10",
          `http://${link.stackIp}/`,
        ]);
        assert.equal(get.code, 0, get.stderr);
        assert.match(get.stdout, /Hello from the Deno TCP\/IP stack/);

        const body = new Uint8Array(4 << 20);
        new Rng(99).fill(body);
        await Deno.writeFile(`${dir}/body`, body);
        const post = await link.ns.exec("curl", [
          "-sS",
          "--max-time",
          "30",
          "-H",
          "content-type: application/octet-stream",
          "--data-binary",
          `@${dir}/body`,
          "-o",
          `${dir}/echoed`,
          `http://${link.stackIp}/echo`,
        ]);
        assert.equal(post.code, 0, post.stderr);
        const echoed = await Deno.readFile(`${dir}/echoed`);
        assert.equal(echoed.length, body.length);
        assert.ok(echoed.every((b, i) => b === body[i]), "the echoed body differs");
      } finally {
        await app.stop();
        await link.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
