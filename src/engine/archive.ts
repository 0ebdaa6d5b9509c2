/**
 * `docker cp`: paths of a container read as a tar stream and tar streams extracted into it. A path
 * is resolved as the container sees it — through its bind mounts and volumes, with symlinks
 * evaluated inside its root (secureJoin), so a symlink in the container never leads the daemon to a
 * host path (CVE-2018-15664). Extraction goes through the snapshot side's SafeRoot (applyLayer),
 * which refuses entries that would leave the target directory. Docker pauses a running container
 * around these operations; so does the caller here.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import { InvalidArgument, NotFound } from "../errdefs.js";
import { secureJoin } from "../secure-join.js";
import { applyLayer, writeTar, type TarWriteEntry } from "../snapshot/index.js";

export interface MountMap { destination: string; source: string }

/** docker's container path stat (X-Docker-Container-Path-Stat, base64 JSON). */
export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

/** Go's os.FileMode bits for the type of a file (what docker's clients decode). */
const GO_DIR = 2 ** 31, GO_SYMLINK = 2 ** 27, GO_DEVICE = 2 ** 26, GO_PIPE = 2 ** 25, GO_SOCKET = 2 ** 24, GO_CHAR = 2 ** 21;

/**
 * Resolves a container path to a host path: the longest mount destination that contains it picks
 * the root (a volume's or bind's source, else the container's rootfs); the rest is joined safely.
 */
export function resolveContainerPath(rootfs: string, mounts: MountMap[], path: string, o: { followLast?: boolean } = {}): string {
  if (!path.startsWith("/")) path = `/${path}`;
  const clean = posix.normalize(path);
  // followLast false (stat and copy out, as docker's ResolvePath): the directory is resolved in
  // the container's scope and the last element appended as it is, so a symlink is itself —
  // unless the path ends in / or /., or is a mount point.
  if (o.followLast === false && clean !== "/" && !/\/\.?$/.test(path) && !mounts.some((m) => m.destination.replace(/\/$/, "") === clean)) {
    return posix.join(resolveContainerPath(rootfs, mounts, posix.dirname(clean)), posix.basename(clean));
  }
  const m = [...mounts].sort((a, b) => b.destination.length - a.destination.length)
    .find((x) => clean === x.destination || clean.startsWith(`${x.destination.replace(/\/$/, "")}/`));
  if (m) return secureJoin(m.source, clean.slice(m.destination.length));
  return secureJoin(rootfs, clean);
}

export async function statPath(host: string, name: string): Promise<PathStat> {
  let st;
  try { st = await lstat(host); } catch { throw new NotFound(`Could not find the file ${name} in container`); }
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += GO_DIR;
  else if (st.isSymbolicLink()) mode += GO_SYMLINK;
  else if (st.isFIFO()) mode += GO_PIPE;
  else if (st.isSocket()) mode += GO_SOCKET;
  else if (st.isCharacterDevice()) mode += GO_DEVICE + GO_CHAR;
  else if (st.isBlockDevice()) mode += GO_DEVICE;
  return {
    name: posix.basename(name) || "/", size: st.size, mode, mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? await readlink(host) : "",
  };
}

/** Tar entries for a path and, for a directory, everything under it (children sorted). */
export async function* walkEntries(abs: string, name: string): AsyncGenerator<TarWriteEntry> {
  const st = await lstat(abs);
  const h = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: { sec: Math.floor(st.mtimeMs / 1000), nsec: 0 } };
  if (st.isDirectory()) {
    yield { header: { ...h, type: "dir" } };
    for (const child of (await readdir(abs)).sort()) yield* walkEntries(`${abs}/${child}`, `${name}/${child}`);
  } else if (st.isSymbolicLink()) {
    yield { header: { ...h, type: "symlink", linkname: await readlink(abs) } };
  } else if (st.isFile()) {
    yield { header: { ...h, type: "file", size: st.size }, body: createReadStream(abs) as AsyncIterable<Buffer> };
  } else if (st.isFIFO()) {
    yield { header: { ...h, type: "fifo" } };
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    yield { header: { ...h, type: st.isCharacterDevice() ? "char" : "block", devmajor: Math.floor(st.rdev / 256), devminor: st.rdev % 256 } };
  }
  // sockets are not archived (tar has no type for them), as docker
}

/** A tar of the path, its top entry named after the path's last element (docker's layout). */
export function archivePath(host: string, name: string): AsyncIterable<Buffer> {
  const base = posix.basename(posix.normalize(`/${name}`)) || ".";
  return writeTar(walkEntries(host, base));
}

/**
 * Extracts a tar into a directory of the container. As dockerd, the tar's owners are not kept:
 * everything belongs to `owner` (root, or the container's user for `cp -a`).
 */
export async function extractInto(hostDir: string, containerPath: string, body: Readable, owner: { uid: number; gid: number }): Promise<void> {
  let st;
  try { st = await lstat(hostDir); } catch { throw new NotFound(`Could not find the file ${containerPath} in container`); }
  if (!st.isDirectory()) throw new InvalidArgument(`extraction point is not a directory: ${containerPath}`);
  // "delete" keeps .wh. names from being read as overlay whiteouts in a plain directory; a user's
  // tar has none in practice, and docker would copy such a file as it is.
  await applyLayer(hostDir, body as unknown as Parameters<typeof applyLayer>[1], { whiteouts: "delete", owner });
}
