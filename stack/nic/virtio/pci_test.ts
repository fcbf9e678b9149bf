import assert from "node:assert/strict";
import { qemuLikeConfig } from "./testing.ts";
import { CommonCfg, Status } from "./constants.ts";
import { openVirtioNicSync } from "./mod.ts";
import { findVirtioNet, normalizePciAddress } from "./pci.ts";

const isRoot = Deno.uid() === 0;

/**
 * A fake sysfs tree: a virtio-net card at 0000:00:03.0 whose BAR 4 is a plain file laid out like QEMU's
 * (common at 0, ISR 0x1000, device 0x2000, notify 0x3000), preset so a driver can negotiate against it.
 */
function fakeSysfs(opts: { features?: number; bind?: string } = {}): string {
  const root = Deno.makeTempDirSync({ prefix: "virtio_sysfs_" });
  const write = (folder: string, name: string, text: string) =>
    Deno.writeTextFileSync(`${root}/${folder}/${name}`, text);
  Deno.mkdirSync(`${root}/0000:00:01.0`);
  write("0000:00:01.0", "vendor", "0x8086\n");
  write("0000:00:01.0", "device", "0x7000\n");
  Deno.mkdirSync(`${root}/0000:00:03.0`);
  write("0000:00:03.0", "vendor", "0x1af4\n");
  write("0000:00:03.0", "device", "0x1041\n");
  write("0000:00:03.0", "enable", "0\n");
  Deno.writeFileSync(`${root}/0000:00:03.0/config`, qemuLikeConfig());
  const bar = new Uint8Array(0x4000);
  const view = new DataView(bar.buffer);
  // A file cannot switch feature words by select, so both halves read the same: 0x21 gives MAC (bit 5)
  // in the low word and VERSION_1 (bit 32) in the high word.
  view.setUint32(CommonCfg.DEVICE_FEATURE, opts.features ?? 0x21, true);
  view.setUint16(CommonCfg.NUM_QUEUES, 2, true);
  view.setUint16(CommonCfg.QUEUE_SIZE, 256, true);
  bar.set([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef], 0x2000);
  Deno.writeFileSync(`${root}/0000:00:03.0/resource4`, bar);
  if (opts.bind) Deno.symlinkSync(`../../drivers/${opts.bind}`, `${root}/0000:00:03.0/driver`);
  if (opts.bind === "uio_pci_generic") {
    Deno.mkdirSync(`${root}/0000:00:03.0/uio/uio97`, { recursive: true });
  }
  return root;
}

Deno.test("normalizePciAddress accepts short and full forms only", () => {
  assert.equal(normalizePciAddress("00:03.0"), "0000:00:03.0");
  assert.equal(normalizePciAddress("0000:00:1F.7"), "0000:00:1f.7");
  assert.throws(() => normalizePciAddress("3.0"), /not of the form/);
});

Deno.test("findVirtioNet picks the virtio card and explains absent ones", () => {
  const root = fakeSysfs();
  try {
    assert.equal(findVirtioNet(root).address, "0000:00:03.0");
    assert.equal(findVirtioNet(root, "00:03.0").address, "0000:00:03.0");
    assert.throws(() => findVirtioNet(root, "00:01.0"), /is not a virtio-net card/);
    assert.throws(() => findVirtioNet(root, "00:09.0"), /No PCI device at 0000:00:09.0/);
    Deno.removeSync(`${root}/0000:00:03.0`, { recursive: true });
    assert.throws(() => findVirtioNet(root), /No virtio-net PCI device found .*virtio-net-pci/);
    assert.throws(() => findVirtioNet(`${root}/none`), /is not readable/);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("openVirtioNic refuses a device bound to a kernel driver", () => {
  const root = fakeSysfs({ bind: "virtio-pci" });
  try {
    assert.throws(
      () => openVirtioNicSync({ sysfs: root }),
      /bound to the kernel driver 'virtio-pci'/,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test({
  name:
    "openVirtioNic drives registers in a mapped BAR: enable, bus master, queues at DMA addresses",
  ignore: !isRoot,
  fn() {
    const root = fakeSysfs();
    try {
      const nic = openVirtioNicSync({ sysfs: root, queueSize: 64 });
      const folder = `${root}/0000:00:03.0`;
      // The command register alone enables it: sysfs `enable` would also route an interrupt.
      assert.equal(Deno.readTextFileSync(`${folder}/enable`), "0\n");
      const config = Deno.readFileSync(`${folder}/config`);
      assert.equal(config[4] & 0x6, 0x6, "memory and bus master bits set");
      const bar = Deno.readFileSync(`${folder}/resource4`);
      const view = new DataView(bar.buffer);
      assert.equal(bar[CommonCfg.DEVICE_STATUS], 0x0f);
      assert.equal(view.getUint32(CommonCfg.DRIVER_FEATURE, true), 1, "VERSION_1 in the high word");
      assert.equal(nic.mac, 0x525400abcdef);
      assert.equal(view.getUint16(CommonCfg.QUEUE_SIZE, true), 64);
      assert.equal(view.getUint16(CommonCfg.QUEUE_ENABLE, true), 1);
      const used = Number(view.getBigUint64(CommonCfg.QUEUE_DEVICE, true));
      assert.ok(used > 0 && used % 4 === 0, "a physical address from pagemap");
      nic.close();
      assert.equal(Deno.readFileSync(`${folder}/resource4`)[CommonCfg.DEVICE_STATUS], 0);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "openVirtioNic accepts uio_pci_generic and takes interrupts from its /dev/uioN",
  ignore: !isRoot,
  fn() {
    const root = fakeSysfs({ bind: "uio_pci_generic" });
    try {
      // The fake tree names uio97, which does not exist in /dev: the error proves the node was used.
      assert.throws(() => openVirtioNicSync({ sysfs: root }), /Cannot open \/dev\/uio97/);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "openVirtioNic reports missing features and leaves the device FAILED",
  ignore: !isRoot,
  fn() {
    const root = fakeSysfs({ features: 0x20 });
    try {
      assert.throws(() => openVirtioNicSync({ sysfs: root }), /lacks required features VERSION_1/);
      const bar = Deno.readFileSync(`${root}/0000:00:03.0/resource4`);
      assert.ok(bar[CommonCfg.DEVICE_STATUS] & Status.FAILED);
    } finally {
      Deno.removeSync(root, { recursive: true });
    }
  },
});
