/**
 * Importing one layer into a snapshotter (the image module's unpack step):
 * prepare on the parent chain, apply the tar into the writable dir, check the
 * diff_id, commit under the new chain ID. If another unpack committed the
 * same chain ID meanwhile, ours is dropped and theirs is shared.
 */
import { randomBytes } from "node:crypto";
import { AlreadyExists, FailedPrecondition, InvalidArgument } from "../errdefs.js";
import { applyLayer } from "./apply.js";
import { applyLayerFile } from "./apply-pool.js";
import { extendChain } from "./chain-id.js";
import { writableDir } from "./mount.js";
import type { Snapshotter } from "./snapshotter.js";
import type { ChunkSource } from "./tar/byte-reader.js";

export interface UnpackResult {
  chainId: string;
  diffId: string;
  /** Bytes of uncompressed tar. */
  size: number;
}

/**
 * Applies `layer` (tar or gzip tar) on top of committed snapshot `parent`
 * (a chain ID; none for the base layer). With `diffId`, a layer whose
 * content does not hash to it is refused (InvalidArgument) and nothing is kept.
 */
export async function unpackLayer(sn: Snapshotter, parent: string | undefined, layer: ChunkSource, opts: { diffId?: string } = {}): Promise<UnpackResult> {
  const key = `extract-${randomBytes(6).toString("hex")} ${parent ?? "base"}`;
  const mounts = await sn.prepare(key, parent);
  try {
    const r = await applyLayer(writableDir(mounts), layer, { whiteouts: sn.whiteouts });
    if (opts.diffId !== undefined && r.diffId !== opts.diffId) {
      throw new InvalidArgument(`layer content hashes to ${r.diffId}, but the image says its diff_id is ${opts.diffId}`);
    }
    const chainId = extendChain(parent, r.diffId);
    try {
      await sn.commit(chainId, key);
    } catch (err) {
      if (!(err instanceof AlreadyExists)) throw err;
      await sn.remove(key);
    }
    return { chainId, diffId: r.diffId, size: r.size };
  } catch (err) {
    await sn.remove(key).catch(() => undefined);
    throw err;
  }
}

/**
 * unpackLayer for an image's layers at once, on a parentFree snapshotter (overlay): the layer in
 * `file` is applied on a worker thread (apply-pool.ts) into a snapshot prepared without a parent,
 * and committed on `parent` once `parentReady` says the parent is committed — so layer N unpacks
 * while N-1 still does, and they still commit in order. A chain ID already here is not unpacked.
 */
export async function unpackLayerFile(sn: Snapshotter, file: string, o: { parent?: string; chainId: string; diffId: string; parentReady: Promise<unknown> }): Promise<UnpackResult> {
  if (!sn.parentFree) throw new FailedPrecondition(`the ${sn.name} snapshotter unpacks a layer only on its parent`);
  if (await sn.stat(o.chainId).then(() => true, () => false)) {
    await o.parentReady;
    return { chainId: o.chainId, diffId: o.diffId, size: 0 };
  }
  const key = `extract-${randomBytes(6).toString("hex")} ${o.chainId}`;
  const mounts = await sn.prepare(key);
  try {
    const r = await applyLayerFile(writableDir(mounts), file, { whiteouts: sn.whiteouts });
    if (r.diffId !== o.diffId) throw new InvalidArgument(`layer content hashes to ${r.diffId}, but the image says its diff_id is ${o.diffId}`);
    await o.parentReady;
    try {
      await sn.commit(o.chainId, key, { parent: o.parent });
    } catch (err) {
      if (!(err instanceof AlreadyExists)) throw err;
      await sn.remove(key);
    }
    return { chainId: o.chainId, diffId: r.diffId, size: r.size };
  } catch (err) {
    await sn.remove(key).catch(() => undefined);
    throw err;
  }
}
