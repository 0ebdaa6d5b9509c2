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

export interface TreeUsage {
  /** Apparent sizes of everything that is not a directory: docker's SizeRw and volume sizes. */
  bytes: number;
  /** Disk use of everything, directories too, as du(1): sparse files count what they hold. */
  blocks: number;
  inodes: number;
}

/**
 * One walk of a directory tree, each hard-linked inode counted once. Entries that vanish while it
 * walks are skipped (a running container changes its tree); a root that is not there throws.
 */
export async function treeUsage(root: string): Promise<TreeUsage> {
  const seen = new Set<bigint>();
  const u: TreeUsage = { bytes: 0, blocks: 0, inodes: 0 };
  const visit = async (p: string, top: boolean): Promise<void> => {
    let st;
    try { st = await lstat(p, { bigint: true }); } catch (e) { if (top) throw e; return; }
    if (st.nlink > 1n && !st.isDirectory()) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    u.inodes++;
    u.blocks += Number(st.blocks) * 512;
    if (!st.isDirectory()) { u.bytes += Number(st.size); return; }
    let names: string[];
    try { names = await readdir(p); } catch (e) { if (top) throw e; return; }
    for (const n of names) await visit(`${p}/${n}`, false);
  };
  await visit(root, true);
  return u;
}

/** treeUsage's bytes, 0 when the tree is not there. */
export const treeSize = (dir: string): Promise<number> => treeUsage(dir).then((u) => u.bytes, () => 0);
