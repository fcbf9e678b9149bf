/**
 * The apps as users run them (`deno run -A apps/…`), in a child process on a TAP or on AF_PACKET, with
 * Linux on the other side in a throwaway namespace: Linux pings, arpings and talks UDP to
 * `apps/udp_echo.ts`, and `apps/ping.ts` pings Linux. Each child is stopped by PID in `finally`.
 */

import assert from "node:assert/strict";
import { AppProcess } from "./app_process.ts";
import { APP_LINKS, createLink, type Link } from "./setup.ts";

/** `--nic` for the link, and the namespace the app must run in (a TAP lives inside it). */
function nicArgs(link: Link): { args: string[]; ns?: string } {
  const args = ["--ip", `${link.stackIp}/24`];
  if (link.kind === "tap") {
    return { args: ["--nic", `tap:${link.stackIf}`, ...args], ns: link.ns.name };
  }
  return { args: ["--nic", `packet:${link.stackIf}`, ...args] };
}

for (const kind of APP_LINKS) {
  Deno.test(`interop ${kind}: Linux pings, arpings and echoes UDP with apps/udp_echo.ts`, async () => {
    const link = await createLink(kind);
    const { args, ns } = nicArgs(link);
    const app = new AppProcess("udp_echo.ts", args, ns);
    try {
      await app.waitFor(/udp_echo listening/);
      const ping = await link.ns.exec("ping", [
        "-n",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "2",
        link.stackIp,
      ]);
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /2 packets transmitted, 2 received/);
      const arping = await link.ns.exec("arping", [
        "-c",
        "2",
        "-w",
        "4",
        "-I",
        link.linuxIf,
        link.stackIp,
      ]);
      assert.equal(arping.code, 0, arping.stdout + arping.stderr);
      assert.match(arping.stdout, /Received 2 response/);
      const nc = await link.ns.exec("sh", [
        "-c",
        `printf 'echo me' | nc -u -w 2 ${link.stackIp} 7`,
      ]);
      assert.equal(nc.stdout, "echo me", nc.stderr);
    } finally {
      await app.stop();
      await link.close();
    }
    assert.equal(await app.exited, 0, app.stderr);
  });

  Deno.test(`interop ${kind}: apps/ping.ts pings Linux`, async () => {
    const link = await createLink(kind);
    const { args, ns } = nicArgs(link);
    const app = new AppProcess(
      "ping.ts",
      [...args, "--count", "3", "--interval", "200", link.linuxIp],
      ns,
    );
    try {
      assert.equal(await app.exited, 0, app.stdout + app.stderr);
    } finally {
      await app.stop();
      await link.close();
    }
    assert.match(app.stdout, /3 packets transmitted, 3 received/);
  });
}
