/**
 * Mounting Mount[] data (from a Snapshotter) onto a target, and unmounting.
 *
 * Deep overlay stacks: the kernel reads at most one page (4096 bytes here) of
 * mount data. Snapshotters already name lower dirs by short links
 * (<root>/l/<8 chars>), which keeps absolute lowerdir lists under a page up
 * to ~90 layers for a typical root. Beyond that, mountAll rewrites the
 * lowerdirs relative to their longest common parent directory and mounts
 * with that directory as working directory (on a private-cwd thread in the
 * addon, see native/addon/mount.c), so each layer costs only "<8 chars>:"
 * (~430 layers; overlay's own limit is 500).
 */
import { FailedPrecondition, InvalidArgument, fromErrno } from "../errdefs.js";
import type { Mount } from "./snapshotter.js";
import { addon, hasCode } from "./sys.js";

const PAGE_SIZE = 4096;

interface Parsed { flags: number; data: string[]; ro: boolean; bind: boolean; propagation: number }

function parseOptions(m: Mount): Parsed {
  const c = addon().constants;
  const FLAGS: Record<string, [set: number, clear: number]> = {
    ro: [c.MS_RDONLY, 0], rw: [0, c.MS_RDONLY], nosuid: [c.MS_NOSUID, 0], suid: [0, c.MS_NOSUID],
    nodev: [c.MS_NODEV, 0], dev: [0, c.MS_NODEV], noexec: [c.MS_NOEXEC, 0], exec: [0, c.MS_NOEXEC],
    bind: [c.MS_BIND, 0], rbind: [c.MS_BIND | c.MS_REC, 0],
  };
  const PROP: Record<string, number> = {
    private: c.MS_PRIVATE, rprivate: c.MS_PRIVATE | c.MS_REC, slave: c.MS_SLAVE, rslave: c.MS_SLAVE | c.MS_REC,
    shared: c.MS_SHARED, rshared: c.MS_SHARED | c.MS_REC,
  };
  const p: Parsed = { flags: 0, data: [], ro: false, bind: m.type === "bind", propagation: 0 };
  for (const o of m.options) {
    const f = FLAGS[o];
    if (f) { p.flags = (p.flags | f[0]) & ~f[1]; continue; }
    const prop = PROP[o];
    if (prop !== undefined) { p.propagation = prop; continue; }
    p.data.push(o);
  }
  p.ro = (p.flags & c.MS_RDONLY) !== 0;
  if (p.flags & c.MS_BIND) p.bind = true;
  return p;
}

function commonDir(paths: string[]): string {
  let prefix = paths[0]!.slice(0, paths[0]!.lastIndexOf("/") + 1);
  for (const p of paths) while (!p.startsWith(prefix)) prefix = prefix.slice(0, prefix.slice(0, -1).lastIndexOf("/") + 1);
  return prefix;
}

/** Rewrites lowerdir=… relative to a common directory when the data exceeds a page. */
export function compactOverlayData(data: string[]): { data: string; cwd?: string } {
  const joined = data.join(",");
  if (joined.length < PAGE_SIZE) return { data: joined };
  const i = data.findIndex((o) => o.startsWith("lowerdir="));
  if (i === -1) return { data: joined };
  const lowers = data[i]!.slice("lowerdir=".length).split(":");
  if (!lowers.every((l) => l.startsWith("/"))) return { data: joined };
  const cwd = commonDir(lowers);
  if (cwd.length <= 1) return { data: joined };
  const out = [...data];
  out[i] = `lowerdir=${lowers.map((l) => l.slice(cwd.length)).join(":")}`;
  return { data: out.join(","), cwd };
}

function mountOne(m: Mount, target: string): void {
  const a = addon();
  const c = a.constants;
  const p = parseOptions(m);
  try {
    if (p.bind) {
      a.mount(m.source, target, null, p.flags & (c.MS_BIND | c.MS_REC), null);
      // A bind mount ignores most flags on creation: they take effect on a remount.
      const extra = p.flags & ~(c.MS_BIND | c.MS_REC);
      if (extra) a.mount(null, target, null, c.MS_BIND | c.MS_REMOUNT | extra, null);
    } else {
      const { data, cwd } = compactOverlayData(p.data);
      if (data.length >= PAGE_SIZE) {
        throw new FailedPrecondition(`mount ${m.type} on ${target}: options are ${data.length} bytes even with relative lower dirs (page size ${PAGE_SIZE}); the stack is too deep`);
      }
      a.mount(m.source, target, m.type, p.flags, data, cwd);
    }
    if (p.propagation) a.mount(null, target, null, p.propagation, null);
  } catch (err) {
    if (err instanceof FailedPrecondition) throw err;
    throw fromErrno(err, `mount ${m.type} ${m.source} on ${target}`);
  }
}

/** Mounts each mount on `target` in order (later ones stack on earlier ones). */
export function mountAll(mounts: readonly Mount[], target: string): void {
  if (mounts.length === 0) throw new InvalidArgument(`mount on ${target}: no mounts given`);
  const done: number[] = [];
  try {
    for (const m of mounts) { mountOne(m, target); done.push(1); }
  } catch (err) {
    for (const _ of done) try { addon().umount2(target, addon().constants.MNT_DETACH); } catch { /* best effort */ }
    throw err;
  }
}

/** Unmounts everything mounted on `target` (stacked mounts included). Not mounted is not an error. */
export function unmount(target: string, opts: { detach?: boolean } = {}): void {
  const a = addon();
  const flags = (opts.detach ? a.constants.MNT_DETACH : 0) | a.constants.UMOUNT_NOFOLLOW;
  for (let i = 0; i < 64; i++) {
    try {
      a.umount2(target, flags);
    } catch (err) {
      if (hasCode(err, "EINVAL") || hasCode(err, "ENOENT")) return; // nothing (more) mounted there
      throw fromErrno(err, `unmount ${target}`);
    }
  }
}

/** The directory a layer can be applied into for an active snapshot's mounts. */
export function writableDir(mounts: readonly Mount[]): string {
  if (mounts.length === 1) {
    const m = mounts[0]!;
    const upper = m.options.find((o) => o.startsWith("upperdir="));
    if (m.type === "overlay" && upper) return upper.slice("upperdir=".length);
    if (m.type === "bind" && !m.options.includes("ro")) return m.source;
  }
  throw new InvalidArgument(`mounts ${JSON.stringify(mounts)} have no single writable directory (is this an active snapshot?)`);
}
