/** ContentStore on a local directory (layout v1, README.md). */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Conflict, FailedPrecondition, NotFound, fromErrno } from "../errdefs.js";
import { DigestingStream, digestMismatch, parseDigest, sha256Digest, type Digest } from "./digest.js";
import { ContentPaths, CONTENT_LAYOUT_VERSION } from "./content-paths.js";
import { runIngest } from "./content-ingest.js";
import { acquireFileLock, isStaleOwner } from "./file-lock.js";
import { collectGarbage } from "./content-gc.js";
import type {
  ContentInfo, ContentStore, GcResult, IngestOptions, IngestResult, IngestSource, IngestStatus,
} from "./content-store.js";

class LocalContentStore implements ContentStore {
  private readonly paths: ContentPaths;
  /** In-process queue per digest: the file lock alone cannot tell two callers of one pid apart. */
  private readonly inflight = new Map<Digest, Promise<unknown>>();

  constructor(readonly root: string) {
    this.paths = new ContentPaths(root);
  }

  async init(): Promise<void> {
    await mkdir(this.paths.blobsDir, { recursive: true });
    await mkdir(this.paths.ingestDir, { recursive: true });
    const vf = join(this.root, "VERSION");
    const v = await readFile(vf, "utf8").catch(() => undefined);
    if (v === undefined) await writeFile(vf, `${CONTENT_LAYOUT_VERSION}\n`);
    else if (Number(v.trim()) !== CONTENT_LAYOUT_VERSION) {
      throw new FailedPrecondition(`content store ${this.root}: layout version ${v.trim()} is not supported (want ${CONTENT_LAYOUT_VERSION})`);
    }
  }

  async info(digest: Digest): Promise<ContentInfo> {
    parseDigest(digest);
    try {
      const st = await stat(this.paths.blob(digest));
      return { digest, size: st.size, committedAt: st.mtime };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFound(`content ${digest}: not found`);
      throw fromErrno(e, `content ${digest}`);
    }
  }

  async has(digest: Digest): Promise<boolean> {
    try { await this.info(digest); return true; } catch (e) { if (e instanceof NotFound) return false; throw e; }
  }

  async readStream(digest: Digest, opts: { start?: number } = {}): Promise<Readable> {
    await this.info(digest);
    return createReadStream(this.paths.blob(digest), { start: opts.start ?? 0 });
  }

  async blobPath(digest: Digest): Promise<string> {
    await this.info(digest);
    return this.paths.blob(digest);
  }

  async readBlob(digest: Digest, maxBytes = 16 << 20): Promise<Buffer> {
    const info = await this.info(digest);
    if (info.size > maxBytes) throw new FailedPrecondition(`content ${digest}: ${info.size} bytes is more than ${maxBytes} for an in-memory read`);
    return readFile(this.paths.blob(digest));
  }

