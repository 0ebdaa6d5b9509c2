/**
 * Pulling an image: reference → manifest (through an index by platform) →
 * config → layers. Layers download in parallel (3 at a time, as docker's
 * max-concurrent-downloads) into the content store; the caller's `applyLayer`
 * unpacks them in order as each becomes available, so layer N is being unpacked
 * while later ones still download — or, with `applyArriving`, each as soon as its
 * bytes start to arrive, the caller following the download and putting the layers
 * on their parents in order. Each unpacked layer's diff ID must equal the config's
 * rootfs.diff_ids[N].
 */
import type { Readable } from "node:stream";
import { FailedPrecondition, InvalidArgument } from "../errdefs.js";
import type { ContentStore } from "./content-store.js";
import { chainIds } from "./diff-id.js";
import type { Digest } from "./digest.js";
import type { Image, ImageStore } from "./image-store.js";
import { limiter } from "./limit.js";
import { parseImageConfig } from "./manifests.js";
import type { Descriptor, ImageConfig, Platform } from "./media-types.js";
import { defaultPlatform, formatPlatform, parsePlatform, platformMatches, selectManifest } from "./platform.js";
import { progressEvent, type ProgressFn } from "./progress.js";
import { formatReference, parseReference, withDigest, type Reference } from "./reference.js";
import type { FetchedManifest, RegistryClient } from "./registry-client.js";

/**
 * Unpacks layer `index` from its compressed blob stream and returns its diff ID
 * (sha256 of the uncompressed tar; uncompressedLayer() in diff-id.ts computes it
 * while streaming). `info.chainId` keys the snapshot of layers 0..index.
 */
export type ApplyLayer = (
  index: number, digest: Digest, mediaType: string, stream: Readable,
  info: {
    size: number; expectedDiffId: Digest; chainId: Digest; parentChainId?: Digest;
    /** With unpackAhead: settles when the layer below has been applied (rejects if it failed). */
    below?: Promise<unknown>;
  },
) => Promise<Digest>;

/** A layer's blob as it arrives (ApplyArriving). */
export interface ArrivingBlob {
  /**
   * The file the download writes, growing as `watch` reports; renamed into the content store
   * when verified. Absent when the blob was here already or another writer brought it.
   */
  file?: string;
  /** Calls `on` with the bytes in `file` now and as they grow (fewer: it is being rewritten); returns the unsubscribe. */
  watch(on: (done: number) => void): () => void;
  /** Settles with the download: resolves once the blob is verified and committed. */
  downloaded: Promise<void>;
}

/**
 * Unpacks layer `index` from its blob while it downloads and returns its diff ID, without
 * waiting for the layers below it (`info.below` settles when the one below is done: the caller
 * puts each layer on its parent in order). Nothing may be committed before `blob.downloaded`.
 */
export type ApplyArriving = (index: number, digest: Digest, blob: ArrivingBlob, info: Parameters<ApplyLayer>[4]) => Promise<Digest>;

export interface PullOptions {
  /** os/arch[/variant]; default: the host's (linux/amd64 here). */
  platform?: Platform | string;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  applyLayer?: ApplyLayer;
  /** Instead of applyLayer: each layer unpacks as it arrives (EngineImages.pull with overlay). */
  applyArriving?: ApplyArriving;
  /** Layers downloading at once (default 3). */
  concurrency?: number;
}

export interface PullDeps {
  registry: RegistryClient;
  content: ContentStore;
  /** When given, the pulled image is recorded under the reference's tag or digest. */
  images?: ImageStore;
}

export interface PullResult {
  reference: Reference;
  /** What the tag or digest pointed at: an index or a manifest. */
  target: Descriptor;
  manifest: Descriptor;
  config: Descriptor;
  /** docker's image ID: the config digest. */
  imageId: Digest;
  layers: Descriptor[];
  diffIds: Digest[];
  chainIds: Digest[];
  platform: Platform;
  image?: Image;
}

async function store(content: ContentStore, m: FetchedManifest): Promise<void> {
  await content.writeBlob(m.bytes, m.descriptor.digest);
}

