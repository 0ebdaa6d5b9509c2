/**
 * Changes of a snapshot as a layer tar (OCI image-spec layer.md "Change Types"):
 *  - overlayDiff(upper): an overlay upper dir already is the change set; its
 *    whiteouts (0:0 char devices, or files with trusted.overlay.whiteout) become
 *    `.wh.<name>` entries and opaque dirs (trusted.overlay.opaque=y) get a
 *    `.wh..wh..opq` entry after the directory's own entry.
 *  - compareDiff(lower, upper): for full copies, a double walk of the parent
 *    and the snapshot: new or changed paths are emitted, vanished ones become
 *    `.wh.<name>`.
 * Entries come parents first, siblings in byte order; mtimes are truncated to
 * seconds (as Docker writes layers) and overlay's private xattrs are dropped.
 */
import { createReadStream } from "node:fs";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { join } from "node:path";
import { InvalidArgument } from "../errdefs.js";
import { OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX } from "./apply.js";
import { addon, hasCode } from "./sys.js";
import type { EntryType } from "./tar/header.js";
import { writeTar, type TarWriteEntry } from "./tar/writer.js";

const OVERLAY_XATTR = "trusted.overlay.";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

async function names(dir: string): Promise<string[]> {
  const raw = await readdir(dir, { encoding: "buffer" });
  return raw.sort(Buffer.compare).map((b) => {
    try { return strictUtf8.decode(b); } catch { throw new InvalidArgument(`diff: file name ${JSON.stringify(b.toString("latin1"))} in ${dir} is not UTF-8`); }
  });
}

function xattrs(abs: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  let list: string[];
  try { list = addon().llistxattr(abs); } catch (err) { if (hasCode(err, "ENOTSUP")) return out; throw err; }
  for (const n of list.sort()) {
    if (n.startsWith(OVERLAY_XATTR)) continue;
    out[n] = addon().lgetxattr(abs, n);
  }
  return out;
}

function getXattr(abs: string, name: string): Buffer | undefined {
  try { return addon().lgetxattr(abs, name); } catch { return undefined; }
}

function typeOf(st: BigIntStats): EntryType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  throw new InvalidArgument("diff: sockets cannot go in a layer");
}

const major = (rdev: bigint): number => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
const minor = (rdev: bigint): number => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));

/** Files with several links inside one diff: the first is stored, later ones are hardlink entries. */
type Links = Map<string, string>;

async function entryFor(rel: string, abs: string, st: BigIntStats, links: Links): Promise<TarWriteEntry | null> {
  let type: EntryType;
  try { type = typeOf(st); } catch { return null; } // sockets are runtime state, not content: skipped as Docker does
  const header = {
    name: rel, type, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid),
    mtime: { sec: Number(st.mtimeNs / 1_000_000_000n), nsec: 0 }, xattrs: xattrs(abs),
  };
  if (type === "file" && st.nlink > 1n) {
    const key = `${st.dev}:${st.ino}`;
    const first = links.get(key);
    if (first) return { header: { ...header, type: "hardlink", linkname: first } };
    links.set(key, rel);
  }
  switch (type) {
    case "file": return { header: { ...header, size: Number(st.size) }, body: createReadStream(abs) };
    case "symlink": return { header: { ...header, linkname: await readlink(abs) } };
    case "char": case "block": return { header: { ...header, devmajor: major(st.rdev), devminor: minor(st.rdev) } };
    default: return { header };
  }
}

function whiteoutEntry(parentRel: string, name: string, st?: BigIntStats): TarWriteEntry {
  const rel = parentRel === "" ? `${WHITEOUT_PREFIX}${name}` : `${parentRel}/${WHITEOUT_PREFIX}${name}`;
  return { header: { name: rel, type: "file", size: 0, mode: 0o644, uid: st ? Number(st.uid) : 0, gid: st ? Number(st.gid) : 0, mtime: { sec: st ? Number(st.mtimeNs / 1_000_000_000n) : 0, nsec: 0 } } };
}

