import assert from "node:assert/strict";
import { openNic } from "./open.ts";
import { readPcap } from "./pcap_reader.ts";

Deno.test("openNic rejects unknown specs with the list of known ones", async () => {
  for (const spec of ["foo", "tap", "tap:", "packet", "memory:x", "virtio:", ""]) {
    await assert.rejects(
      openNic(spec),
      new Error(
        `Unknown NIC '${spec}': expected memory, tap:NAME, packet:IFACE or virtio`,
      ),
    );
  }
});

Deno.test("openNic opens a memory loopback with the given MAC and MTU", async () => {
  const nic = await openNic("memory", { mac: 0x020000000abc, mtu: 1000 });
  assert.equal(nic.mac, 0x020000000abc);
  assert.equal(nic.mtu, 1000);
  assert.ok(nic.send(0, 60, (b, o) => b[o] = 7));
  let got = 0;
  nic.receive(0, (b, o) => got = b[o]);
  assert.equal(got, 7);
  nic.close();
});

Deno.test("openNic wraps the NIC in a capture when asked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const nic = await openNic("memory", { pcap: `${dir}/x.pcap`, pcapEpochMs: 2000 });
    nic.send(5, 60, (b, o, l) => b.fill(1, o, o + l));
    nic.receive(6, () => {});
    nic.close();
    const file = readPcap(await Deno.readFile(`${dir}/x.pcap`));
    assert.deepEqual(file.records.map((r) => r.timeMs), [2005, 2006]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openNic passes a PCI address to the virtio driver", async () => {
  // No such device here: the driver's own error proves the spec reached it.
  await assert.rejects(openNic("virtio:00:1f.7"), (e: Error) => {
    assert.doesNotMatch(e.message, /Unknown NIC/);
    assert.match(e.message, /00:1f\.7|virtio/i);
    return true;
  });
});
