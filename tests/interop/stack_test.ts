/**
 * The stack (in this process) against Linux (in a throwaway namespace) over a TAP and over a veth pair
 * driven through AF_PACKET: Linux pings and arpings the stack, talks UDP to its echo port with nc, and
 * the stack pings Linux.
 */

import assert from "node:assert/strict";
import { formatMac } from "../../stack/wire/address.ts";
import { createLink, LINKS, linuxAddress, startStack } from "./setup.ts";

for (const kind of LINKS) {
  Deno.test(`interop ${kind}: Linux ping reaches the stack`, async () => {
    const link = await createLink(kind);
    const stack = startStack(link);
    try {
      const r = await link.ns.exec("ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", link.stackIp]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
      assert.equal(stack.iface.stats().icmp.rxEchoRequests, 3);
      assert.equal(stack.iface.stats().icmp.txEchoReplies, 3);
    } finally {
      await stack.stop();
      await link.close();
    }
  });

  Deno.test(`interop ${kind}: arping gets the stack's MAC`, async () => {
    const link = await createLink(kind);
    const stack = startStack(link);
    try {
      const r = await link.ns.exec("arping", [
        "-c",
        "2",
        "-w",
        "4",
        "-I",
        link.linuxIf,
        link.stackIp,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const mac = formatMac(stack.nic.mac).toUpperCase();
      const replies = r.stdout.split("\n").filter((l) => l.toUpperCase().includes(`[${mac}]`));
      assert.equal(replies.length, 2, r.stdout);
    } finally {
      await stack.stop();
      await link.close();
    }
  });

  Deno.test(`interop ${kind}: nc -u gets its datagram echoed`, async () => {
    const link = await createLink(kind);
    const stack = startStack(link);
    const binding = stack.iface.udp.bind(7, (d) => {
      stack.iface.udp.send(7, d.src, d.srcPort, d.bytes.slice(d.offset, d.offset + d.length));
    });
    try {
      const r = await link.ns.exec("sh", [
        "-c",
        `printf 'hello from linux' | nc -u -w 2 ${link.stackIp} 7`,
      ]);
      assert.equal(r.stdout, "hello from linux", r.stderr);
    } finally {
      binding.close();
      await stack.stop();
      await link.close();
    }
  });

  Deno.test(`interop ${kind}: the stack pings Linux`, async () => {
    const link = await createLink(kind);
    const stack = startStack(link);
    try {
      const replies: number[] = [];
      let resolveAll: () => void = () => {};
      const all = new Promise<void>((r) => resolveAll = r);
      stack.iface.icmp.onEchoReply = (reply) => {
        if (reply.src === linuxAddress(link) && reply.ident === 0x4242) replies.push(reply.seq);
        if (replies.length === 3) resolveAll();
      };
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((r) => timer = setTimeout(r, 5000));
      for (let seq = 1; seq <= 3; seq++) {
        const now = stack.runtime.now();
        const result = stack.iface.icmp.ping(linuxAddress(link), { ident: 0x4242, seq, now });
        assert.ok(["sent", "queued"].includes(result), result);
        stack.runtime.wake();
      }
      await Promise.race([all, deadline]);
      clearTimeout(timer);
      assert.deepEqual([...replies].sort(), [1, 2, 3]);
    } finally {
      await stack.stop();
      await link.close();
    }
  });
}
