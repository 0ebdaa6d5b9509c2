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
import type { Followed } from "./follow.js";
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
export function unpackLayer(sn: Snapshotter, parent: string | undefined, layer: ChunkSource, opts: { diffId?: string } = {}): Promise<UnpackResult> {
  return unpackInto(sn, {
    key: `extract-${randomBytes(6).toString("hex")} ${parent ?? "base"}`, prepareOn: parent, diffId: opts.diffId,
    apply: (dir) => applyLayer(dir, layer, { whiteouts: sn.whiteouts }),
    commitAs: (diffId) => ({ chainId: extendChain(parent, diffId) }),
  });
}

/**
 * unpackLayer for an image's layers at once, on a parentFree snapshotter (overlay): the layer in
 * `file` (or in one still downloading: follow.ts) is applied on a worker thread (apply-pool.ts)
 * into a snapshot prepared without a parent, and committed on `parent` once `parentReady` says
 * the parent is committed — so layer N unpacks while N-1 still does, and they still commit in
 * order. A chain ID already here is not unpacked.
 */
export async function unpackLayerFile(sn: Snapshotter, file: string | Followed, o: { parent?: string; chainId: string; diffId: string; parentReady: Promise<unknown> }): Promise<UnpackResult> {
  if (!sn.parentFree) throw new FailedPrecondition(`the ${sn.name} snapshotter unpacks a layer only on its parent`);
  o.parentReady.catch(() => {}); // awaited below; a failure there is the lower layer's to report
  if (await sn.stat(o.chainId).then(() => true, () => false)) {
    await o.parentReady;
    return { chainId: o.chainId, diffId: o.diffId, size: 0 };
  }
  return unpackInto(sn, {
    key: `extract-${randomBytes(6).toString("hex")} ${o.chainId}`, diffId: o.diffId,
    apply: (dir) => applyLayerFile(dir, file, { whiteouts: sn.whiteouts }),
    commitAs: async () => { await o.parentReady; return { chainId: o.chainId, parent: o.parent }; },
  });
}

/**
 * The steps both share: prepare `key` (on `prepareOn`), apply into its writable dir, check the
 * diff_id, commit under the chain ID `commitAs` gives (on the parent it gives); if another unpack
 * committed that chain ID meanwhile, ours is dropped. Nothing of a failed unpack is kept.
 */
async function unpackInto(sn: Snapshotter, o: {
  key: string; prepareOn?: string; diffId?: string;
  apply: (dir: string) => Promise<{ diffId: string; size: number }>;
  commitAs: (diffId: string) => { chainId: string; parent?: string } | Promise<{ chainId: string; parent?: string }>;
}): Promise<UnpackResult> {
  const mounts = await sn.prepare(o.key, o.prepareOn);
  try {
    const r = await o.apply(writableDir(mounts));
    if (o.diffId !== undefined && r.diffId !== o.diffId) {
      throw new InvalidArgument(`layer content hashes to ${r.diffId}, but the image says its diff_id is ${o.diffId}`);
    }
    const { chainId, parent } = await o.commitAs(r.diffId);
    try {
      await sn.commit(chainId, o.key, parent !== undefined ? { parent } : {});
    } catch (err) {
      if (!(err instanceof AlreadyExists)) throw err;
      await sn.remove(o.key);
    }
    return { chainId, diffId: r.diffId, size: r.size };
  } catch (err) {
    await sn.remove(o.key).catch(() => undefined);
    throw err;
  }
}
