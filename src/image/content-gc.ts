/**
 * Mark-and-sweep over the content store. Reachability follows the image spec's
 * graph: an index points at manifests (and nested indexes), a manifest at its
 * config and layers. Only blobs reached as roots or through an index's
 * `manifests` are parsed: configs and layers are leaves and never read.
 */
import type { ContentStore, GcResult } from "./content-store.js";
import { isDigest, type Digest } from "./digest.js";
import type { Descriptor } from "./media-types.js";

const MAX_JSON = 8 << 20;

/** Children of a manifest or index blob; [] for anything else (a root may be any blob). */
export function childrenOf(bytes: Buffer): { digest: Digest; parse: boolean }[] {
  let doc: { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[]; subject?: Descriptor };
  try {
    doc = JSON.parse(bytes.toString("utf8")) as typeof doc;
  } catch {
    return [];
  }
  if (doc === null || typeof doc !== "object") return [];
  const out: { digest: Digest; parse: boolean }[] = [];
  const add = (list: unknown, parse: boolean): void => {
    if (!Array.isArray(list)) return;
    for (const d of list as Descriptor[]) if (isDigest(d?.digest)) out.push({ digest: d.digest, parse });
  };
  add(doc.manifests, true);
  add(doc.config ? [doc.config] : [], false);
  add(doc.layers, false);
  return out;
}

export async function collectGarbage(store: ContentStore, roots: Iterable<Digest>, graceMs: number): Promise<GcResult> {
  const marked = new Set<Digest>();
  const queue = [...roots].filter(isDigest).map((digest) => ({ digest, parse: true }));
  while (queue.length > 0) {
    const { digest: d, parse } = queue.pop()!;
    if (marked.has(d)) continue;
    marked.add(d);
    if (!parse || !(await store.has(d))) continue;
    const info = await store.info(d);
    if (info.size > MAX_JSON) continue;
    for (const c of childrenOf(await store.readBlob(d, MAX_JSON))) {
      if (!marked.has(c.digest)) queue.push(c);
    }
  }
  const removed: Digest[] = [];
  let bytesFreed = 0;
  const cutoff = Date.now() - graceMs;
  const victims: { digest: Digest; size: number }[] = [];
  await store.walk((info) => {
    if (!marked.has(info.digest) && info.committedAt.getTime() <= cutoff) victims.push(info);
  });
  for (const v of victims) {
    try {
      await store.delete(v.digest);
      removed.push(v.digest);
      bytesFreed += v.size;
    } catch { /* deleted concurrently: nothing to free */ }
  }
  return { removed, bytesFreed };
}
