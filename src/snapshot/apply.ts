/**
 * Applies a layer tar to a snapshot directory, computing its diff_id (sha256 of
 * the uncompressed tar, OCI image-spec "Layer DiffID") on the way.
 *
 * Whiteouts (OCI image-spec "Whiteouts"): `.wh.<name>` deletes <name> from the
 * layers below; `.wh..wh..opq` hides everything below in its directory. Two
 * ways to honour them, chosen by the snapshotter:
 *  - "overlay": the directory is an overlay upper/layer dir. `.wh.<name>`
 *    becomes a 0:0 character device <name> and `.wh..wh..opq` sets
 *    trusted.overlay.opaque=y on the directory (Documentation/filesystems/overlayfs.rst).
 *  - "delete": the directory is a full copy of the parent: whited-out paths are
 *    removed, and an opaque directory loses every child this layer did not write.
 *
 * Every entry is confined to `dir` (see safe-path.ts); a malicious entry fails
 * the whole apply with InvalidArgument naming it. The caller discards the
 * partially written directory.
 */
import { createHash, type Hash } from "node:crypto";
import { lstatSync } from "node:fs";
import { lstat, readdir, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { isZstd, ZstdDecoder } from "../zstd.js";
import { BerthError, InvalidArgument, fromErrno } from "../errdefs.js";
import { createNode, currentUmask, setMetadata, setTimes } from "./apply-entry.js";
import { SafeRoot, baseOf, cleanEntryName, parentOf } from "./safe-path.js";
import { asBuffer, type ChunkSource } from "./tar/byte-reader.js";
import type { TarHeader } from "./tar/header.js";
import { readTar } from "./tar/reader.js";
import { addon } from "./sys.js";
import { gunzip } from "../gunzip.js";

export type WhiteoutMode = "overlay" | "delete";

export interface ApplyOptions {
  /** How whiteouts are recorded; default "overlay". */
  whiteouts?: WhiteoutMode;
  /** Every entry gets this owner instead of the tar's (docker cp's extraction). */
  owner?: { uid: number; gid: number };
  /** false: no diff_id (the result's is ""), for a tar that is not a layer (a build context). */
  diffId?: boolean;
  /**
   * Filled with the sha256 of each regular file's contents, keyed by its path in the root, with
   * the inode it was written to: the builder's COPY checksums of a context read no file twice.
   */
  fileDigests?: Map<string, FileDigest>;
}

/** A file's contents' sha256 (hex), valid while the path still names inode `ino`. */
export interface FileDigest { sha256: string; ino: number }

export interface ApplyResult {
  /** "sha256:<hex>" of the uncompressed tar stream, trailing padding included. */
  diffId: string;
  /** Bytes of uncompressed tar. */
  size: number;
}

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";
export const OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque";

/** Passes a plain tar through and inflates a gzip (magic 1f 8b) or zstd (28 b5 2f fd) one. */
async function* decompress(src: ChunkSource): AsyncGenerator<Buffer> {
  const it = Symbol.asyncIterator in src ? src[Symbol.asyncIterator]() : src[Symbol.iterator]();
  const first = await it.next();
  if (first.done) return;
  const head = asBuffer(first.value);
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield asBuffer(r.value);
    }
  }
  const zstd = isZstd(head);
  if (!zstd && (head[0] !== 0x1f || head[1] !== 0x8b)) { yield* all(); return; }
  const raw = Readable.from(all());
  const decoder = zstd ? new ZstdDecoder() : gunzip();
  raw.on("error", (e) => decoder.destroy(e));
  yield* raw.pipe(decoder) as AsyncIterable<Buffer>;
}

class Applier {
  private readonly root: SafeRoot;
  private readonly dirTimes: [string, TarHeader][] = [];
  /** "delete" mode: paths this layer wrote, which an opaque marker must keep. */
  private readonly written = new Set<string>();

  private readonly umask = currentUmask();

  constructor(dir: string, private readonly mode: WhiteoutMode, private readonly digests?: Map<string, FileDigest>) {
    this.root = new SafeRoot(dir);
  }

  private async removeExisting(rel: string): Promise<boolean> {
    const abs = this.root.abs(rel);
    const st = await lstat(abs).catch(() => null);
    if (!st) return false;
    await rm(abs, { recursive: true, force: true }); // rm never follows symlinks inside
    this.root.forget(rel);
    return true;
  }

