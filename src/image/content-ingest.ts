/**
 * Writes one ingest: appends a source's bytes to <ingest>/data while hashing
 * them, resumes after dropped streams, and commits only a verified blob.
 * The caller holds the ingest's lock.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { FailedPrecondition, BerthError } from "../errdefs.js";
import { digestMismatch, type Digest } from "./digest.js";
import { ContentPaths, syncDir } from "./content-paths.js";
import type { IngestOptions, IngestSource } from "./content-store.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function hashPrefix(path: string, length: number): Promise<Hash> {
  const h = createHash("sha256");
  if (length === 0) return h;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1 })) h.update(chunk as Buffer);
  return h;
}

async function sizeOf(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return 0; }
}

class IngestWriter {
  private hash: Hash = createHash("sha256");
  offset = 0;
  private constructor(private fh: FileHandle, readonly dataPath: string) {}

  static async open(dataPath: string, resumable: number): Promise<IngestWriter> {
    const fh = await open(dataPath, "a+");
    const w = new IngestWriter(fh, dataPath);
    // Only a prefix we can hash again is trusted; anything after it is dropped.
    const have = Math.min(await sizeOf(dataPath), resumable);
    await fh.truncate(have);
    w.hash = await hashPrefix(dataPath, have);
    w.offset = have;
    return w;
  }

  async restart(): Promise<void> {
    await this.fh.truncate(0);
    this.hash = createHash("sha256");
    this.offset = 0;
  }

  async write(chunk: Buffer): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, this.offset + done);
      done += bytesWritten;
    }
    this.hash.update(chunk);
    this.offset += chunk.length;
  }

  /** Digest of everything written; the writer cannot be written to afterwards. */
  finish(): Digest { return `sha256:${this.hash.digest("hex")}`; }
  sync(): Promise<void> { return this.fh.sync(); }
  close(): Promise<void> { return this.fh.close(); }
}

/** Renames a verified, fsynced file into blobs/ and fsyncs the directory. */
export async function commitFile(paths: ContentPaths, src: string, digest: Digest): Promise<void> {
  await mkdir(paths.blobsDir, { recursive: true });
  await rename(src, paths.blob(digest));
  await syncDir(paths.blobsDir);
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (e as Error | undefined)?.name === "AbortError";
}

/**
 * Fetches `opts.digest` into ingest `ref` and commits it. Returns the offset
 * the download resumed from. Throws FailedPrecondition on digest/size mismatch
 * (after removing the ingest), or the source's error once retries are spent.
 */
export async function runIngest(paths: ContentPaths, ref: string, opts: IngestOptions, source: IngestSource): Promise<number> {
  const dir = paths.ingest(ref);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "expected"), `${opts.digest}\n`);
  if (opts.size !== undefined) await writeFile(join(dir, "total"), `${opts.size}\n`);
  const dataPath = join(dir, "data");
  const w = await IngestWriter.open(dataPath, opts.size ?? Infinity);
  const resumedFrom = w.offset;
  opts.onData?.(dataPath);
  let retriesLeft = opts.retries ?? 3;
  let restartedAfterMismatch = resumedFrom === 0;
  let committed = false;
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const complete = opts.size !== undefined && w.offset === opts.size;
      if (!complete) {
        try {
          await pump(w, opts, source);
        } catch (e) {
          // Report an abort as the caller's reason, not as the socket error it caused.
          if (opts.signal?.aborted) throw opts.signal.reason;
          if (isAbort(e, opts.signal) || e instanceof BerthError || retriesLeft <= 0) throw e;
          retriesLeft--;
          await sleep(200 * 2 ** ((opts.retries ?? 3) - retriesLeft - 1));
          continue; // resume from w.offset
        }
      }
      const actual = w.finish();
      const sizeOk = opts.size === undefined || w.offset === opts.size;
      if (actual === opts.digest && sizeOk) break;
      if (!restartedAfterMismatch) {
        // The resumed prefix may itself be bad (left by another tool or a bad server): retry once from 0.
        restartedAfterMismatch = true;
        await w.restart();
        continue;
      }
      throw sizeOk ? digestMismatch(`blob ${opts.digest}`, opts.digest, actual)
        : new FailedPrecondition(`blob ${opts.digest}: size mismatch: expected ${opts.size} bytes, got ${w.offset}`);
    }
    await w.sync();
    await w.close();
    await commitFile(paths, dataPath, opts.digest);
    committed = true;
    await rm(dir, { recursive: true, force: true });
    return resumedFrom;
  } catch (e) {
    if (!committed) await w.close().catch(() => {});
    // A verified mismatch leaves nothing worth resuming; an interrupted stream does.
    if (e instanceof FailedPrecondition) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function pump(w: IngestWriter, opts: IngestOptions, source: IngestSource): Promise<void> {
  const { stream, offset } = await source(w.offset, opts.signal);
  if (offset !== w.offset) {
    if (offset !== 0) {
      stream.destroy();
      throw new FailedPrecondition(`blob ${opts.digest}: source resumed at ${offset}, expected ${w.offset} or 0`);
    }
    await w.restart();
  }
  opts.onProgress?.(w.offset, opts.size);
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    if (opts.signal?.aborted) {
      stream.destroy();
      opts.signal.throwIfAborted();
    }
    if (opts.size !== undefined && w.offset + buf.length > opts.size) {
      stream.destroy();
      throw new FailedPrecondition(`blob ${opts.digest}: size mismatch: source sent more than the expected ${opts.size} bytes`);
    }
    await w.write(buf);
    opts.onProgress?.(w.offset, opts.size);
  }
  if (opts.size !== undefined && w.offset < opts.size) {
    // A short body is a dropped connection (ECONNRESET after headers looks the same).
    throw new Error(`blob ${opts.digest}: stream ended at ${w.offset} of ${opts.size} bytes`);
  }
}
