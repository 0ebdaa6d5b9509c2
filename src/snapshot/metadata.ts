/**
 * Snapshot records on disk: one JSON file per snapshot under
 * <root>/metadata/<sha256(name)>.json, written atomically (temp, fsync,
 * rename). Hashing the name gives a safe file name for any key string.
 * Operations that change records run one at a time (lock) within a process;
 * one berthd owns a snapshot root, so the records are read once and then
 * served from memory (removing a snapshot asks whether any record names it as
 * parent: a directory read per remove otherwise).
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

const copy = (r: SnapRecord): SnapRecord => ({ ...r, labels: { ...r.labels } });

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
    const r = (await this.all()).get(name);
    return r && copy(r);
  }

  async get(name: string): Promise<SnapRecord> {
    const r = await this.find(name);
    if (!r) throw new NotFound(`snapshot ${JSON.stringify(name)} does not exist`);
    return r;
  }

  async put(rec: SnapRecord): Promise<void> {
    const all = await this.all();
    await writeFileAtomic(this.file(rec.name), JSON.stringify(rec, null, 1), 0o600);
    all.set(rec.name, copy(rec));
  }

  async delete(name: string): Promise<void> {
    const all = await this.all();
    await rm(this.file(name), { force: true });
    all.delete(name);
  }

  async list(): Promise<SnapRecord[]> {
    return [...(await this.all()).values()].map(copy);
  }

  private byName?: Promise<Map<string, SnapRecord>>;

  private all(): Promise<Map<string, SnapRecord>> {
    this.byName ??= this.readAll().then((rs) => new Map(rs.map((r) => [r.name, r])));
    this.byName.catch(() => { this.byName = undefined; });
    return this.byName;
  }

  private async readAll(): Promise<SnapRecord[]> {
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
