/**
 * Overlay snapshotter: each snapshot directory holds its own layer (`fs`) and,
 * when active, overlay's `work` dir; a container's root is overlayfs with the
 * parents' `fs` dirs as lowerdirs. Committed snapshots are named by chain ID
 * and shared by every image built on the same layers.
 *
 * Each snapshot also gets a short link <root>/l/<8 chars> -> ../snapshots/<id>/fs
 * (the idea of Docker's overlay2 `l/` dir) and lowerdir lists use those links,
 * so deep stacks fit the one page of mount data; see mount.ts for the
 * relative-path fallback past ~90 layers.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { WhiteoutMode } from "./apply.js";
import { DirSnapshotter } from "./base.js";
import { overlayDiff } from "./diff.js";
import type { SnapRecord } from "./metadata.js";
import type { Kind, Mount } from "./snapshotter.js";

const LINK_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function shortName(): string {
  return [...randomBytes(8)].map((b) => LINK_ALPHABET[b & 31]).join("");
}

export class OverlaySnapshotter extends DirSnapshotter {
  readonly name = "overlay";
  readonly whiteouts: WhiteoutMode = "overlay";
  readonly parentFree = true;
  private readonly links: string;

  constructor(root: string) {
    super(root);
    this.links = join(root, "l");
  }

  protected override async populate(dir: string, kind: Kind): Promise<void> {
    await mkdir(join(dir, "fs"), 0o755);
    if (kind === "active") await mkdir(join(dir, "work"), 0o700);
  }

  protected override async created(rec: SnapRecord): Promise<void> {
    await mkdir(this.links, { recursive: true, mode: 0o700 });
    for (;;) {
      const link = shortName();
      try {
        await symlink(`../snapshots/${rec.id}/fs`, join(this.links, link));
        rec.link = link;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  }

  protected override async removing(rec: SnapRecord): Promise<void> {
    if (rec.link) await rm(join(this.links, rec.link), { force: true });
  }

  protected override async tidy(live: SnapRecord[]): Promise<void> {
    const keep = new Set(live.map((r) => r.link));
    await mkdir(this.links, { recursive: true, mode: 0o700 });
    for (const l of await readdir(this.links)) {
      if (!keep.has(l)) await rm(join(this.links, l), { force: true });
    }
  }

  protected override mountsFor(rec: SnapRecord, parents: SnapRecord[]): Mount[] {
    const lower = (r: SnapRecord): string => join(this.links, r.link!);
    if (parents.length === 0) {
      return [{ type: "bind", source: this.fsDir(rec), options: ["rbind", rec.kind === "view" ? "ro" : "rw"] }];
    }
    if (rec.kind === "view") {
      if (parents.length === 1) return [{ type: "bind", source: this.fsDir(parents[0]!), options: ["rbind", "ro"] }];
      // A read-only overlay needs no upper, only two or more lowers.
      return [{ type: "overlay", source: "overlay", options: ["ro", `lowerdir=${parents.map(lower).join(":")}`, "index=off"] }];
    }
    return [{
      type: "overlay",
      source: "overlay",
      options: [
        `lowerdir=${parents.map(lower).join(":")}`,
        `upperdir=${this.fsDir(rec)}`,
        `workdir=${join(this.snapDir(rec), "work")}`,
        // No inode index or redirects: the upper dir must stay a plain change set for diff.
        "index=off",
        "redirect_dir=off",
      ],
    }];
  }

  protected override diffOf(rec: SnapRecord): AsyncIterable<Buffer> {
    return overlayDiff(this.fsDir(rec));
  }
}

/** Opens (creating if needed) an overlay snapshot root. */
export function openOverlaySnapshotter(root: string): Promise<OverlaySnapshotter> {
  return new OverlaySnapshotter(root).open();
}