  private async whiteout(rel: string, h: TarHeader): Promise<void> {
    const base = baseOf(rel), parent = parentOf(rel);
    if (base === OPAQUE_MARKER) {
      if (this.mode === "overlay") {
        await this.root.parents(rel, h.name, true);
        addon().lsetxattr(this.root.abs(parent), OVERLAY_OPAQUE_XATTR, Buffer.from("y"));
        return;
      }
      if (!(await this.root.parents(rel, h.name, false))) return;
      for (const child of await readdir(this.root.abs(parent))) {
        const c = parent === "" ? child : `${parent}/${child}`;
        if (!this.written.has(c)) await this.removeExisting(c);
      }
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === "" || name === "." || name === "..") throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: whiteout names no file`);
    const target = parent === "" ? name : `${parent}/${name}`;
    if (this.mode === "delete") {
      if (await this.root.parents(target, h.name, false)) await this.removeExisting(target);
      return;
    }
    await this.root.parents(target, h.name, true);
    await this.removeExisting(target);
    const abs = this.root.abs(target);
    addon().mknod(abs, 0o020000 /* S_IFCHR */, 0, 0);
    setMetadata(abs, { ...h, type: "char", mode: 0, xattrs: {} }, false);
  }

  async entry(h: TarHeader, body: AsyncIterable<Buffer>): Promise<void> {
    const rel = cleanEntryName(h.name);
    if (rel === "") {
      if (h.type !== "dir") throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: the root must be a directory, not a ${h.type}`);
      setMetadata(this.root.root, h, true);
      this.dirTimes.push([this.root.root, h]);
      return;
    }
    if (baseOf(rel).startsWith(WHITEOUT_PREFIX)) return this.whiteout(rel, h);
    await this.root.parents(rel, h.name, true);
    if (this.mode === "delete") this.written.add(rel);
    let linkTarget: string | undefined;
    if (h.type === "hardlink") {
      const t = cleanEntryName(h.linkname, `entry ${JSON.stringify(h.name)} hardlink target`);
      if (t === "" || !(await this.root.parents(t, h.name, false))) {
        throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: hardlink target ${JSON.stringify(h.linkname)} does not exist in this layer`);
      }
      if (t === rel) throw new InvalidArgument(`layer entry ${JSON.stringify(h.name)}: hardlink to itself`);
      linkTarget = this.root.abs(t);
    }
    const abs = this.root.abs(rel);
    let contents: Hash | undefined;
    if (this.digests) {
      this.digests.delete(rel);
      if (h.type === "file" && !h.sparse) body = hashed(body, (contents = createHash("sha256")));
    }
    // Created without looking first (every create fails with EEXIST on anything there, a symlink
    // included): the lookup of a name not yet in a directory being filled was 18.7 % of a layer's
    // unpacking (node --cpu-prof). An existing directory stays when the entry is a directory too
    // (its contents from earlier entries or lower layers remain); anything else is replaced.
    const made = { inherits: this.root.setgid(parentOf(rel)), umask: this.umask };
    if (!(await createdFresh(createNode(abs, h, body, linkTarget, made)))) {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (!(st?.isDirectory() && h.type === "dir")) {
        await this.removeExisting(rel);
        await createNode(abs, h, body, linkTarget, made);
      }
    }
    if (h.type === "dir") {
      this.root.markDir(rel, h.mode);
      this.dirTimes.push([abs, h]);
    }
    if (h.type !== "file") setMetadata(abs, h, h.type === "dir"); // a file has its own from createNode
    if (this.digests && (contents || h.type === "hardlink")) {
      const { ino } = lstatSync(abs);
      // A hardlink shares its target's inode, so the target's digest holds while that inode is it.
      const target = contents ? undefined : this.digests.get(cleanEntryName(h.linkname));
      const sha256 = contents ? contents.digest("hex") : target?.ino === ino ? target.sha256 : undefined;
      if (sha256) this.digests.set(rel, { sha256, ino });
    }
  }

  /** Directory times last: creating children above changed them. */
  finish(): void {
    for (const [abs, h] of this.dirTimes) setTimes(abs, h);
  }
}

async function* hashed(body: AsyncIterable<Buffer>, into: Hash): AsyncGenerator<Buffer> {
  for await (const c of body) {
    into.update(c);
    yield c;
  }
}

/** True once the node is made; false when something is at its path already (EEXIST). */
function createdFresh(create: Promise<void>): Promise<boolean> {
  return create.then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code === "EEXIST") return false;
    throw e;
  });
}

/** Extracts the layer tar `stream` (plain or gzip) into `dir`. */
export async function applyLayer(dir: string, stream: ChunkSource, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const hash = opts.diffId === false ? undefined : createHash("sha256");
  let size = 0;
  async function* counted(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const c of src) {
      hash?.update(c);
      size += c.length;
      yield c;
    }
  }
  const applier = new Applier(dir, opts.whiteouts ?? "overlay", opts.fileDigests);
  const owner = opts.owner;
  for await (const { header, body } of readTar(counted(decompress(stream)))) {
    try {
      await applier.entry(owner ? { ...header, uid: owner.uid, gid: owner.gid } : header, body);
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw fromErrno(err, `layer entry ${JSON.stringify(header.name)}`);
    }
  }
  try {
    applier.finish();
  } catch (err) {
    throw fromErrno(err, "apply layer: directory times");
  }
  return { diffId: hash ? `sha256:${hash.digest("hex")}` : "", size };
}
