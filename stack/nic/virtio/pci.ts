/**
 * A PCI device seen through sysfs (/sys/bus/pci/devices/DDDD:BB:DD.F): finding the virtio-net card,
 * checking that no kernel driver owns it, enabling it with bus mastering, reading its config space and
 * mapping the BAR regions its virtio capabilities name. Works on any sysfs-shaped folder, so tests run it
 * over a fake tree.
 *
 * @module
 */

import type { VirtioCapabilities } from "./capabilities.ts";
import { VIRTIO_NET_MODERN, VIRTIO_NET_TRANSITIONAL, VIRTIO_VENDOR } from "./constants.ts";
import { errnoText, libc, Linux, mmapFailed, openFile } from "../ffi/libc.ts";
import type { MmioRegions } from "./transport.ts";

/** Where PCI devices appear in sysfs. */
export const SYSFS_PCI_DEVICES = "/sys/bus/pci/devices";

const PCI_COMMAND = 0x04;
const COMMAND_MEMORY = 0x2;
const COMMAND_BUS_MASTER = 0x4;

/** Writes "0000:00:03.0" for "00:03.0" or "0000:00:03.0"; throws on anything else. */
export function normalizePciAddress(address: string): string {
  const full = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
  const short = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;
  if (full.test(address)) return address.toLowerCase();
  if (short.test(address)) return `0000:${address.toLowerCase()}`;
  throw new Error(`PCI address '${address}' is not of the form 0000:00:03.0 or 00:03.0`);
}

function readHex(path: string): number {
  return parseInt(Deno.readTextFileSync(path).trim(), 16);
}

/** True when the device folder is a virtio network card (modern, or transitional with subsystem 1). */
function isVirtioNet(folder: string): boolean {
  try {
    if (readHex(`${folder}/vendor`) !== VIRTIO_VENDOR) return false;
    const device = readHex(`${folder}/device`);
    if (device === VIRTIO_NET_MODERN) return true;
    return device === VIRTIO_NET_TRANSITIONAL && readHex(`${folder}/subsystem_device`) === 1;
  } catch {
    return false;
  }
}

/** One PCI device's sysfs folder. */
export class PciDevice {
  /** The full address, such as 0000:00:03.0. */
  readonly address: string;
  /** Its sysfs folder. */
  readonly folder: string;

  /** Binds to the device at `address` under `root`. */
  constructor(root: string, address: string) {
    this.address = address;
    this.folder = `${root}/${address}`;
  }

  /** The kernel driver bound to the device, or undefined when none is. */
  boundDriver(): string | undefined {
    // Looked up rather than read and caught: the stack's normal case is no driver, and a process's
    // first exception costs ~40 ms under TCG, which the VM image's boot would pay.
    try {
      const bound = [...Deno.readDirSync(this.folder)].some((entry) => entry.name === "driver");
      return bound ? Deno.readLinkSync(`${this.folder}/driver`).split("/").pop() : undefined;
    } catch {
      return undefined;
    }
  }

  /** The /dev/uioN node when uio_pci_generic owns the device (for interrupts), else undefined. */
  uioNode(): string | undefined {
    try {
      const name = [...Deno.readDirSync(`${this.folder}/uio`)].map((e) => e.name).sort()[0];
      return name === undefined ? undefined : `/dev/${name}`;
    } catch {
      return undefined;
    }
  }

  /** Reads the configuration space (256 bytes for a conventional device). */
  readConfig(): Uint8Array {
    return Deno.readFileSync(`${this.folder}/config`);
  }

