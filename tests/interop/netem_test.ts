/**
 * Transfers through an impaired link: `tc qdisc netem` on Linux's side of a TAP or of the veth driven
 * through AF_PACKET (loss 2 %, delay
 * 20 ms, reorder 10 %, duplicate 1 %) impairs everything Linux sends: the data it pushes into the stack
 * and the ACKs of what the stack sends it. Both stay byte-exact (SHA-256 checked). This kernel may lack
 * sch_netem; then `ImpairedNic` applies the same impairment to the frames the stack receives.
 */

import assert from "node:assert/strict";
import { ImpairedNic } from "./impaired_nic.ts";
import { APP_LINKS, createLink, type Link, type LinkKind, openLinkNic } from "./setup.ts";
import { sendStreamToNc, serveEcho, startTcpStack, TestStream } from "./tcp_fixture.ts";

const NETEM = { loss: 0.02, delayMs: 20, reorder: 0.1, duplicate: 0.01 };
const NETEM_ARGS = ["delay", "20ms", "reorder", "10%", "loss", "2%", "duplicate", "1%"];

/**
 * A link whose Linux side sends through netem. Where the kernel has no sch_netem, the same
 * impairment is applied to the frames the stack receives from Linux, which is where netem on
 * Linux's egress would act.
 */
async function impairedLink(kind: LinkKind): Promise<{ link: Link; nic?: ImpairedNic }> {
  const link = await createLink(kind);
  try {
    const r = await link.ns.exec("tc", [
      "qdisc",
      "add",
      "dev",
      link.linuxIf,
      "root",
      "netem",
      ...NETEM_ARGS,
    ]);
    if (r.code === 0) return { link };
    assert.match(r.stderr, /qdisc kind is unknown/, r.stderr);
    return { link, nic: new ImpairedNic(openLinkNic(link), NETEM, 5) };
  } catch (e) {
    await link.close();
    throw e;
  }
}

/**
 * Checks that the in-process impairment (when used) lost, duplicated and reordered frames: each kind
 * whose expected count over the frames seen is at least 8, so that a seeded run missing it by chance
 * (e^-8) is not what fails. How many frames Linux sends depends on timing (ACKs are coalesced), so
 * a few hundred ACKs may expect fewer than 8 duplicates.
 */
function assertImpaired(nic: ImpairedNic | undefined): void {
  if (nic === undefined) return;
  const { lost, duplicated, delayed, reordered } = nic.impaired;
  // Each duplicate went out twice (delayed or reordered): count the frames Linux sent once.
  const seen = lost + delayed + reordered - duplicated;
  const expected = (rate: number) => rate * seen >= 8;
  const text = JSON.stringify(nic.impaired);
  assert.ok(seen > 0, text);
  if (expected(NETEM.loss)) assert.ok(lost > 0, text);
  if (expected(NETEM.duplicate)) assert.ok(duplicated > 0, text);
  if (expected(NETEM.reorder)) assert.ok(reordered > 0, text);
}

for (const kind of APP_LINKS) {
  Deno.test(`interop ${kind} with netem: nc echoes 4 MiB through the stack byte-exact`, async () => {
    const stream = new TestStream(4 << 20, 41);
    const { link, nic } = await impairedLink(kind);
    const { stack, tcp } = startTcpStack(link, { nic });
    serveEcho(tcp, 7);
    const dir = await Deno.makeTempDir();
    try {
      await stream.writeFile(`${dir}/in`);
      const r = await link.ns.exec("sh", [
        "-c",
        `timeout 50 nc -N ${link.stackIp} 7 < ${dir}/in | sha256sum`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split(" ")[0], stream.sha256());
      // The impairment was in force: segments from Linux arrived out of order.
      assert.ok(tcp.stats.rxOutOfOrder > 0, JSON.stringify(tcp.stats));
      assertImpaired(nic);
    } finally {
      await stack.stop();
      await link.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`interop ${kind} with netem: the stack sends 4 MiB to nc byte-exact`, async () => {
    const stream = new TestStream(4 << 20, 42);
    const { link, nic } = await impairedLink(kind);
    const { stack, tcp } = startTcpStack(link, { nic });
    try {
      await sendStreamToNc(link, { stack, tcp }, stream, 50);
      assertImpaired(nic);
      // Overtaken ACKs carry older timestamps: PAWS (RFC 7323 §5) drops them, harmlessly.
      assert.ok(tcp.stats.dropPaws > 0, JSON.stringify(tcp.stats));
    } finally {
      await stack.stop();
      await link.close();
    }
  });
}