const isOverlayWhiteout = (abs: string, st: BigIntStats): boolean =>
  (st.isCharacterDevice() && st.rdev === 0n) || (st.isFile() && st.size === 0n && getXattr(abs, "trusted.overlay.whiteout") !== undefined);

async function* walkUpper(root: string, rel: string, links: Links, skip?: (rel: string, st: BigIntStats) => boolean): AsyncGenerator<TarWriteEntry> {
  const dir = rel === "" ? root : join(root, rel);
  for (const name of await names(dir)) {
    const crel = rel === "" ? name : `${rel}/${name}`, abs = join(dir, name);
    const st = await lstat(abs, { bigint: true });
    if (skip?.(crel, st)) continue;
    if (isOverlayWhiteout(abs, st)) { yield whiteoutEntry(rel, name, st); continue; }
    const e = await entryFor(crel, abs, st, links);
    if (e) yield e;
    if (st.isDirectory()) {
      if (getXattr(abs, OVERLAY_OPAQUE_XATTR)?.toString() === "y") yield { header: { name: `${crel}/${OPAQUE_MARKER}`, type: "file", size: 0, mode: 0o644, mtime: e?.header.mtime } };
      yield* walkUpper(root, crel, links, skip);
    }
  }
}

/** The layer tar of an overlay upper (or committed layer) directory; `skip` leaves entries out. */
export function overlayDiff(upper: string, skip?: (rel: string, st: BigIntStats) => boolean): AsyncIterable<Buffer> {
  return writeTar(walkUpper(upper, "", new Map(), skip));
}

async function sameContent(a: string, b: string, size: bigint): Promise<boolean> {
  if (size > 64n << 20n) return false; // too big to compare cheaply: treat as changed
  return (await readFile(a)).equals(await readFile(b));
}

async function changed(labs: string, l: BigIntStats, uabs: string, u: BigIntStats): Promise<boolean> {
  if (typeOf(l) !== typeOf(u) || l.mode !== u.mode || l.uid !== u.uid || l.gid !== u.gid || l.rdev !== u.rdev) return true;
  if (u.isFile() && l.size !== u.size) return true;
  if (u.isSymbolicLink()) return (await readlink(labs)) !== (await readlink(uabs));
  const lx = xattrs(labs), ux = xattrs(uabs);
  const keys = Object.keys(ux);
  if (keys.length !== Object.keys(lx).length || keys.some((k) => !lx[k]?.equals(ux[k]!))) return true;
  if (l.mtimeNs !== u.mtimeNs) return true;
  // Same size and mtime: a filesystem with coarse timestamps can hide a rewrite, so compare bytes
  // when the mtime has no sub-second part (containerd's heuristic).
  if (u.isFile() && u.mtimeNs % 1_000_000_000n === 0n) return !(await sameContent(labs, uabs, u.size));
  return false;
}

async function* walkCompare(lower: string | null, upper: string, rel: string, links: Links): AsyncGenerator<TarWriteEntry> {
  const udir = rel === "" ? upper : join(upper, rel);
  const ldir = lower === null ? null : rel === "" ? lower : join(lower, rel);
  const unames = await names(udir);
  const lnames = ldir === null ? [] : await names(ldir);
  const have = new Set(unames);
  for (const n of lnames) if (!have.has(n)) yield whiteoutEntry(rel, n);
  const lset = new Set(lnames);
  for (const name of unames) {
    const crel = rel === "" ? name : `${rel}/${name}`, uabs = join(udir, name);
    const u = await lstat(uabs, { bigint: true });
    const l = ldir !== null && lset.has(name) ? await lstat(join(ldir, name), { bigint: true }) : null;
    if (!l || (await changed(join(ldir!, name), l, uabs, u))) {
      const e = await entryFor(crel, uabs, u, links);
      if (e) yield e;
    }
    if (u.isDirectory()) yield* walkCompare(l?.isDirectory() ? lower : null, upper, crel, links);
  }
}

/** The layer tar turning `lower` (null: empty) into `upper`, both plain directory trees. */
export function compareDiff(lower: string | null, upper: string): AsyncIterable<Buffer> {
  return writeTar(walkCompare(lower, upper, "", new Map()));
}
