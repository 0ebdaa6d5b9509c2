/** Paths inside a content store root (layout v1, see README.md). */
import { join } from "node:path";
import { open } from "node:fs/promises";
import { digestHex, type Digest } from "./digest.js";

export const CONTENT_LAYOUT_VERSION = 1;

export class ContentPaths {
  constructor(readonly root: string) {}
  get blobsDir(): string { return join(this.root, "blobs", "sha256"); }
  get ingestDir(): string { return join(this.root, "ingest"); }
  blob(digest: Digest): string { return join(this.blobsDir, digestHex(digest)); }
  ingestRef(digest: Digest): string { return `sha256-${digestHex(digest)}`; }
  ingest(ref: string): string { return join(this.ingestDir, ref); }
  lock(ref: string): string { return join(this.ingestDir, `${ref}.lock`); }
}

/** fsync a directory so a rename inside it survives a crash (rename(2) alone does not). */
export async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try { await d.sync(); } finally { await d.close(); }
}
