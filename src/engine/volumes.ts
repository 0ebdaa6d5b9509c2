/**
 * The `local` volume driver: a named volume is a directory <root>/<name>/_data with its metadata
 * in <root>/<name>/meta.json (written atomically). Anonymous volumes get a random 64-hex name and
 * the label com.docker.volume.anonymous, as docker gives them.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, rm, rename } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, InvalidArgument, NotFound } from "../errdefs.js";
import { treeSize, writeFileAtomic } from "../fsutil.js";

export interface Volume {
  Name: string;
  Driver: "local";
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: "local";
  Options: Record<string, string>;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class VolumeStore {
  constructor(readonly root: string) {}

  private dir(name: string): string {
    if (!NAME_RE.test(name)) throw new InvalidArgument(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    return join(this.root, name);
  }

  async create(name: string | undefined, opts: { labels?: Record<string, string>; driver?: string; options?: Record<string, string> } = {}): Promise<Volume> {
    if (opts.driver && opts.driver !== "local") throw new InvalidArgument(`volume driver "${opts.driver}" is not supported (only "local")`);
    if (opts.options && Object.keys(opts.options).length) throw new InvalidArgument(`local volume options are not supported yet: ${Object.keys(opts.options).join(", ")}`);
    const anonymous = !name;
    const n = name || randomBytes(32).toString("hex");
    const d = this.dir(n);
    if (existsSync(join(d, "meta.json"))) {
      // docker: creating an existing volume returns it.
      return this.inspect(n);
    }
    const tmp = `${d}.new-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, "_data"), { recursive: true, mode: 0o755 });
    const v: Volume = {
      Name: n, Driver: "local", Mountpoint: join(d, "_data"), CreatedAt: new Date().toISOString(),
      Labels: { ...(opts.labels ?? {}), ...(anonymous ? { "com.docker.volume.anonymous": "" } : {}) }, Scope: "local", Options: {},
    };
    await writeFileAtomic(join(tmp, "meta.json"), JSON.stringify(v));
    try {
      await rename(tmp, d);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (existsSync(join(d, "meta.json"))) return this.inspect(n);
      throw e;
    }
    return v;
  }

  inspect(name: string): Volume {
    try {
      return JSON.parse(readFileSync(join(this.dir(name), "meta.json"), "utf8")) as Volume;
    } catch (e) {
      if (e instanceof InvalidArgument || (e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFound(`get ${name}: no such volume`);
      throw e;
    }
  }

  list(): Volume[] {
    if (!existsSync(this.root)) return [];
    const out: Volume[] = [];
    for (const n of readdirSync(this.root)) {
      if (n.includes(".new-")) continue;
      try { out.push(this.inspect(n)); } catch { /* half-made: ignored */ }
    }
    return out.sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** inUse returns the ids of containers using the volume. */
  async remove(name: string, opts: { force?: boolean; inUse?: (name: string) => string[] } = {}): Promise<void> {
    const v = (() => {
      try { return this.inspect(name); } catch (e) { if (opts.force && e instanceof NotFound) return undefined; throw e; }
    })();
    if (!v) return;
    const users = opts.inUse?.(name) ?? [];
    if (users.length) throw new Conflict(`remove ${name}: volume is in use - [${users.join(", ")}]`);
    await rm(this.dir(name), { recursive: true, force: true });
  }

  async prune(opts: { inUse?: (name: string) => string[]; all?: boolean; wanted?: (v: Volume) => boolean } = {}): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    for (const v of this.list()) {
      // docker ≥ 23 prunes only anonymous volumes unless all=true.
      if (!opts.all && !("com.docker.volume.anonymous" in v.Labels)) continue;
      if (opts.wanted && !opts.wanted(v)) continue;
      if ((opts.inUse?.(v.Name) ?? []).length) continue;
      const size = await treeSize(v.Mountpoint);
      await this.remove(v.Name);
      deleted.push(v.Name);
      space += size;
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }
}
