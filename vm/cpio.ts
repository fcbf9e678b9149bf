/**
 * Writes a "newc" cpio archive (the format the Linux kernel unpacks as initramfs,
 * Documentation/driver-api/early-userspace/buffer-format.rst) reproducibly: entries in byte order of their
 * paths, fixed inode numbers, owner root and one fixed mtime, so the same inputs give the same bytes.
 *
 * @module
 */

/** One archive member. `source` is a host file to copy (streamed) or the bytes themselves. */
export type CpioEntry =
  | { path: string; kind: "dir"; mode?: number }
  | { path: string; kind: "file"; mode?: number; source: string | Uint8Array }
  | { path: string; kind: "symlink"; target: string }
  | { path: string; kind: "char"; mode?: number; major: number; minor: number };

/** The mtime of every entry (2024-01-01T00:00:00Z): fixed, so that rebuilding gives the same bytes. */
export const FIXED_MTIME = 1704067200;

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const CHUNK = 1 << 20;

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

function header(fields: {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
  rdevMajor?: number;
  rdevMinor?: number;
  nameSize: number;
}): string {
  return "070701" +
    [
      fields.ino,
      fields.mode,
      0, // uid
      0, // gid
      fields.nlink,
      FIXED_MTIME,
      fields.size,
      0, // devmajor
      0, // devminor
      fields.rdevMajor ?? 0,
      fields.rdevMinor ?? 0,
      fields.nameSize,
      0, // check
    ].map(hex8).join("");
}

/** Sorts entries by path bytes and rejects duplicates and absolute or empty paths. */
export function sortEntries(entries: CpioEntry[]): CpioEntry[] {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    const path = sorted[i].path;
    if (path === "" || path.startsWith("/")) {
      throw new Error(`Archive path '${path}' must be relative`);
    }
    if (i > 0 && sorted[i - 1].path === path) {
      throw new Error(`Archive path '${path}' appears twice`);
    }
  }
  return sorted;
}

/** Writes the archive of `entries` to `output` and returns its size in bytes. */
export async function writeCpio(output: string, entries: CpioEntry[]): Promise<number> {
  const encoder = new TextEncoder();
  const file = await Deno.open(output, { write: true, create: true, truncate: true });
  const zeros = new Uint8Array(4);
  let written = 0;
  const write = async (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += await file.write(bytes.subarray(done));
    written += bytes.length;
  };
  const pad = async () => {
    if (written % 4) await write(zeros.subarray(0, 4 - (written % 4)));
  };
  const member = async (
    fields: Omit<Parameters<typeof header>[0], "nameSize"> & { name: string },
  ) => {
    const name = encoder.encode(fields.name + "\0");
    await write(encoder.encode(header({ ...fields, nameSize: name.length })));
    await write(name);
    await pad();
  };
  try {
    let ino = 1;
    for (const entry of sortEntries(entries)) {
      const name = entry.path;
      if (entry.kind === "dir") {
        await member({
          ino: ino++,
          mode: S_IFDIR | (entry.mode ?? 0o755),
          nlink: 2,
          size: 0,
          name,
        });
      } else if (entry.kind === "char") {
        await member({
          ino: ino++,
          mode: S_IFCHR | (entry.mode ?? 0o600),
          nlink: 1,
          size: 0,
          rdevMajor: entry.major,
          rdevMinor: entry.minor,
          name,
        });
      } else if (entry.kind === "symlink") {
        const target = encoder.encode(entry.target);
        await member({ ino: ino++, mode: S_IFLNK | 0o777, nlink: 1, size: target.length, name });
        await write(target);
        await pad();
      } else if (typeof entry.source !== "string") {
        const data = entry.source;
        await member({
          ino: ino++,
          mode: S_IFREG | (entry.mode ?? 0o644),
          nlink: 1,
          size: data.length,
          name,
        });
        await write(data);
        await pad();
      } else {
        const source = await Deno.open(entry.source, { read: true });
        try {
          const size = (await source.stat()).size;
          await member({ ino: ino++, mode: S_IFREG | (entry.mode ?? 0o644), nlink: 1, size, name });
          const buffer = new Uint8Array(CHUNK);
          let copied = 0;
          while (copied < size) {
            const n = await source.read(buffer);
            if (n === null) break;
            await write(buffer.subarray(0, Math.min(n, size - copied)));
            copied += n;
          }
          if (copied !== size) throw new Error(`${entry.source} changed size while being archived`);
          await pad();
        } finally {
          source.close();
        }
      }
    }
    await member({ ino: 0, mode: 0, nlink: 1, size: 0, name: "TRAILER!!!" });
  } finally {
    file.close();
  }
  return written;
}
