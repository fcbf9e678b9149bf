import assert from "node:assert/strict";
import { openNic } from "../../stack/nic/open.ts";
import { PacketNic } from "../../stack/nic/packet.ts";
import { TAP_TSO_MAX_BYTES, TapNic } from "../../stack/nic/tap.ts";
import { Netns, uniqueName } from "./netns.ts";

Deno.test("openNic opens a TAP with our MAC and MTU, without offloads when told", async () => {
  const nic = await openNic(`tap:${uniqueName("to")}`, {
    mac: 0x020000000077,
    mtu: 1400,
    offload: false,
  });
  try {
    assert.ok(nic instanceof TapNic);
    assert.equal(nic.mac, 0x020000000077);
    assert.equal(nic.mtu, 1400);
    assert.deepEqual(nic.caps, { rxChecksumVerified: false, txChecksumOffload: false });
  } finally {
    nic.close();
  }
});

Deno.test("openNic opens a TAP with offloads by default", async () => {
  const nic = await openNic(`tap:${uniqueName("to")}`);
  try {
    assert.deepEqual(nic.caps, {
      rxChecksumVerified: true,
      txChecksumOffload: true,
      tsoMaxBytes: TAP_TSO_MAX_BYTES,
    });
  } finally {
    nic.close();
  }
});

Deno.test("openNic opens AF_PACKET on an interface, in the ring layout asked for", async () => {
  const ns = await Netns.create();
  const host = uniqueName("po");
  try {
    await ns.veth(host, uniqueName("pi"), "10.77.3.1/24");
    const nic = await openNic(`packet:${host}`, { packetVersion: 3 });
    assert.ok(nic instanceof PacketNic);
    assert.equal(nic.version, 3);
    assert.equal(nic.name, `packet:${host}`);
    nic.close();
    await assert.rejects(openNic("packet:nosuchif9"), /interface nosuchif9 does not exist/);
  } finally {
    await ns.close();
  }
});
