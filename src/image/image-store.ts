/**
 * Image metadata: which names point at which image. An image's *ID* is the
 * digest of its config (docker's convention); its *target* is the manifest or
 * index it was pulled, loaded or built as, and *manifest* is the platform
 * manifest inside it (equal to target when the target is a manifest). Names are
 * fully qualified references: tags ("docker.io/library/busybox:latest") and
 * digest references ("docker.io/library/busybox@sha256:<target digest>").
 * One JSON file, rewritten atomically under a lock file; layout in README.md.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, FailedPrecondition, InvalidArgument, NotFound } from "../errdefs.js";
import { writeFileAtomic } from "../fsutil.js";
import type { ContentReader } from "./content-store.js";
import { acquireFileLock } from "./file-lock.js";
import { historyOf, inspectOf, type ImageHistoryItem, type ImageInspect } from "./image-inspect.js";
import type { Descriptor } from "./media-types.js";
import { familiarString, formatReference, parseReference, type Reference } from "./reference.js";
import { isDigest, type Digest } from "./digest.js";

export const IMAGE_STORE_VERSION = 1;

export interface ImageRecord {
  id: Digest;
  target: Descriptor;
  manifest: Descriptor;
  /** When berth first recorded the image (ISO 8601). */
  recordedAt: string;
  /** When a name was last added (docker's Metadata.LastTagTime). */
  lastTagTime?: string;
}

export interface Image extends ImageRecord {
  /** Fully qualified tag names, sorted. */
  names: string[];
  /** Fully qualified digest references, sorted. */
  digestRefs: string[];
}

/** docker's DELETE /images/{name} answer items. */
export type DeleteItem = { Untagged: string } | { Deleted: string };

export type InUse = (id: Digest) => boolean | Promise<boolean>;

export interface ImageStore {
  /** Records image `rec` under `names` (tags move from any image holding them). */
  put(rec: Omit<ImageRecord, "recordedAt" | "lastTagTime">, names: Reference[]): Promise<Image>;
  list(): Promise<Image[]>;
  /** By name (`busybox`, `busybox:1`), digest reference, full ID or unique ID prefix; NotFound otherwise. */
  get(nameOrId: string): Promise<Image>;
  /** Adds tag `target` to the image `source` names. */
  tag(source: string, target: string): Promise<void>;
  /** Removes one name; returns the image it pointed at. */
  untag(name: string): Promise<Digest>;
  /** docker rmi: untags a name, deletes the image once no name is left; Conflict while in use unless forced. */
  remove(nameOrId: string, opts?: { force?: boolean; inUse?: InUse }): Promise<DeleteItem[]>;
  /** Deletes dangling images (no tag) that no container uses. */
  prune(opts?: { inUse?: InUse }): Promise<DeleteItem[]>;
  inspect(nameOrId: string): Promise<ImageInspect>;
  history(nameOrId: string): Promise<ImageHistoryItem[]>;
  /** Targets of every image: the roots for ContentManager.gc. */
  roots(): Promise<Digest[]>;
}

interface StateFile {
  version: number;
  images: Record<Digest, ImageRecord>;
  /** full reference → image ID */
  names: Record<string, Digest>;
}

const empty = (): StateFile => ({ version: IMAGE_STORE_VERSION, images: {}, names: {} });

class FileImageStore implements ImageStore {
  private readonly file: string;
  constructor(readonly root: string, private readonly content: ContentReader) {
    this.file = join(root, "images.json");
  }

  private async load(): Promise<StateFile> {
    let text: string;
    try { text = await readFile(this.file, "utf8"); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return empty();
      throw e;
    }
    const s = JSON.parse(text) as StateFile;
    if (s.version !== IMAGE_STORE_VERSION) throw new FailedPrecondition(`image store ${this.file}: version ${s.version} is not supported (want ${IMAGE_STORE_VERSION})`);
    return s;
  }

  /** Runs `fn` on fresh state under the store's lock and saves what it returns. */
  private async mutate<T>(fn: (s: StateFile) => Promise<T> | T): Promise<T> {
    await mkdir(this.root, { recursive: true });
    const lock = (await acquireFileLock(join(this.root, "images.lock"), { timeoutMs: 30_000 }))!;
    try {
      const s = await this.load();
      const out = await fn(s);
      await writeFileAtomic(this.file, `${JSON.stringify(s, null, 2)}\n`);
      return out;
    } finally {
      await lock.release();
    }
  }

  private view(s: StateFile, id: Digest): Image {
    const rec = s.images[id]!;
    const refs = Object.keys(s.names).filter((n) => s.names[n] === id).sort();
    return { ...rec, names: refs.filter((n) => !n.includes("@")), digestRefs: refs.filter((n) => n.includes("@")) };
  }

  /** Finds an image ID; returns the matched full reference when found by name. */
  private resolve(s: StateFile, input: string): { id: Digest; ref?: string } {
    const asId = /^(sha256:)?[a-f0-9]{64}$/.test(input) ? (input.startsWith("sha256:") ? input : `sha256:${input}`) : undefined;
    if (asId && s.images[asId]) return { id: asId };
    let ref: Reference | undefined;
    try { ref = parseReference(input); } catch { /* may still be an ID prefix */ }
    if (ref) {
      const full = formatReference(ref);
      // A tag+digest reference is found by its digest part, as docker does.
      const key = ref.digest ? formatReference({ domain: ref.domain, path: ref.path, digest: ref.digest }) : full;
      const id = s.names[key];
      if (id) return { id, ref: key };
    }
    const m = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(input);
    if (m) {
      const hits = Object.keys(s.images).filter((id) => id.slice(7).startsWith(m[1]!));
      if (hits.length === 1) return { id: hits[0]! };
      if (hits.length > 1) throw new InvalidArgument(`image ID prefix ${input} is ambiguous: ${hits.length} images match`);
    }
    throw new NotFound(`No such image: ${input}`);
  }

