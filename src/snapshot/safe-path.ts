/**
 * Confines layer entries to their extraction root. Tar names are untrusted:
 * they may climb out with "..", be absolute, or pass through a symlink the same
 * layer planted (`a -> /etc`, then `a/passwd`). Names are cleaned lexically
 * (as Docker does: a leading "/" is dropped, ".." may not climb above the root)
 * and every parent directory is checked with lstat, never followed: a parent
 * that is a symlink refuses the entry. Paths are only ever opened below
 * verified real directories, and the last component with O_NOFOLLOW semantics
 * by the caller.
 */
import { lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgument } from "../errdefs.js";

/** Linux PATH_MAX (including the NUL) and NAME_MAX. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

/** Cleans an entry name into a path relative to the root ("" is the root itself). */
export function cleanEntryName(name: string, what = "entry"): string {
  const show = JSON.stringify(name);
  if (name.includes("\0")) throw new InvalidArgument(`layer ${what} ${show}: name contains NUL`);
  if (Buffer.byteLength(name) >= PATH_MAX) throw new InvalidArgument(`layer ${what} ${show.slice(0, 60)}…: name longer than PATH_MAX (${PATH_MAX})`);
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw new InvalidArgument(`layer ${what} ${show}: path escapes the layer root`);
      out.pop();
      continue;
    }
    if (Buffer.byteLength(part) > NAME_MAX) throw new InvalidArgument(`layer ${what} ${show}: component longer than NAME_MAX (${NAME_MAX})`);
    out.push(part);
  }
  return out.join("/");
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/** Resolves cleaned relative paths under `root`, caching directories known to be real. */
const S_ISGID = 0o2000;

export class SafeRoot {
  /** Directories known to be real, each with whether it is setgid (its new files take its group). */
  private readonly dirs = new Map<string, boolean>();

  constructor(readonly root: string) {
    this.dirs.set("", (lstatSync(root).mode & S_ISGID) !== 0);
  }

  abs(rel: string): string {
    return rel === "" ? this.root : join(this.root, rel);
  }

  /**
   * Makes sure every ancestor of `rel` is a real directory (not a symlink),
   * creating missing ones (0755, root-owned, as Docker does) when `create`.
   * Returns false when an ancestor is missing and `create` is off.
   */
  async parents(rel: string, entry: string, create: boolean): Promise<boolean> {
    const parent = parentOf(rel);
    if (this.dirs.has(parent)) return true;
    const parts = parent.split("/");
    let cur = "", up = "";
    for (const part of parts) {
      up = cur;
      cur = cur === "" ? part : `${cur}/${part}`;
      if (this.dirs.has(cur)) continue;
      const st = lstatSync(this.abs(cur), { throwIfNoEntry: false }) ?? null;
      if (st === null) {
        if (!create) return false;
        mkdirSync(this.abs(cur), 0o755);
        this.dirs.set(cur, this.dirs.get(up)!); // a directory made in a setgid one is setgid too
        continue;
      } else if (st.isSymbolicLink()) {
        throw new InvalidArgument(`layer entry ${JSON.stringify(entry)}: parent ${JSON.stringify(cur)} is a symlink; refusing to write through it`);
      } else if (!st.isDirectory()) {
        throw new InvalidArgument(`layer entry ${JSON.stringify(entry)}: parent ${JSON.stringify(cur)} is not a directory`);
      }
      this.dirs.set(cur, (st.mode & S_ISGID) !== 0);
    }
    return true;
  }

  /** `rel` is a directory now, with `mode`. */
  markDir(rel: string, mode: number): void {
    this.dirs.set(rel, (mode & S_ISGID) !== 0);
  }

  /** Whether a file made in directory `rel` (known from parents()) could get a group other than the creator's. */
  setgid(rel: string): boolean {
    return this.dirs.get(rel) ?? true;
  }

  /** Forgets `rel` and everything under it (it was removed or replaced). */
  forget(rel: string): void {
    if (!this.dirs.has(rel)) return;
    const prefix = rel === "" ? "" : `${rel}/`;
    for (const d of [...this.dirs.keys()]) if (d !== "" && (d === rel || d.startsWith(prefix))) this.dirs.delete(d);
  }
}