export async function pullImage(deps: PullDeps, input: string | Reference, opts: PullOptions = {}): Promise<PullResult> {
  const { registry, content } = deps;
  const ref = typeof input === "string" ? parseReference(input) : input;
  const what = formatReference(ref);
  const platform = opts.platform === undefined ? defaultPlatform()
    : typeof opts.platform === "string" ? parsePlatform(opts.platform) : opts.platform;
  const signal = opts.signal;

  const top = await registry.getManifest(ref, ref.digest ?? ref.tag ?? "latest", signal);
  await store(content, top);
  let chosen = top;
  if (top.parsed.kind === "index") {
    const pick = selectManifest(top.parsed.index, platform, what);
    chosen = await registry.getManifest(ref, pick.digest, signal);
    if (chosen.descriptor.size !== pick.size) {
      throw new FailedPrecondition(`${what}: manifest ${pick.digest} is ${chosen.descriptor.size} bytes, the index says ${pick.size}`);
    }
    if (chosen.parsed.kind !== "manifest") throw new InvalidArgument(`${what}: nested index ${pick.digest} for ${formatPlatform(platform)} is not supported`);
    await store(content, chosen);
  }
  if (chosen.parsed.kind !== "manifest") throw new InvalidArgument(`${what}: not an image manifest`);
  const manifest = chosen.parsed.manifest;

  const blobSource = (d: Descriptor) => (offset: number, sig?: AbortSignal) => registry.fetchBlob(ref, d.digest, offset, sig);
  await content.ingest({ digest: manifest.config.digest, size: manifest.config.size, signal }, blobSource(manifest.config));
  const config: ImageConfig = parseImageConfig(await content.readBlob(manifest.config.digest), `${what}: config ${manifest.config.digest}`);
  if (top.parsed.kind === "manifest" && opts.platform !== undefined && !platformMatches(platform, { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) })) {
    throw new InvalidArgument(`${what}: image is ${config.os}/${config.architecture}, not the requested ${formatPlatform(platform)}`);
  }
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new FailedPrecondition(`${what}: manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff_ids`);
  }
  const chains = chainIds(diffIds);

  // One controller for the whole pull, so a failure anywhere stops every download.
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const limit = limiter(opts.concurrency ?? 3);
  const progress = opts.onProgress;
  // Each download as it arrives: its file once the ingest writes it, the bytes in it, who watches.
  const arrivals = manifest.layers.map(() => {
    let started!: () => void;
    return { file: undefined as string | undefined, done: 0, watchers: new Set<(n: number) => void>(), started: new Promise<void>((r) => { started = r; }), start: () => started() };
  });
  const downloads = manifest.layers.map((l, i) => {
    progress?.(progressEvent(l.digest, "Pulling fs layer"));
    const a = arrivals[i]!;
    const p = limit(async () => {
      const r = await content.ingest({
        digest: l.digest, size: l.size, signal: ac.signal,
        onData: (file) => { a.file = file; a.start(); },
        onProgress: (done, total) => {
          a.done = done;
          for (const w of a.watchers) w(done);
          progress?.(progressEvent(l.digest, "Downloading", done, total));
        },
      }, blobSource(l));
      progress?.(progressEvent(l.digest, r.fetched ? "Download complete" : "Already exists"));
      return r;
    });
    p.then(a.start, a.start);
    p.catch(() => {}); // awaited below in order; this only keeps an early failure from being "unhandled"
    return p;
  });
  const unpack = async (i: number, below?: Promise<unknown>): Promise<void> => {
    const l = manifest.layers[i]!;
    const info = { size: l.size, expectedDiffId: diffIds[i]!, chainId: chains[i]!, ...(i > 0 ? { parentChainId: chains[i - 1]! } : {}), ...(below ? { below } : {}) };
    let got: Digest | undefined;
    if (opts.applyArriving) {
      const a = arrivals[i]!;
      await a.started;
      const downloaded = downloads[i]!.then(() => { progress?.(progressEvent(l.digest, "Extracting", 0, l.size)); });
      downloaded.catch(() => {}); // the caller's, or awaited below
      const watch = (on: (n: number) => void): (() => void) => { a.watchers.add(on); on(a.done); return () => a.watchers.delete(on); };
      got = await opts.applyArriving(i, l.digest, { ...(a.file !== undefined ? { file: a.file } : {}), watch, downloaded }, info);
      await downloaded;
    } else {
      await downloads[i];
      if (!opts.applyLayer) return;
      progress?.(progressEvent(l.digest, "Extracting", 0, l.size));
      got = await opts.applyLayer(i, l.digest, l.mediaType, await content.readStream(l.digest), info);
    }
    if (got !== diffIds[i]) {
      throw new FailedPrecondition(`${what}: layer ${i} (${l.digest}): diff_id mismatch: config says ${diffIds[i]}, unpacked ${got}`);
    }
    progress?.(progressEvent(l.digest, "Pull complete"));
  };
  try {
    if (opts.applyArriving) {
      // All start at once, each as its bytes arrive and told when the one below it is done; every
      // one settles before a failure is reported (the lowest layer's), so none is left running.
      const started: Promise<void>[] = [];
      for (let i = 0; i < manifest.layers.length; i++) started.push(unpack(i, started[i - 1]));
      const all = await Promise.allSettled(started);
      const failed = all.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    } else {
      for (let i = 0; i < manifest.layers.length; i++) await unpack(i);
    }
  } catch (e) {
    ac.abort(e);
    await Promise.allSettled(downloads);
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }

  const result: PullResult = {
    reference: ref, target: top.descriptor, manifest: chosen.descriptor, config: manifest.config,
    imageId: manifest.config.digest, layers: manifest.layers, diffIds, chainIds: chains, platform,
  };
  if (deps.images) {
    const names: Reference[] = [withDigest(ref, top.descriptor.digest)];
    if (ref.tag !== undefined && ref.digest === undefined) names.push({ domain: ref.domain, path: ref.path, tag: ref.tag });
    result.image = await deps.images.put({ id: manifest.config.digest, target: top.descriptor, manifest: chosen.descriptor }, names);
  }
  return result;
}
