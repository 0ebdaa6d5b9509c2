/**
 * snapshot/: filesystem trees for images and containers. Other modules import
 * only from here. See README.md for the on-disk layout.
 */
export type { Snapshotter, Mount, Info, Kind, Usage, SnapshotOpts } from "./snapshotter.js";
export { OverlaySnapshotter, openOverlaySnapshotter } from "./overlay.js";
export { NativeSnapshotter, openNativeSnapshotter } from "./native.js";
export { openSnapshotter, overlayUnsupported, type Driver } from "./detect.js";
export { chainId, extendChain } from "./chain-id.js";
export { applyLayer, type ApplyOptions, type ApplyResult, type FileDigest, type WhiteoutMode } from "./apply.js";
export { unpackLayer, unpackLayerFile, type UnpackResult } from "./unpack.js";
export { FollowAbandoned, FollowedFile } from "./follow.js";
export { overlayDiff, compareDiff } from "./diff.js";
export { mountAll, unmount, writableDir } from "./mount.js";
export { readTar, type TarEntry } from "./tar/reader.js";
export { writeTar, type TarWriteEntry, type TarWriteHeader } from "./tar/writer.js";
export type { TarHeader, EntryType, Timespec, SparseMap } from "./tar/header.js";
export { addon, type Addon } from "./sys.js";
