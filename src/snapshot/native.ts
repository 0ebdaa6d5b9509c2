/**
 * Copy-based ("native") snapshotter for where overlayfs is unavailable (an
 * overlay or other unsupported filesystem under the root, some user
 * namespaces): every snapshot is a full copy of its parent, mounted by bind.
 * Layers are applied with whiteouts as deletions, and diff compares a
 * snapshot with its parent's tree.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BerthError } from "../errdefs.js";
import type { WhiteoutMode } from "./apply.js";
import { DirSnapshotter } from "./base.js";
import { compareDiff } from "./diff.js";
import type { SnapRecord } from "./metadata.js";
import type { Kind, Mount } from "./snapshotter.js";

const run = promisify(execFile);

export class NativeSnapshotter extends DirSnapshotter {
  readonly name = "native";
  readonly whiteouts: WhiteoutMode = "delete";
  readonly parentFree = false;

  protected override async populate(dir: string, _kind: Kind, parents: SnapRecord[]): Promise<void> {
    const fs = join(dir, "fs");
    if (parents.length === 0) { await mkdir(fs, 0o755); return; }
    // GNU cp -a keeps modes, owners, times, xattrs, devices, hardlinks and
    // holes; --reflink=auto shares extents on filesystems that can (btrfs, xfs).
    const src = this.fsDir(parents[0]!);
    try {
      await run("cp", ["-a", "--reflink=auto", "--sparse=auto", src, fs]);
    } catch (err) {
      throw new BerthError(`copy snapshot ${JSON.stringify(parents[0]!.name)}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
    }
  }

  protected override mountsFor(rec: SnapRecord): Mount[] {
    return [{ type: "bind", source: this.fsDir(rec), options: ["rbind", rec.kind === "view" ? "ro" : "rw"] }];
  }

  protected override diffOf(rec: SnapRecord, parents: SnapRecord[]): AsyncIterable<Buffer> {
    return compareDiff(parents[0] ? this.fsDir(parents[0]) : null, this.fsDir(rec));
  }
}

/** Opens (creating if needed) a copy-based snapshot root. */
export function openNativeSnapshotter(root: string): Promise<NativeSnapshotter> {
  return new NativeSnapshotter(root).open();
}
