/**
 * Pushing an image: blobs first (config and layers, 3 at a time, each skipped
 * when present or mounted from another repository of the same registry), then
 * the manifest under the tag. An image recorded with an index is pushed as that
 * index when every platform manifest it lists is in the content store, else as
 * its platform manifest alone (what docker's classic store does).
 */
import { FailedPrecondition, InvalidArgument } from "../errdefs.js";
import type { ContentStore } from "./content-store.js";
import type { Digest } from "./digest.js";
import type { ImageStore } from "./image-store.js";
import { limiter } from "./limit.js";
import { parseManifest } from "./manifests.js";
import type { Descriptor } from "./media-types.js";
import { progressEvent, type ProgressFn } from "./progress.js";
import { formatReference, parseReference, withDigest, type Reference } from "./reference.js";
import type { RegistryClient } from "./registry-client.js";

export interface PushOptions {
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /** Upload blobs larger than this in PATCH chunks (default: monolithic PUT). */
  chunkSize?: number;
  /** Extra repository paths on the target registry to try mounting blobs from. */
  mountFrom?: string[];
}

export interface PushDeps {
  registry: RegistryClient;
  content: ContentStore;
  images: ImageStore;
}

export interface PushResult {
  reference: Reference;
  /** Digest of the manifest or index the tag now points at. */
  digest: Digest;
  size: number;
  mediaType: string;
}

export async function pushImage(deps: PushDeps, name: string, opts: PushOptions = {}): Promise<PushResult> {
  const { registry, content, images } = deps;
  const ref = parseReference(name);
  if (ref.digest) throw new InvalidArgument(`push ${name}: push a tag, not a digest reference`);
  const img = await images.get(name);
  const what = formatReference(ref);
  // Mount candidates: the image's other repositories on the same registry.
  const siblings = [...img.names, ...img.digestRefs]
    .map((n) => parseReference(n, { defaultTag: false }))
    .filter((r) => r.domain === ref.domain && r.path !== ref.path)
    .map((r) => r.path);
  const mountFrom = [...new Set([...(opts.mountFrom ?? []), ...siblings])];
  const limit = limiter(3);

  const pushOne = async (m: Descriptor): Promise<void> => {
    const parsed = parseManifest(await content.readBlob(m.digest), m.mediaType, `${what}: manifest ${m.digest}`);
    if (parsed.kind !== "manifest") throw new InvalidArgument(`${what}: ${m.digest} is not an image manifest`);
    const blobs = [parsed.manifest.config, ...parsed.manifest.layers];
    for (const b of blobs) {
      if (!(await content.has(b.digest))) throw new FailedPrecondition(`${what}: blob ${b.digest} is missing from the content store`);
    }
    await Promise.all(blobs.map((b) => limit(() => registry.pushBlob(ref, b, () => content.readStream(b.digest), {
      mountFrom, signal: opts.signal, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
    }))));
  };

  let top = img.manifest;
  if (img.target.digest !== img.manifest.digest) {
    const idx = parseManifest(await content.readBlob(img.target.digest), img.target.mediaType, `${what}: index`);
    const children = idx.kind === "index" ? idx.index.manifests : [];
    const present = await Promise.all(children.map((c) => content.has(c.digest)));
    if (children.length > 0 && present.every(Boolean)) {
      for (const c of children) {
        await pushOne(c);
        await registry.putManifest(ref, c.digest, c.mediaType, await content.readBlob(c.digest), opts.signal);
      }
      top = img.target;
    }
  }
  if (top === img.manifest) await pushOne(top);
  const bytes = await content.readBlob(top.digest);
  const digest = await registry.putManifest(ref, ref.tag ?? "latest", top.mediaType, bytes, opts.signal);
  // docker records name@digest after a push so `inspect` shows the RepoDigest.
  await images.put({ id: img.id, target: img.target, manifest: img.manifest }, [withDigest(ref, digest)]);
  opts.onProgress?.(progressEvent(digest, `${ref.tag ?? "latest"}: digest: ${digest} size: ${bytes.length}`));
  return { reference: ref, digest, size: bytes.length, mediaType: top.mediaType };
}