  async put(rec: Omit<ImageRecord, "recordedAt" | "lastTagTime">, names: Reference[]): Promise<Image> {
    if (!isDigest(rec.id)) throw new InvalidArgument(`image ID ${rec.id} is not a sha256 digest`);
    for (const d of [rec.id, rec.target.digest, rec.manifest.digest]) {
      if (!(await this.content.has(d))) throw new FailedPrecondition(`image ${rec.id}: blob ${d} is not in the content store`);
    }
    return this.mutate((s) => {
      const now = new Date().toISOString();
      const old = s.images[rec.id];
      s.images[rec.id] = { ...rec, recordedAt: old?.recordedAt ?? now, ...(names.length ? { lastTagTime: now } : old?.lastTagTime ? { lastTagTime: old.lastTagTime } : {}) };
      for (const n of names) s.names[formatReference(n)] = rec.id;
      return this.view(s, rec.id);
    });
  }

  async list(): Promise<Image[]> {
    const s = await this.load();
    return Object.keys(s.images).map((id) => this.view(s, id));
  }

  async get(nameOrId: string): Promise<Image> {
    const s = await this.load();
    return this.view(s, this.resolve(s, nameOrId).id);
  }

  async tag(source: string, target: string): Promise<void> {
    const ref = parseReference(target);
    if (ref.digest) throw new InvalidArgument(`tag ${target}: a tag cannot contain a digest`);
    await this.mutate((s) => {
      const { id } = this.resolve(s, source);
      s.names[formatReference(ref)] = id;
      s.images[id]!.lastTagTime = new Date().toISOString();
    });
  }

  async untag(name: string): Promise<Digest> {
    const ref = parseReference(name);
    return this.mutate((s) => {
      const key = formatReference(ref);
      const id = s.names[key];
      if (!id) throw new NotFound(`No such image: ${name}`);
      delete s.names[key];
      return id;
    });
  }

  async remove(nameOrId: string, opts: { force?: boolean; inUse?: InUse } = {}): Promise<DeleteItem[]> {
    return this.mutate(async (s) => {
      const { id, ref } = this.resolve(s, nameOrId);
      const short = id.slice(7, 19);
      const refs = Object.keys(s.names).filter((n) => s.names[n] === id);
      const out: DeleteItem[] = [];
      const untag = (n: string): void => { delete s.names[n]; out.push({ Untagged: familiarString(parseReference(n, { defaultTag: false })) }); };
      if (ref !== undefined) {
        const repo = ref.replace(/[@:][^/]*$/, "");
        const tags = refs.filter((n) => !n.includes("@"));
        const lastTagOfImage = tags.length <= 1 && (tags[0] === undefined || tags[0] === ref);
        if (!lastTagOfImage) { untag(ref); return out; }
        if (!opts.force && opts.inUse && (await opts.inUse(id))) {
          throw new Conflict(`conflict: unable to remove repository reference "${nameOrId}" (must force) - a container is using its referenced image ${short}`);
        }
        // The last tag goes together with the digest references of the same repository.
        untag(ref);
        for (const n of refs) if (n !== ref && n.startsWith(`${repo}@`)) untag(n);
        if (Object.values(s.names).includes(id)) return out;
      } else {
        const repos = new Set(refs.map((n) => n.replace(/[@:][^/]*$/, "")));
        if (repos.size > 1 && !opts.force) {
          throw new Conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
        }
        if (!opts.force && opts.inUse && (await opts.inUse(id))) {
          throw new Conflict(`conflict: unable to delete ${short} (must be forced) - image is being used by a container`);
        }
        for (const n of refs) untag(n);
      }
      delete s.images[id];
      out.push({ Deleted: id });
      return out;
    });
  }

  async prune(opts: { inUse?: InUse } = {}): Promise<DeleteItem[]> {
    return this.mutate(async (s) => {
      const out: DeleteItem[] = [];
      for (const id of Object.keys(s.images)) {
        const refs = Object.keys(s.names).filter((n) => s.names[n] === id);
        if (refs.some((n) => !n.includes("@"))) continue;
        if (opts.inUse && (await opts.inUse(id))) continue;
        for (const n of refs) { delete s.names[n]; out.push({ Untagged: familiarString(parseReference(n, { defaultTag: false })) }); }
        delete s.images[id];
        out.push({ Deleted: id });
      }
      return out;
    });
  }

  async inspect(nameOrId: string): Promise<ImageInspect> {
    return inspectOf(await this.get(nameOrId), this.content);
  }

  async history(nameOrId: string): Promise<ImageHistoryItem[]> {
    return historyOf(await this.get(nameOrId), this.content);
  }

  async roots(): Promise<Digest[]> {
    const s = await this.load();
    return [...new Set(Object.values(s.images).flatMap((r) => [r.target.digest, r.manifest.digest]))];
  }
}

/** Opens the image metadata store at `root` (a directory; created on first write). */
export async function createImageStore(root: string, content: ContentReader): Promise<ImageStore> {
  return new FileImageStore(root, content);
}
