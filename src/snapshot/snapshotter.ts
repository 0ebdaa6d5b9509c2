/**
 * Snapshotter: the filesystem trees containers run on, modelled on
 * containerd's core/snapshots.
 *
 * Words, defined once:
 * - `key`: the caller's name for an active or view snapshot (any string,
 *   e.g. "extract-6f2a sha256:…" or a container id).
 * - `name`: the name of a committed snapshot. Images name each committed
 *   layer by its chain ID (see chainId), so images sharing layers share them.
 * - `parent`: the committed snapshot a new snapshot starts from (none = empty).
 *
 * Kinds: "active" (read-write, from prepare), "view" (read-only, from view),
 * "committed" (immutable, from commit; only these can be parents).
 *
 * Importing a layer (what unpackLayer in unpack.ts does):
 *   1. mounts = prepare("extract-<random> <chainId>", parentChainId)
 *   2. applyLayer(writableDir(mounts), layerTar, { whiteouts: sn.whiteouts })
 *   3. commit(chainId, "extract-<random> <chainId>")
 * Running a container:
 *   1. mounts = prepare(containerId, imageTopChainId)
 *   2. mountAll(mounts, rootfs) ... run ... unmount(rootfs)
 *   3. diff(containerId) → layer tar for `commit`/build; remove(containerId).
 *
 * A snapshotter returns mounts as data and mounts nothing itself.
 */
import type { WhiteoutMode } from "./apply.js";

export type Kind = "active" | "view" | "committed";

/** One mount, as for mount(8): `options` holds flags (ro, rbind) and fs data (lowerdir=…). */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

export interface Info {
  /** The key (active, view) or name (committed). */
  name: string;
  kind: Kind;
  parent?: string;
  labels: Record<string, string>;
  /** ISO 8601. */
  created: string;
  updated: string;
}

export interface Usage {
  /** Bytes of disk used by this snapshot's own files (not its parents'). */
  size: number;
  inodes: number;
}

export interface SnapshotOpts {
  labels?: Record<string, string>;
}

export interface Snapshotter {
  /** "overlay" or "native". */
  readonly name: string;
  /** How applyLayer must record whiteouts in this snapshotter's writable dirs. */
  readonly whiteouts: WhiteoutMode;
  /**
   * Whether an active snapshot's writable dir is independent of its parent (overlay: the parent is
   * only a mount option; native: the dir starts as a copy of it). Then a layer can be extracted
   * into a snapshot prepared without a parent and put on its parent when committed (commit's
   * `parent`), so the layers of an image can be unpacked at the same time.
   */
  readonly parentFree: boolean;

  /** Creates active snapshot `key` on top of committed `parent`; returns how to mount it. */
  prepare(key: string, parent?: string, opts?: SnapshotOpts): Promise<Mount[]>;
  /** Like prepare, but read-only. */
  view(key: string, parent?: string, opts?: SnapshotOpts): Promise<Mount[]>;
  /** The mounts of an active or view snapshot. */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Turns active snapshot `key` into committed snapshot `name`; `key` is gone afterwards. With
   * `parent` (parentFree snapshotters only), the committed snapshot sits on that committed one.
   */
  commit(name: string, key: string, opts?: SnapshotOpts & { parent?: string }): Promise<void>;
  /** Removes a snapshot; FailedPrecondition while it has children. */
  remove(key: string): Promise<void>;
  stat(key: string): Promise<Info>;
  walk(fn: (info: Info) => void | Promise<void>): Promise<void>;
  usage(key: string): Promise<Usage>;
  /** The changes of `key` against its parent, as an uncompressed layer tar. */
  diff(key: string): AsyncIterable<Buffer>;
}
