/**
 * DMA memory: a region the device reads and writes directly, with the device (bus) address of every byte.
 * Without a vIOMMU the bus address is the guest-physical address, which /proc/self/pagemap gives (root
 * only). Hugepages are physically contiguous per 2 MiB and never migrate, so they are preferred; locked
 * 4 KiB pages are the fallback, which is why every ring and buffer is placed so that it never crosses a
 * page (see `DmaArena`). The region lies inside a WebAssembly memory whose pages are replaced by the
 * hugepages or locked, so that checksums over the frames run in WebAssembly where they are (see
 * `allocateDma`). `HeapDma` is the same contract over ordinary memory for the device model.
 *
 * @module
 */

import { checksumMemory } from "../../wire/checksum_wasm.ts";
import { errnoText, libc, Linux, mmapFailed, openFile } from "../ffi/libc.ts";

const { MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, O_RDONLY } =
  Linux;
const PROT_RW = Linux.PROT_READ | Linux.PROT_WRITE;

/** Memory a device can reach, with the bus address of each byte. */
export interface DmaMemory {
  /** The whole region as bytes. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The contiguity granule: bytes inside one aligned page are contiguous on the bus. */
  readonly pageSize: number;
  /** What backs the region, for logs ("hugepage 2 MiB", "locked 4 KiB pages", "heap"). */
  readonly kind: string;
  /** The bus address of `bytes[offset]`. */
  busAddress(offset: number): number;
  /** Releases the region. */
  close(): void;
}

/**
 * Hands out page-respecting pieces of a `DmaMemory`: a piece no larger than a page never straddles a page
 * boundary, so it is contiguous on the bus even on 4 KiB pages that are scattered physically.
 */
export class DmaArena {
  readonly memory: DmaMemory;
  #next = 0;

  /** Starts handing out `memory` from its first byte. */
  constructor(memory: DmaMemory) {
    this.memory = memory;
  }

  /** Reserves `size` bytes aligned to `align` and returns their offset in `memory.bytes`. */
  alloc(size: number, align: number): number {
    const page = this.memory.pageSize;
    if (size > page) {
      throw new Error(`Cannot place ${size} bytes of DMA memory in ${page}-byte pages`);
    }
    let at = Math.ceil(this.#next / align) * align;
    if (Math.floor(at / page) !== Math.floor((at + size - 1) / page)) {
      at = Math.ceil(at / page) * page;
    }
    if (at + size > this.memory.bytes.length) {
      throw new Error(
        `DMA memory exhausted: ${size} more bytes do not fit in ${this.memory.bytes.length}`,
      );
    }
    this.#next = at + size;
    return at;
  }

  /** Bytes handed out so far (including alignment gaps). */
  get used(): number {
    return this.#next;
  }
}

/**
 * Ordinary memory posing as DMA memory: page `i` of the region sits at bus frame `frames[i]`. With
 * shuffled frames, tests catch a driver that assumes contiguity across pages.
 */
export class HeapDma implements DmaMemory {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly pageSize: number;
  readonly kind = "heap";
  readonly #frames: number[];
  readonly #pageOfFrame = new Map<number, number>();

  /** A region of `pages` pages of `pageSize` bytes at the given bus frame numbers (identity by default). */
  constructor(pages: number, pageSize = 4096, frames?: number[]) {
    this.bytes = new Uint8Array(pages * pageSize);
    this.pageSize = pageSize;
    this.#frames = frames ?? Array.from({ length: pages }, (_, i) => 0x1000 + i);
    if (this.#frames.length !== pages) {
      throw new Error(`Expected ${pages} frames, got ${this.#frames.length}`);
    }
    this.#frames.forEach((frame, page) => this.#pageOfFrame.set(frame, page));
  }

  /** The bus address of `bytes[offset]`. */
  busAddress(offset: number): number {
    const page = Math.floor(offset / this.pageSize);
    return this.#frames[page] * this.pageSize + (offset % this.pageSize);
  }

  /** The offset of a bus address in `bytes`, or -1 when it is outside the region (the model's view). */
  offsetOf(busAddress: number): number {
    const page = this.#pageOfFrame.get(Math.floor(busAddress / this.pageSize));
    return page === undefined ? -1 : page * this.pageSize + (busAddress % this.pageSize);
  }

  /** Nothing to release. */
  close(): void {}
}

const HUGEPAGE = 2 * 1024 * 1024;
const SMALL_PAGE = 4096;
const PAGEMAP_PRESENT = 1n << 63n;
const PAGEMAP_PFN_MASK = (1n << 55n) - 1n;

/** Real DMA memory: an anonymous locked mapping whose pages are translated through pagemap. */
class MappedDma implements DmaMemory {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly pageSize: number;
  readonly kind: string;
  readonly #pointer: Deno.PointerObject;
  readonly #length: number;
  readonly #frames: number[];

  readonly #owned: boolean;

  /**
   * Wraps `length` bytes at `pointer`: a mapping of its own (released by `close`), or with `within`,
   * the part of a WebAssembly memory at `offset` that the pointer addresses (V8 keeps that memory).
   */
  constructor(
    pointer: Deno.PointerObject,
    length: number,
    pageSize: number,
    kind: string,
    within?: { memory: WebAssembly.Memory; offset: number },
  ) {
    this.#pointer = pointer;
    this.#length = length;
    this.#owned = within === undefined;
    this.pageSize = pageSize;
    this.kind = kind;
    this.bytes = within === undefined
      ? new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer, length))
      : new Uint8Array(within.memory.buffer as ArrayBuffer, within.offset, length);
    // Touch every page so it is faulted in (MAP_POPULATE should have done it) before translating.
    for (let at = 0; at < length; at += SMALL_PAGE) this.bytes[at] = 0;
    this.#frames = translate(pointer, length, pageSize);
    const again = translate(pointer, length, pageSize);
    if (again.some((frame, i) => frame !== this.#frames[i])) {
      throw new Error("DMA memory moved while being translated: physical addresses are not stable");
    }
  }

