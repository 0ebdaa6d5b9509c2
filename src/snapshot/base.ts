/**
 * The lifecycle both snapshotters share (records, kinds, parents, atomic
 * directory creation). Subclasses decide what a snapshot directory holds and
 * how it mounts: overlay.ts (layers stacked by overlayfs) and native.ts
 * (full copies). Layout: see README.md.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AlreadyExists, BerthError, FailedPrecondition, InvalidArgument, fromErrno } from "../errdefs.js";
import type { WhiteoutMode } from "./apply.js";
import { treeUsage } from "../fsutil.js";
import { MetaStore, METADATA_VERSION, type SnapRecord } from "./metadata.js";
import type { Info, Kind, Mount, SnapshotOpts, Snapshotter, Usage } from "./snapshotter.js";

const toInfo = ({ name, kind, parent, labels, created, updated }: SnapRecord): Info =>
  ({ name, kind, ...(parent !== undefined ? { parent } : {}), labels, created, updated });

export abstract class DirSnapshotter implements Snapshotter {
  abstract readonly name: string;
  abstract readonly whiteouts: WhiteoutMode;
  abstract readonly parentFree: boolean;
  protected readonly meta: MetaStore;
  protected readonly snapshots: string;

  constructor(readonly root: string) {
    // Overlay options are comma/colon separated; such characters in the root would need escaping.
    if (!root.startsWith("/") || /[,:\\\n]/.test(root)) throw new InvalidArgument(`snapshot root ${JSON.stringify(root)} must be absolute, without , : \\`);
    this.meta = new MetaStore(root);
    this.snapshots = join(root, "snapshots");
  }

  protected snapDir(rec: SnapRecord): string { return join(this.snapshots, rec.id); }
  /** The snapshot's own tree: layer contents, upper dir, or full copy. */
  fsDir(rec: SnapRecord): string { return join(this.snapDir(rec), "fs"); }

  /** Fills a new snapshot directory (built as snapshots/new-*, renamed into place after). */
  protected abstract populate(dir: string, kind: Kind, parents: SnapRecord[]): Promise<void>;
  protected abstract mountsFor(rec: SnapRecord, parents: SnapRecord[]): Mount[];
  protected abstract diffOf(rec: SnapRecord, parents: SnapRecord[]): AsyncIterable<Buffer>;
  /** After the directory is in place, before the record is written. */
  protected async created(_rec: SnapRecord): Promise<void> {}
  /** After the record is gone, before the directory is removed. */
  protected async removing(_rec: SnapRecord): Promise<void> {}
  /** Extra cleanup at open, given the records that exist. */
  protected async tidy(_live: SnapRecord[]): Promise<void> {}

  /** Creates the layout (or checks its version) and removes leftovers of interrupted operations. */
  async open(): Promise<this> {
    await mkdir(this.snapshots, { recursive: true, mode: 0o700 });
    await this.meta.init();
    const versionFile = join(this.root, "VERSION");
    const want = `${this.name} ${METADATA_VERSION}\n`;
    const have = await readFile(versionFile, "utf8").catch(() => null);
    if (have === null) await writeFile(versionFile, want);
    else if (have !== want) throw new FailedPrecondition(`snapshot root ${this.root} holds layout ${JSON.stringify(have.trim())}, expected ${JSON.stringify(want.trim())}`);
    const live = await this.meta.list();
    const ids = new Set(live.map((r) => r.id));
    for (const d of await readdir(this.snapshots)) {
      if (!ids.has(d)) await rm(join(this.snapshots, d), { recursive: true, force: true });
    }
    await this.tidy(live);
    return this;
  }

  prepare(key: string, parent?: string, opts?: SnapshotOpts): Promise<Mount[]> {
    return this.create("active", key, parent, opts);
  }

  view(key: string, parent?: string, opts?: SnapshotOpts): Promise<Mount[]> {
    return this.create("view", key, parent, opts);
  }

  private create(kind: Kind, key: string, parent: string | undefined, opts: SnapshotOpts = {}): Promise<Mount[]> {
    return this.meta.lock(async () => {
      if (key === "") throw new InvalidArgument("snapshot key must not be empty");
      if (await this.meta.find(key)) throw new AlreadyExists(`snapshot ${JSON.stringify(key)} already exists`);
      const parents = await this.meta.chain(parent);
      if (parents[0] && parents[0].kind !== "committed") {
        throw new FailedPrecondition(`snapshot ${JSON.stringify(key)}: parent ${JSON.stringify(parent)} is ${parents[0].kind}, not committed`);
      }
      const id = randomBytes(8).toString("hex");
      const tmp = join(this.snapshots, `new-${id}`);
      const now = new Date().toISOString();
      const rec: SnapRecord = { version: METADATA_VERSION, id, name: key, kind, ...(parent !== undefined ? { parent } : {}), labels: opts.labels ?? {}, created: now, updated: now };
      try {
        await mkdir(tmp, { mode: 0o700 });
        await this.populate(tmp, kind, parents);
        await rename(tmp, this.snapDir(rec));
        await this.created(rec);
        await this.meta.put(rec);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        await rm(this.snapDir(rec), { recursive: true, force: true });
        throw err instanceof BerthError ? err : fromErrno(err, `${kind === "view" ? "view" : "prepare"} snapshot ${JSON.stringify(key)}`);
      }
      return this.mountsFor(rec, parents);
    });
  }

  async mounts(key: string): Promise<Mount[]> {
    const rec = await this.meta.get(key);
    if (rec.kind === "committed") throw new FailedPrecondition(`snapshot ${JSON.stringify(key)} is committed: only active and view snapshots have mounts`);
    return this.mountsFor(rec, await this.meta.chain(rec.parent));
  }

  commit(name: string, key: string, opts: SnapshotOpts & { parent?: string } = {}): Promise<void> {
    return this.meta.lock(async () => {
      const rec = await this.meta.get(key);
      if (rec.kind !== "active") throw new FailedPrecondition(`commit ${JSON.stringify(key)}: snapshot is ${rec.kind}, not active`);
      if (name === "") throw new InvalidArgument("committed snapshot name must not be empty");
      if (await this.meta.find(name)) throw new AlreadyExists(`commit ${JSON.stringify(key)}: snapshot ${JSON.stringify(name)} already exists`);
      let parent = rec.parent;
      if (opts.parent !== undefined && opts.parent !== rec.parent) {
        if (!this.parentFree) throw new FailedPrecondition(`commit ${JSON.stringify(key)}: the ${this.name} snapshotter cannot put a layer on another parent`);
        const p = await this.meta.find(opts.parent);
        if (!p || p.kind !== "committed") throw new FailedPrecondition(`commit ${JSON.stringify(key)}: parent ${JSON.stringify(opts.parent)} is not a committed snapshot`);
        parent = opts.parent;
      }
      // The new name is recorded before the key is dropped: a crash in between
      // leaves two records of one directory, never none.
      await this.meta.put({ ...rec, name, kind: "committed", ...(parent !== undefined ? { parent } : {}), labels: opts.labels ?? rec.labels, updated: new Date().toISOString() });
      await this.meta.delete(key);
    });
  }

  remove(key: string): Promise<void> {
    return this.meta.lock(async () => {
      const rec = await this.meta.get(key);
      const children = (await this.meta.list()).filter((r) => r.parent === key).map((r) => r.name);
      if (children.length) throw new FailedPrecondition(`remove snapshot ${JSON.stringify(key)}: it is the parent of ${children.map((c) => JSON.stringify(c)).join(", ")}`);
      await this.meta.delete(key);
      await this.removing(rec);
      await rm(this.snapDir(rec), { recursive: true, force: true });
    });
  }

  async stat(key: string): Promise<Info> {
    return toInfo(await this.meta.get(key));
  }

  async walk(fn: (info: Info) => void | Promise<void>): Promise<void> {
    const all = (await this.meta.list()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const r of all) await fn(toInfo(r));
  }

  async usage(key: string): Promise<Usage> {
    const u = await treeUsage(this.fsDir(await this.meta.get(key)));
    return { size: u.blocks, inodes: u.inodes };
  }

  async *diff(key: string): AsyncGenerator<Buffer> {
    const rec = await this.meta.get(key);
    yield* this.diffOf(rec, await this.meta.chain(rec.parent));
  }
}
