/**
 * The content store: immutable blobs addressed by sha256 digest.
 *
 * Split as containerd's core/content/content.go is:
 * - ContentReader reads committed blobs.
 * - ContentIngester brings new blobs in. A blob becomes visible only after its
 *   size and digest were checked against what the caller expected, and it was
 *   fsynced and renamed into place (then the directory fsynced).
 * - IngestManager shows and aborts ingests in progress (partial downloads).
 * - ContentManager deletes, walks and garbage-collects.
 *
 * Words: an *ingest* is a partial blob under <root>/ingest/<ref>/, where *ref* is
 * "sha256-<hex>" of the expected digest (or "tmp-<random>" for a stream whose digest
 * is learned at its end). Layout and version: src/image/README.md.
 */
import type { Readable } from "node:stream";
import type { Digest } from "./digest.js";

export interface ContentInfo {
  digest: Digest;
  size: number;
  /** When the blob was committed (its file's mtime). */
  committedAt: Date;
}

export interface ContentReader {
  /** Size and commit time of a blob; NotFound when absent. */
  info(digest: Digest): Promise<ContentInfo>;
  has(digest: Digest): Promise<boolean>;
  /** Streams a committed blob, optionally from byte `start`; NotFound when absent. */
  readStream(digest: Digest, opts?: { start?: number }): Promise<Readable>;
  /** Reads a small blob (manifest, config) whole; refuses blobs over `maxBytes` (default 16 MiB). */
  readBlob(digest: Digest, maxBytes?: number): Promise<Buffer>;
  /** The file of a committed blob, for a reader on another thread (a layer's worker); NotFound when absent. */
  blobPath(digest: Digest): Promise<string>;
}

/** What to fetch for an ingest: the stream must start at `offset` (resume) or at 0 (restart). */
export type IngestSource = (offset: number, signal?: AbortSignal) => Promise<{ stream: Readable; offset: number }>;

export interface IngestOptions {
  digest: Digest;
  /** Expected size when known (descriptor size); checked before commit. */
  size?: number;
  signal?: AbortSignal;
  /** Bytes present so far and the total when known; called as data arrives. */
  onProgress?: (done: number, total: number | undefined) => void;
  /**
   * Called once this call writes the blob itself, with the file it writes: the bytes onProgress
   * reports are in it (a smaller `done` than before: it is being written again from there). It
   * is renamed into place when verified. Not called when the blob is here or another writer brings it.
   */
  onData?: (path: string) => void;
  /** How many times a dropped stream is resumed before giving up (default 3). */
  retries?: number;
}

export interface IngestResult extends ContentInfo {
  /** False when the blob was already present, or another writer brought it in while we waited. */
  fetched: boolean;
  /** Offset the download resumed from (0 when it started fresh). */
  resumedFrom: number;
}

export interface ContentIngester {
  /**
   * Makes sure blob `digest` is in the store, calling `source` only if it must.
   * Writers of the same digest — in this process or another — take turns: the
   * second waits for the first and then finds the blob present, so it is
   * downloaded once. A partial ingest left by an interrupted writer is resumed
   * from its end (source(offset)), or restarted cleanly when the source starts at 0.
   * On a digest or size mismatch nothing is committed and the ingest is removed.
   */
  ingest(opts: IngestOptions, source: IngestSource): Promise<IngestResult>;
  /** Commits bytes held in memory, verified against `expected` when given. */
  writeBlob(data: Uint8Array, expected?: Digest): Promise<ContentInfo>;
  /** Commits a stream whose digest is learned at its end (image load, build output). */
  writeStream(stream: Readable, expected?: { digest?: Digest; size?: number }): Promise<ContentInfo>;
}

export interface IngestStatus {
  ref: string;
  expected?: Digest;
  offset: number;
  total?: number;
  updatedAt: Date;
  /** Pid holding the ingest's lock, if a live writer is at work. */
  activeWriterPid?: number;
}

export interface IngestManager {
  listIngests(): Promise<IngestStatus[]>;
  /** Removes a partial ingest; Conflict while a live writer holds it. */
  abortIngest(ref: string): Promise<void>;
}

export interface GcResult {
  removed: Digest[];
  bytesFreed: number;
}

export interface ContentManager {
  /** Removes a blob; NotFound when absent. */
  delete(digest: Digest): Promise<void>;
  walk(fn: (info: ContentInfo) => void | Promise<void>): Promise<void>;
  /**
   * Deletes every blob not reachable from `roots` (index → manifests, manifest →
   * config + layers). The caller must keep pulls from committing meanwhile or
   * include their digests in `roots`; blobs younger than `graceMs` are kept.
   */
  gc(roots: Iterable<Digest>, opts?: { graceMs?: number }): Promise<GcResult>;
}

export interface ContentStore extends ContentReader, ContentIngester, IngestManager, ContentManager {
  readonly root: string;
}

export { createContentStore } from "./content-local.js";
