/**
 * Creates one node of a layer at an already-confined path: the file types a
 * tar can hold, then ownership, mode, xattrs and times. Called by apply.ts,
 * which has checked that every parent is a real directory inside the root.
 */
import { chmodSync, closeSync, constants as C, fchmodSync, fchownSync, ftruncateSync, lchownSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, symlinkSync, writeSync } from "node:fs";
import { InvalidArgument } from "../errdefs.js";
import type { TarHeader } from "./tar/header.js";
import { addon } from "./sys.js";

/** Overlay's own metadata: a layer says "whiteout"/"opaque" with .wh. names, never with these. */
const OVERLAY_XATTR = "trusted.overlay.";

/**
 * The process's umask, from /proc/self/status: process.umask() reads it by setting it to 0 and
 * back, a moment in which another thread's new files would get every bit they ask for. An
 * unreadable status counts as a umask that takes every bit, so chmod always runs.
 */
export function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return parseInt(m[1]!, 8);
  } catch { /* no procfs */ }
  return 0o777;
}
/** Whether this process makes files owned by 0:0 (root, or root in its user namespace). */
const rootCreator = process.geteuid?.() === 0 && process.getegid?.() === 0;

/**
 * Writes a regular file's data (restoring holes for sparse entries). O_NOFOLLOW|O_EXCL: never
 * through a link. The system calls of a layer's entries are synchronous: each takes microseconds
 * (page cache), while a thread-pool round trip per open/write/chown/chmod/close made applying a
 * layer of small files mostly waiting (measured: 69 % idle, 2.2 × GNU tar's time). The file is
 * created with its mode, and its metadata set through its descriptor before it is closed (no path
 * lookups); chown and chmod are left out when the file came out that way: owned 0:0 by a root
 * creator in a directory that is not setgid (`made.inherits` false), with no bit the umask took or
 * setuid/setgid/sticky.
 */
async function writeFile(abs: string, h: TarHeader, body: AsyncIterable<Buffer>, made: Made): Promise<void> {
  const fd = openSync(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, h.mode & 0o777);
  const skip = { owner: rootCreator && !made.inherits && h.uid === 0 && h.gid === 0, mode: (h.mode & 0o7000) === 0 && (h.mode & made.umask) === 0 };
  try {
    if (!h.sparse) {
      let pos = 0;
      for await (const c of body) {
        for (let off = 0; off < c.length;) off += writeSync(fd, c, off, c.length - off, pos + off);
        pos += c.length;
      }
      setMetadata(abs, h, false, fd, skip);
      return;
    }
    const segs = h.sparse.segments;
    let i = 0, into = 0;
    for await (let c of body) {
      while (c.length > 0) {
        const seg = segs[i];
        if (!seg) throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: sparse data longer than its map`);
        const n = Math.min(c.length, seg.length - into);
        for (let off = 0; off < n;) off += writeSync(fd, c, off, n - off, seg.offset + into + off);
        c = c.subarray(n);
        into += n;
        if (into === seg.length) { i++; into = 0; }
      }
    }
    ftruncateSync(fd, h.sparse.realSize);
    setMetadata(abs, h, false, fd, skip);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates the node for `h` at `abs` (which must not exist). `linkTarget` is the confined hardlink
 * target. Regular files get their metadata too (the others: setMetadata).
 */
/** How a new file comes out: whether its directory is setgid, and the umask. */
export interface Made { inherits: boolean; umask: number }

export async function createNode(abs: string, h: TarHeader, body: AsyncIterable<Buffer>, linkTarget?: string, made: Made = { inherits: true, umask: 0o777 }): Promise<void> {
  switch (h.type) {
    case "dir": mkdirSync(abs, 0o700); return;
    case "file": await writeFile(abs, h, body, made); return;
    case "symlink":
      if (h.linkname.includes("\0")) throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: symlink target contains NUL`);
      symlinkSync(h.linkname, abs);
      return;
    case "hardlink": {
      const st = lstatSync(linkTarget!, { throwIfNoEntry: false });
      if (!st) throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: hardlink target ${JSON.stringify(h.linkname)} does not exist in this layer`);
      if (st.isDirectory()) throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: hardlink target ${JSON.stringify(h.linkname)} is a directory`);
      linkSync(linkTarget!, abs); // link(2) never follows a symlink target on Linux
      return;
    }
    case "char": addon().mknod(abs, C.S_IFCHR | (h.mode & 0o7777), h.devmajor, h.devminor); return;
    case "block": addon().mknod(abs, C.S_IFBLK | (h.mode & 0o7777), h.devmajor, h.devminor); return;
    case "fifo": addon().mknod(abs, C.S_IFIFO | (h.mode & 0o7777), 0, 0); return;
  }
}

/**
 * Sets ownership, mode, xattrs; times too unless `deferTimes` (directories get theirs at the end).
 * Through `fd` when the node is open (a regular file being written), else by path; `skip` names
 * what the file was created with already.
 */
export function setMetadata(abs: string, h: TarHeader, deferTimes: boolean, fd?: number, skip?: { owner: boolean; mode: boolean }): void {
  if (h.type === "hardlink") return; // shares the target's inode, which has its metadata already
  // chmod after chown: chown clears setuid/setgid (and file capabilities: xattrs come after).
  // Symlinks have no mode of their own.
  if (fd !== undefined) {
    if (!skip?.owner) fchownSync(fd, h.uid, h.gid);
    if (!skip?.mode) fchmodSync(fd, h.mode & 0o7777);
  } else {
    lchownSync(abs, h.uid, h.gid);
    if (h.type !== "symlink") chmodSync(abs, h.mode & 0o7777);
  }
  for (const [name, value] of Object.entries(h.xattrs)) {
    if (name.startsWith(OVERLAY_XATTR)) continue;
    addon().lsetxattr(abs, name, value);
  }
  if (deferTimes) return;
  const a = h.atime ?? h.mtime;
  if (fd !== undefined) addon().futimens(fd, a.sec, a.nsec, h.mtime.sec, h.mtime.nsec);
  else setTimes(abs, h);
}

export function setTimes(abs: string, h: TarHeader): void {
  const a = h.atime ?? h.mtime;
  addon().lutimens(abs, a.sec, a.nsec, h.mtime.sec, h.mtime.nsec);
}