  busAddress(offset: number): number {
    const page = Math.floor(offset / this.pageSize);
    return this.#frames[page] + (offset % this.pageSize);
  }

  close(): void {
    // Memory inside a WebAssembly memory stays mapped (and locked) until V8 frees that memory.
    if (this.#owned) libc().munmap(this.#pointer, BigInt(this.#length));
  }
}

/** Physical address of the start of each `pageSize` page of a mapping, read from /proc/self/pagemap. */
function translate(pointer: Deno.PointerObject, length: number, pageSize: number): number[] {
  const c = libc();
  const fd = openFile("/proc/self/pagemap", O_RDONLY);
  try {
    const start = Deno.UnsafePointer.value(pointer) as bigint;
    const entry = new BigUint64Array(1);
    const entryBytes = new Uint8Array(entry.buffer);
    const frames: number[] = [];
    for (let at = 0; at < length; at += pageSize) {
      const virtualPage = (start + BigInt(at)) / BigInt(SMALL_PAGE);
      const n = c.pread(fd, entryBytes, 8n, virtualPage * 8n);
      if (n !== 8) throw new Error("Cannot read /proc/self/pagemap (needs root)");
      const value = entry[0];
      const pfn = value & PAGEMAP_PFN_MASK;
      if ((value & PAGEMAP_PRESENT) === 0n || pfn === 0n) {
        throw new Error(
          "Cannot translate DMA memory: /proc/self/pagemap hides frame numbers (needs root)",
        );
      }
      frames.push(Number(pfn * BigInt(SMALL_PAGE)));
    }
    return frames;
  } finally {
    c.close(fd);
  }
}

/**
 * Allocates `size` bytes of DMA memory: one or more 2 MiB hugepages when the kernel has them reserved
 * (vm.nr_hugepages), else locked 4 KiB pages. Needs root (pagemap) and no IOMMU between device and memory.
 */
export function allocateDma(size: number, opts: { hugepages?: boolean } = {}): DmaMemory {
  return allocateInWasm(size, opts.hugepages !== false) ?? allocateMapped(size, opts);
}

/**
 * DMA memory inside a WebAssembly memory, so that the checksums over the frames in it run in
 * WebAssembly in place (`stack/wire/checksum_wasm.ts`, 3.6 times faster under QEMU's TCG): the pages
 * of a 2 MiB-aligned part of it are replaced by hugepages (`MAP_FIXED`) when the kernel has them, else
 * locked where they are. `undefined` without WebAssembly.
 */
function allocateInWasm(size: number, hugepages: boolean): DmaMemory | undefined {
  const c = libc();
  const length = Math.ceil(size / HUGEPAGE) * HUGEPAGE;
  const memory = checksumMemory(length + HUGEPAGE);
  if (memory === undefined) return undefined;
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(memory.buffer)));
  const huge = BigInt(HUGEPAGE);
  const start = ((base + huge - 1n) / huge) * huge;
  const offset = Number(start - base);
  const pointer = Deno.UnsafePointer.create(start)!;
  const within = { memory, offset };
  if (hugepages) {
    // A MAP_FIXED that fails may already have unmapped what was there, so first make sure that
    // hugepages are to be had at all; then, should the fixed mapping fail anyway, map ordinary
    // pages back before going on.
    const probe = c.mmap(
      null,
      BigInt(length),
      PROT_RW,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
      -1,
      0n,
    );
    if (!mmapFailed(probe)) {
      c.munmap(probe, BigInt(length));
      const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_HUGETLB | MAP_POPULATE |
        MAP_LOCKED;
      if (!mmapFailed(c.mmap(pointer, BigInt(length), PROT_RW, flags, -1, 0n))) {
        return new MappedDma(pointer, length, HUGEPAGE, "hugepages 2 MiB", within);
      }
      const back = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      if (mmapFailed(c.mmap(pointer, BigInt(length), PROT_RW, back, -1, 0n))) {
        throw new Error(`Cannot map memory back after a failed hugepage mapping: ${errnoText()}`);
      }
    }
  }
  if (c.mlock(pointer, BigInt(length)) !== 0) {
    throw new Error(`Cannot lock ${length} bytes of DMA memory: ${errnoText()}`);
  }
  return new MappedDma(pointer, length, SMALL_PAGE, "locked 4 KiB pages", within);
}

/** DMA memory of its own mapping (when WebAssembly is missing). */
function allocateMapped(size: number, opts: { hugepages?: boolean }): DmaMemory {
  const c = libc();
  if (opts.hugepages !== false) {
    const length = Math.ceil(size / HUGEPAGE) * HUGEPAGE;
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED;
    const pointer = c.mmap(null, BigInt(length), PROT_RW, flags, -1, 0n);
    if (!mmapFailed(pointer)) {
      return new MappedDma(pointer as Deno.PointerObject, length, HUGEPAGE, "hugepages 2 MiB");
    }
  }
  const length = Math.ceil(size / SMALL_PAGE) * SMALL_PAGE;
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED;
  const pointer = c.mmap(null, BigInt(length), PROT_RW, flags, -1, 0n);
  if (mmapFailed(pointer)) throw new Error(`Cannot allocate ${length} bytes of locked DMA memory`);
  return new MappedDma(pointer as Deno.PointerObject, length, SMALL_PAGE, "locked 4 KiB pages");
}
