/**
 * Snapshot records on disk: one JSON file per snapshot under
 * <root>/metadata/<sha256(name)>.json, written atomically (temp, fsync,
 * rename). Hashing the name gives a safe file name for any key string.
 * Operations that change records run one at a time (lock) within a process;
 * one berthd owns a snapshot root.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { NotFound, fromErrno } from "../errdefs.js";
import { writeFileAtomic } from "../fsutil.js";
import type { Info } from "./snapshotter.js";

export const METADATA_VERSION = 1;

export interface SnapRecord extends Info {
  version: number;
  /** Directory name under <root>/snapshots. */
  id: string;
  /** Overlay only: short link name under <root>/l. */
  link?: string;
}

export class MetaStore {
  private readonly dir: string;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(root: string) {
    this.dir = join(root, "metadata");
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(name: string): string {
    return join(this.dir, `${createHash("sha256").update(name).digest("hex")}.json`);
  }

  async find(name: string): Promise<SnapRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.file(name), "utf8")) as SnapRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw fromErrno(err, `snapshot ${JSON.stringify(name)}: read metadata`);
    }
  }

  async get(name: string): Promise<SnapRecord> {
    const r = await this.find(name);
    if (!r) throw new NotFound(`snapshot ${JSON.stringify(name)} does not exist`);
    return r;
  }

  async put(rec: SnapRecord): Promise<void> {
    await writeFileAtomic(this.file(rec.name), JSON.stringify(rec, null, 1), 0o600);
  }

  async delete(name: string): Promise<void> {
    await rm(this.file(name), { force: true });
  }

  async list(): Promise<SnapRecord[]> {
    const out: SnapRecord[] = [];
    for (const f of await readdir(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, f), "utf8")) as SnapRecord);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw fromErrno(err, `snapshot metadata ${f}`);
      }
    }
    return out;
  }

  /** The parent chain of a snapshot: [parent, grandparent, …]. */
  async chain(parent: string | undefined): Promise<SnapRecord[]> {
    const out: SnapRecord[] = [];
    for (let p = parent; p !== undefined; p = out[out.length - 1]!.parent) out.push(await this.get(p));
    return out;
  }

  /** Runs fn after every earlier locked call has finished. */
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
