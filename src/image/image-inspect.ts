/**
 * docker's `image inspect` and `image history` shapes (Engine API ImageInspect,
 * HistoryResponseItem), computed from an image record and its blobs.
 */
import type { ContentReader } from "./content-store.js";
import type { Image } from "./image-store.js";
import { parseImageConfig, parseManifest } from "./manifests.js";
import type { Descriptor, HistoryEntry, ImageConfig } from "./media-types.js";
import { familiarString, parseReference } from "./reference.js";

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown> | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  /** Sum of the compressed layer sizes in the content store (docker with the containerd store reports content size too). */
  Size: number;
  RootFS: { Type: "layers"; Layers: string[] };
  Metadata: { LastTagTime: string };
  /** The manifest or index the image was recorded as (berth extension, not in docker's shape). */
  Descriptor: Descriptor;
}

export interface ImageHistoryItem {
  /** The image ID on the newest entry, "<missing>" below it (docker's convention). */
  Id: string;
  /** Unix seconds. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

async function load(img: Image, content: ContentReader): Promise<{ config: ImageConfig; layers: Descriptor[] }> {
  const parsed = parseManifest(await content.readBlob(img.manifest.digest), img.manifest.mediaType, `image ${img.id}`);
  const layers = parsed.kind === "manifest" ? parsed.manifest.layers : [];
  const config = parseImageConfig(await content.readBlob(img.id), `image ${img.id}`);
  return { config, layers };
}

const fam = (n: string): string => familiarString(parseReference(n, { defaultTag: false }));

export async function inspectOf(img: Image, content: ContentReader): Promise<ImageInspect> {
  const { config, layers } = await load(img, content);
  return {
    Id: img.id,
    RepoTags: img.names.map(fam),
    RepoDigests: img.digestRefs.map(fam),
    Parent: config.parent ?? "",
    Comment: config.comment ?? "",
    Created: config.created ?? new Date(0).toISOString(),
    DockerVersion: config.docker_version ?? "",
    Author: config.author ?? "",
    Config: (config.config as Record<string, unknown> | undefined) ?? null,
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    ...(config["os.version"] ? { OsVersion: config["os.version"] } : {}),
    Size: layers.reduce((n, l) => n + l.size, 0),
    RootFS: { Type: "layers", Layers: [...config.rootfs.diff_ids] },
    Metadata: { LastTagTime: img.lastTagTime ?? "0001-01-01T00:00:00Z" },
    Descriptor: img.target,
  };
}

export async function historyOf(img: Image, content: ContentReader): Promise<ImageHistoryItem[]> {
  const { config, layers } = await load(img, content);
  const secs = (s: string | undefined): number => (s ? Math.floor(Date.parse(s) / 1000) : 0);
  const entries: HistoryEntry[] = config.history && config.history.length > 0
    ? config.history
    : layers.map(() => ({ created: config.created }));
  let layer = 0;
  const out: ImageHistoryItem[] = entries.map((h) => {
    const size = h.empty_layer ? 0 : (layers[layer++]?.size ?? 0);
    return { Id: "<missing>", Created: secs(h.created), CreatedBy: h.created_by ?? "", Tags: null, Size: size, Comment: h.comment ?? "" };
  });
  out.reverse();
  if (out[0]) {
    out[0].Id = img.id;
    out[0].Tags = img.names.length ? img.names.map(fam) : null;
  }
  return out;
}
