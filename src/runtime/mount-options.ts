/**
 * OCI mount options → mount(2) flags, propagation flags and fs data, with the same vocabulary
 * runc accepts (runtime-spec config-linux.md "Mount Options").
 */
import { InvalidArgument } from "../errdefs.js";

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64,
  DIRSYNC: 128, NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192,
  REC: 16384, SILENT: 32768, UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19,
  SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

const SET: Record<string, number> = {
  bind: MS.BIND, rbind: MS.BIND | MS.REC, dirsync: MS.DIRSYNC, iversion: 1 << 23, lazytime: MS.LAZYTIME,
  mand: MS.MANDLOCK, noatime: MS.NOATIME, nodev: MS.NODEV, nodiratime: MS.NODIRATIME, noexec: MS.NOEXEC,
  nosuid: MS.NOSUID, relatime: MS.RELATIME, remount: MS.REMOUNT, ro: MS.RDONLY, silent: MS.SILENT,
  strictatime: MS.STRICTATIME, sync: MS.SYNCHRONOUS, nosymfollow: MS.NOSYMFOLLOW,
};
const CLEAR: Record<string, number> = {
  async: MS.SYNCHRONOUS, atime: MS.NOATIME, defaults: 0, dev: MS.NODEV, diratime: MS.NODIRATIME,
  exec: MS.NOEXEC, loud: MS.SILENT, nomand: MS.MANDLOCK, norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME, rw: MS.RDONLY, suid: MS.NOSUID, symfollow: MS.NOSYMFOLLOW,
};
const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};
/** runc extensions that change nothing for the kernel. */
const IGNORED = new Set(["tmpcopyup", "rro", "rrw"]);

export interface ParsedMountOptions {
  flags: number;
  propagation: number[];
  data: string[];
}

export function parseMountOptions(options: string[] | undefined, field: string): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const o of options ?? []) {
    if (o in SET) flags |= SET[o]!;
    else if (o in CLEAR) flags &= ~CLEAR[o]!;
    else if (o in PROPAGATION) propagation.push(PROPAGATION[o]!);
    else if (IGNORED.has(o)) continue;
    else if (o === "idmap" || o === "ridmap") throw new InvalidArgument(`${field}: option "${o}" (id-mapped mounts) is not supported`);
    else data.push(o);
  }
  return { flags, propagation, data };
}

/** rootfsPropagation → flags for "/" before the rootfs is prepared (runc's default is rslave). */
export function rootPropagation(value: string | undefined): number {
  if (!value) return MS.SLAVE | MS.REC;
  const p = PROPAGATION[value];
  if (p === undefined) throw new InvalidArgument(`linux.rootfsPropagation: unknown value "${value}"`);
  return p;
}