  ingest(opts: IngestOptions, source: IngestSource): Promise<IngestResult> {
    const digest = parseDigest(opts.digest);
    const prev = this.inflight.get(digest) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => this.ingestLocked(opts, source));
    this.inflight.set(digest, run);
    const cleanup = (): void => { if (this.inflight.get(digest) === run) this.inflight.delete(digest); };
    run.then(cleanup, cleanup);
    return run;
  }

  private async present(digest: Digest): Promise<IngestResult | undefined> {
    try {
      const info = await this.info(digest);
      return { ...info, fetched: false, resumedFrom: 0 };
    } catch (e) {
      if (e instanceof NotFound) return undefined;
      throw e;
    }
  }

  private async ingestLocked(opts: IngestOptions, source: IngestSource): Promise<IngestResult> {
    const have = await this.present(opts.digest);
    if (have) return have;
    const ref = this.paths.ingestRef(opts.digest);
    await mkdir(this.paths.ingestDir, { recursive: true });
    const lock = await acquireFileLock(this.paths.lock(ref), {
      signal: opts.signal,
      giveUp: async () => (await this.present(opts.digest)) !== undefined,
    });
    if (!lock) return (await this.present(opts.digest))!;
    try {
      const again = await this.present(opts.digest);
      if (again) return again;
      const resumedFrom = await runIngest(this.paths, ref, opts, source);
      return { ...(await this.info(opts.digest)), fetched: true, resumedFrom };
    } finally {
      await lock.release();
    }
  }

  async writeBlob(data: Uint8Array, expected?: Digest): Promise<ContentInfo> {
    const digest = sha256Digest(data);
    if (expected !== undefined && expected !== digest) throw digestMismatch("blob write", expected, digest);
    await this.ingest({ digest, size: data.length }, async () => ({ stream: Readable.from([Buffer.from(data)]), offset: 0 }));
    return this.info(digest);
  }

  async writeStream(stream: Readable, expected: { digest?: Digest; size?: number } = {}): Promise<ContentInfo> {
    const ref = `tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const dir = this.paths.ingest(ref);
    await mkdir(dir, { recursive: true });
    const dataPath = join(dir, "data");
    try {
      const d = new DigestingStream();
      const fh = await open(dataPath, "w");
      try {
        for await (const chunk of stream.pipe(d)) await fh.write(chunk as Buffer);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = d.digest();
      if (expected.digest !== undefined && expected.digest !== digest) throw digestMismatch("blob write", expected.digest, digest);
      if (expected.size !== undefined && expected.size !== d.bytes) {
        throw new FailedPrecondition(`blob ${digest}: size mismatch: expected ${expected.size} bytes, got ${d.bytes}`);
      }
      // Go through ingest() so same-digest writers still coordinate; the copy is local and cheap.
      await this.ingest({ digest, size: d.bytes }, async () => ({ stream: createReadStream(dataPath), offset: 0 }));
      return this.info(digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async listIngests(): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const ent of await readdir(this.paths.ingestDir, { withFileTypes: true })) {
      if (!ent.isDirectory()) continue;
      out.push(await this.ingestStatus(ent.name));
    }
    return out;
  }

  private async ingestStatus(ref: string): Promise<IngestStatus> {
    const dir = this.paths.ingest(ref);
    const st = await stat(join(dir, "data")).catch(() => undefined);
    const expected = (await readFile(join(dir, "expected"), "utf8").catch(() => "")).trim() || undefined;
    const totalS = (await readFile(join(dir, "total"), "utf8").catch(() => "")).trim();
    const lock = await readFile(this.paths.lock(ref), "utf8").catch(() => undefined);
    const live = lock !== undefined && !isStaleOwner(lock);
    return {
      ref, offset: st?.size ?? 0, updatedAt: st?.mtime ?? new Date(0),
      ...(expected ? { expected } : {}), ...(totalS ? { total: Number(totalS) } : {}),
      ...(live ? { activeWriterPid: Number(lock.split(" ")[0]) } : {}),
    };
  }

  async abortIngest(ref: string): Promise<void> {
    if (ref.includes("/") || ref.startsWith(".")) throw new NotFound(`ingest ${JSON.stringify(ref)}: not found`);
    const lock = await acquireFileLock(this.paths.lock(ref), { timeoutMs: 0 }).catch(() => null);
    if (!lock) throw new Conflict(`ingest ${ref}: a writer is still active`);
    try {
      await rm(this.paths.ingest(ref), { recursive: true, force: true });
    } finally {
      await lock.release();
    }
  }

  async delete(digest: Digest): Promise<void> {
    parseDigest(digest);
    try {
      await unlink(this.paths.blob(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFound(`content ${digest}: not found`);
      throw fromErrno(e, `delete content ${digest}`);
    }
  }

  async walk(fn: (info: ContentInfo) => void | Promise<void>): Promise<void> {
    for (const name of await readdir(this.paths.blobsDir)) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const st = await stat(join(this.paths.blobsDir, name)).catch(() => undefined);
      if (st?.isFile()) await fn({ digest: `sha256:${name}`, size: st.size, committedAt: st.mtime });
    }
  }

  gc(roots: Iterable<Digest>, opts: { graceMs?: number } = {}): Promise<GcResult> {
    return collectGarbage(this, roots, opts.graceMs ?? 0);
  }
}

/** Opens (creating when needed) a content store rooted at `root`. */
export async function createContentStore(root: string): Promise<ContentStore> {
  const s = new LocalContentStore(root);
  await s.init();
  return s;
}
