import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { lstat, mkdir, open, readdir, rename } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Writes a file atomically: temp file in the same directory, fsync, rename,
 * fsync the directory. A crash at any point leaves either the old or the new
 * content, never a torn file (the engine's state relies on this).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const d = await open(dir, "r");
  try { await d.sync(); } finally { await d.close(); }
}

/**
 * Replaces a file by rename, without fsync: a reader sees the old or the new content, never a
 * torn file, and a crashed berthd finds it; only a power failure may lose it. For what does not
 * outlive a reboot anyway (runtime and network state under the exec root) and for files remade
 * at every start (a container's hosts, hostname, resolv.conf). Synchronous: these are small,
 * and a write to the page cache costs less than a round trip through the thread pool.
 */
export function writeFileVolatile(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    writeFileSync(tmp, data, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data, { mode });
  }
  renameSync(tmp, path);
}

/**
 * The bytes a directory tree holds, as docker counts them for SizeRw and volume sizes: the sizes
 * of everything that is not a directory, each hard-linked inode once. Entries that vanish while
 * it walks are skipped (a running container changes its tree).
 */
export async function treeSize(dir: string): Promise<number> {
  const seen = new Set<bigint>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try { names = await readdir(d); } catch { return; }
    for (const n of names) {
      const p = `${d}/${n}`;
      let st;
      try { st = await lstat(p, { bigint: true }); } catch { continue; }
      if (st.isDirectory()) { await walk(p); continue; }
      if (st.nlink > 1n) { if (seen.has(st.ino)) continue; seen.add(st.ino); }
      total += Number(st.size);
    }
  };
  await walk(dir);
  return total;
}