  /**
   * Enables memory decoding and makes the device a bus master so it can reach DMA memory, by setting
   * both bits of its command register. The sysfs `enable` file is not used: the kernel's
   * pci_enable_device behind it also routes the legacy interrupt (ACPI `_PRT` evaluation, 0.15–0.4 s
   * in a TCG guest), which polling does not need and uio_pci_generic does itself when bound.
   */
  enable(): void {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(`${this.folder}/config`, { read: true, write: true });
    } catch (error) {
      throw new Error(`Cannot enable PCI device ${this.address}: ${(error as Error).message}`);
    }
    try {
      const word = new Uint8Array(2);
      file.seekSync(PCI_COMMAND, Deno.SeekMode.Start);
      file.readSync(word);
      const command = word[0] | (word[1] << 8) | COMMAND_MEMORY | COMMAND_BUS_MASTER;
      word[0] = command & 0xff;
      word[1] = command >> 8;
      file.seekSync(PCI_COMMAND, Deno.SeekMode.Start);
      file.writeSync(word);
    } finally {
      file.close();
    }
  }

  /**
   * Maps the BARs that hold the capability regions (each BAR once, through its `resourceN` file) and
   * returns the four register blocks as memory.
   */
  mapRegions(caps: VirtioCapabilities): MmioRegions {
    const c = libc();
    const mappings = new Map<number, { pointer: Deno.PointerObject; length: number }>();
    const release = () => {
      for (const { pointer, length } of mappings.values()) c.munmap(pointer, BigInt(length));
      mappings.clear();
    };
    const region = (name: string, bar: number, offset: number, length: number): ArrayBuffer => {
      let mapping = mappings.get(bar);
      if (mapping === undefined) {
        const path = `${this.folder}/resource${bar}`;
        let size: number;
        try {
          size = Deno.statSync(path).size;
        } catch {
          throw new Error(`PCI device ${this.address} has no BAR ${bar} (${path} is missing)`);
        }
        const fd = openFile(path, Linux.O_RDWR | Linux.O_SYNC);
        const pointer = c.mmap(
          null,
          BigInt(size),
          Linux.PROT_READ | Linux.PROT_WRITE,
          Linux.MAP_SHARED,
          fd,
          0n,
        );
        const failure = mmapFailed(pointer) ? errnoText() : "";
        c.close(fd);
        if (failure) throw new Error(`Cannot map ${path}: ${failure}`);
        mapping = { pointer: pointer as Deno.PointerObject, length: size };
        mappings.set(bar, mapping);
      }
      if (offset + length > mapping.length) {
        throw new Error(
          `The ${name} region ends past BAR ${bar} (${offset}+${length} > ${mapping.length})`,
        );
      }
      const start = Deno.UnsafePointer.offset(mapping.pointer, offset) as Deno.PointerObject;
      return Deno.UnsafePointerView.getArrayBuffer(start, length);
    };
    try {
      return {
        common: region("common", caps.common.bar, caps.common.offset, caps.common.length),
        notify: region("notify", caps.notify.bar, caps.notify.offset, caps.notify.length),
        notifyMultiplier: caps.notify.multiplier,
        device: region("device", caps.device.bar, caps.device.offset, caps.device.length),
        isr: region("isr", caps.isr.bar, caps.isr.offset, caps.isr.length),
        release,
      };
    } catch (error) {
      release();
      throw error;
    }
  }
}

/**
 * Finds the virtio-net device: the one at `address` when given (which must be one), else the first in
 * address order. Throws a message that says what was looked for and where.
 */
export function findVirtioNet(root = SYSFS_PCI_DEVICES, address?: string): PciDevice {
  if (address !== undefined) {
    const full = normalizePciAddress(address);
    const device = new PciDevice(root, full);
    try {
      Deno.statSync(device.folder);
    } catch {
      throw new Error(`No PCI device at ${full} (${device.folder} does not exist)`);
    }
    if (!isVirtioNet(device.folder)) {
      throw new Error(
        `PCI device ${full} is not a virtio-net card (expected 1af4:1041 or 1af4:1000)`,
      );
    }
    return device;
  }
  let names: string[];
  try {
    names = [...Deno.readDirSync(root)].map((entry) => entry.name).sort();
  } catch {
    throw new Error(`Cannot list PCI devices: ${root} is not readable (is sysfs mounted?)`);
  }
  const name = names.find((candidate) => isVirtioNet(`${root}/${candidate}`));
  if (name === undefined) {
    throw new Error(
      `No virtio-net PCI device found (looked for 1af4:1041 and 1af4:1000 in ${root}); ` +
        "start QEMU with -device virtio-net-pci",
    );
  }
  return new PciDevice(root, name);
}
