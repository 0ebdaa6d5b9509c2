/**
 * The engine's image side: the content store and image store (src/image) with a snapshotter
 * (src/snapshot) for unpacked layers. Images are unpacked once per layer chain; a container's root
 * is an active snapshot on its image's top chain ID, keyed by the container's id.
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FailedPrecondition, InvalidArgument, NotFound } from "../errdefs.js";
import {
  createContentStore, createImageStore, defaultPlatform, parsePlatform, parseReference, createRegistryClient, pullImage, pushImage,
  type ArrivingBlob, type ContentStore, type ImageStore, type ImageConfig, type ProgressEvent, type Credentials, type CredentialStore,
} from "../image/index.js";
import { isZstd, ZstdDecoder } from "../zstd.js";
import { chainId, FollowAbandoned, FollowedFile, mountAll, openSnapshotter, unmount, unpackLayer, unpackLayerFile, type Mount, type Snapshotter } from "../snapshot/index.js";
import { gunzip } from "../gunzip.js";

const LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export class EngineImages {
  private constructor(
    readonly root: string,
    readonly content: ContentStore,
    readonly images: ImageStore,
    readonly snapshots: Snapshotter,
    private readonly insecure: string[],
  ) {}

  static async open(root: string, opts: { insecureRegistries?: string[] } = {}): Promise<EngineImages> {
    mkdirSync(root, { recursive: true });
    const content = await createContentStore(join(root, "content"));
    const images = await createImageStore(join(root, "images"), content);
    const snapshots = await openSnapshotter(join(root, "snapshots"), "auto");
    return new EngineImages(root, content, images, snapshots, opts.insecureRegistries ?? []);
  }

  async config(nameOrId: string): Promise<ImageConfig> {
    const img = await this.images.get(nameOrId).catch((e) => {
      if (e instanceof NotFound) throw new NotFound(`No such image: ${nameOrId}`);
      throw e;
    });
    return JSON.parse((await this.content.readBlob(img.id)).toString("utf8")) as ImageConfig;
  }

  /** docker's image inspect JSON (Id, RepoTags, Config, RootFS, …). */
  async inspect(nameOrId: string): Promise<{ Id: string; RepoTags?: string[]; Config?: Record<string, any> | null } & Record<string, any>> {
    try {
      return (await this.images.inspect(nameOrId)) as any;
    } catch (e) {
      if (e instanceof NotFound) throw new NotFound(`No such image: ${nameOrId}`);
      throw e;
    }
  }

  /** The top layer's chain ID; undefined for an image with no layers (a build's FROM scratch). */
  private async topChain(imageId: string): Promise<string | undefined> {
    const ids = (await this.config(imageId)).rootfs.diff_ids;
    return ids.length ? chainId(ids) : undefined;
  }

  /**
   * The empty image `FROM scratch` starts from: no layers, an empty config. Its content is fixed,
   * so its ID is the same every time.
   */
  async scratch(): Promise<string> {
    const cfg = { architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] };
    return this.addImage(Buffer.from(JSON.stringify(cfg)), [], []);
  }

  async prepareRootfs(key: string, imageId: string): Promise<Mount[]> {
    return this.snapshots.prepare(key, await this.topChain(imageId));
  }

  rootfsMounts(key: string): Promise<Mount[]> {
    return this.snapshots.mounts(key);
  }

  /**
   * volatile: the writable layer will not outlive this mount (the container is removed when it
   * exits), so overlay's `volatile` option skips the sync of the upper dir on every fsync and on
   * unmount — 1.5 ms against 0.09 ms to unmount a busybox container's rootfs here (a throwaway
   * probe, medians of 20). Such an upper dir must not be mounted again after a crash (the kernel
   * refuses while work/incompat/volatile exists), and an auto-removed container never is.
   * Kernels before 5.10 lack the option: they get a plain mount.
   */
  mountRootfs(mounts: Mount[], target: string, o: { volatile?: boolean } = {}): void {
    const [m] = mounts;
    if (o.volatile && mounts.length === 1 && m!.type === "overlay") {
      try {
        mountAll([{ ...m!, options: [...m!.options, "volatile"] }], target);
        return;
      } catch (e) {
        if (!(e instanceof InvalidArgument)) throw e;
      }
    }
    mountAll(mounts, target);
  }

  unmountRootfs(target: string): void {
    try {
      unmount(target, { detach: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EINVAL" && (e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }

  async removeRootfs(key: string): Promise<void> {
    try {
      await this.snapshots.remove(key);
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
    }
  }

  /**
   * Stores an uncompressed layer tar: in the content store (its digest is its diff_id) and unpacked
   * as a committed snapshot on the parent chain.
   */
  private async storeLayer(body: Readable, parentChain?: string): Promise<{ diffId: string; size: number }> {
    const tmpDir = join(this.root, "tmp");
    mkdirSync(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `layer-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tar`);
    try {
      const hash = createHash("sha256");
      body.on("data", (d: Buffer) => hash.update(d));
      await pipeline(body, createWriteStream(tmp));
      const diffId = `sha256:${hash.digest("hex")}`;
      const size = (await stat(tmp)).size;
      await this.content.writeStream(createReadStream(tmp), { digest: diffId, size });
      await unpackLayer(this.snapshots, parentChain, createReadStream(tmp), { diffId }).catch((e) => {
        if (!/already exists/i.test((e as Error).message)) throw e;
      });
      return { diffId, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Writes an image's config and OCI manifest and records it (with a name when given). */
  private async writeImage(config: ImageConfig, layers: { mediaType: string; digest: string; size: number }[], reference?: string): Promise<string> {
    return this.addImage(Buffer.from(JSON.stringify(config)), layers, reference ? [reference] : []);
  }

  /** Records an image from its config bytes (kept as they are: the image ID is their digest) and layers. */
  async addImage(cfgBytes: Buffer, layers: { mediaType: string; digest: string; size: number }[], references: string[]): Promise<string> {
    const cfgInfo = await this.content.writeBlob(cfgBytes);
    const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: cfgInfo.digest, size: cfgBytes.length }, layers };
    const mBytes = Buffer.from(JSON.stringify(manifest));
    const mInfo = await this.content.writeBlob(mBytes);
    const desc = { mediaType: OCI_MANIFEST, digest: mInfo.digest, size: mBytes.length };
    await this.images.put({ id: cfgInfo.digest, target: desc, manifest: desc }, references.map((r) => parseReference(r)));
    return cfgInfo.digest;
  }

  /**
   * A layer from an archive (docker load): stored as it is (gzip or not) under its digest, and
   * unpacked on its parent chain with its diff_id checked.
   */
  async loadLayer(src: Readable, parentDiffIds: string[], diffId: string, blob: { digest: string; size: number }): Promise<{ mediaType: string; digest: string; size: number }> {
    const head = await peek(src);
    await this.content.writeStream(head.stream, { digest: blob.digest as `sha256:${string}`, size: blob.size });
    const body = await this.content.readStream(blob.digest as `sha256:${string}`);
    // applyLayer inflates gzip and zstd by their magic bytes.
    await unpackLayer(this.snapshots, parentDiffIds.length ? chainId(parentDiffIds) : undefined, body, { diffId }).catch((e) => {
      if (!/already exists/i.test((e as Error).message)) throw e;
    });
    return { mediaType: head.gzip ? `${LAYER_TAR}+gzip` : head.zstd ? `${LAYER_TAR}+zstd` : LAYER_TAR, digest: blob.digest, size: blob.size };
  }

  /** docker import: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image. */
  async importRootfs(src: Readable, opts: { reference?: string; config?: Record<string, unknown>; message?: string; source?: string; platform?: string } = {}): Promise<string> {
    // import --platform: the image says it is of that platform (its files are whatever the tar holds).
    const p = opts.platform ? parsePlatform(opts.platform) : defaultPlatform();
    const head = await peek(src);
    const { diffId, size } = await this.storeLayer(head.gzip ? head.stream.pipe(gunzip()) : head.zstd ? head.stream.pipe(new ZstdDecoder()) : head.stream);
    const created = new Date().toISOString();
    const config: ImageConfig = {
      created, architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}),
      config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], ...(opts.config ?? {}) },
      rootfs: { type: "layers", diff_ids: [diffId] },
      // As dockerd: no command made this layer; the comment says where it came from (or -m's message).
      history: [{ created, comment: opts.message || `Imported from ${opts.source ?? "-"}` }],
    };
    return this.writeImage(config, [{ mediaType: LAYER_TAR, digest: diffId, size }], opts.reference);
  }

  /**
   * docker commit: a layer made from a container's changes on top of its image, with the
   * container's config. The new image shares every layer of the old one.
   */
  async commitLayer(imageId: string, layer: Readable, opts: { reference?: string; config: Record<string, unknown>; comment?: string; author?: string; createdBy?: string; containerId?: string }): Promise<string> {
    const parent = await this.config(imageId);
    const img = await this.images.get(imageId);
    const parentManifest = JSON.parse((await this.content.readBlob(img.manifest.digest)).toString("utf8")) as { layers: { mediaType: string; digest: string; size: number }[] };
    const { diffId, size } = await this.storeLayer(layer, parent.rootfs.diff_ids.length ? chainId(parent.rootfs.diff_ids) : undefined);
    const created = new Date().toISOString();
    const config = {
      ...parent, created, config: opts.config,
      ...(opts.containerId ? { container: opts.containerId } : {}),
      ...(opts.author ? { author: opts.author } : {}),
      rootfs: { type: "layers" as const, diff_ids: [...parent.rootfs.diff_ids, diffId] },
      history: [...(parent.history ?? []), { created, created_by: opts.createdBy ?? "", ...(opts.comment ? { comment: opts.comment } : {}), ...(opts.author ? { author: opts.author } : {}) }],
    } as ImageConfig;
    return this.writeImage(config, [...parentManifest.layers, { mediaType: LAYER_TAR, digest: diffId, size }], opts.reference);
  }

  /** What an image's last step added: its top layer's size, or 0 when that step made no layer. */
  async ownSize(imageId: string): Promise<{ size: number; createdBy: string; created: string }> {
    const cfg = await this.config(imageId);
    const last = cfg.history?.at(-1);
    const base = { createdBy: last?.created_by ?? "", created: cfg.created ?? "" };
    if (!last || last.empty_layer || !cfg.rootfs.diff_ids.length) return { size: 0, ...base };
    const img = await this.images.get(imageId);
    const manifest = JSON.parse((await this.content.readBlob(img.manifest.digest)).toString("utf8")) as { layers: { size: number }[] };
    return { size: manifest.layers.at(-1)?.size ?? 0, ...base };
  }

  /**
   * A new image on the same layers with another config: what a build's config-only step makes
   * (a history entry with empty_layer, as docker's).
   */
  async amend(imageId: string, config: Record<string, unknown>, createdBy: string, author?: string): Promise<string> {
    const parent = await this.config(imageId);
    const img = await this.images.get(imageId);
    const parentManifest = JSON.parse((await this.content.readBlob(img.manifest.digest)).toString("utf8")) as { layers: { mediaType: string; digest: string; size: number }[] };
    const created = new Date().toISOString();
    const next = {
      ...parent, created, config,
      ...(author ? { author } : {}),
      history: [...(parent.history ?? []), { created, created_by: createdBy, empty_layer: true }],
    } as ImageConfig;
    return this.writeImage(next, parentManifest.layers);
  }

  /**
   * After images are deleted: blobs no image reaches are removed from the content store, and
   * unpacked layers no image's chain needs are removed from the snapshotter (a layer under a
   * container's writable layer is kept: the snapshotter refuses to remove a parent).
   */
  async collect(): Promise<{ bytesFreed: number }> {
    const gc = await this.content.gc(await this.images.roots(), { graceMs: 0 });
    const needed = new Set<string>();
    for (const img of await this.images.list()) {
      const ids = (await this.config(img.id)).rootfs.diff_ids;
      for (let i = 1; i <= ids.length; i++) needed.add(chainId(ids.slice(0, i)));
    }
    // Children before parents: repeat while something could be removed.
    for (let pass = 0; pass < 64; pass++) {
      const unused: string[] = [];
      await this.snapshots.walk((info) => { if (info.kind === "committed" && !needed.has(info.name)) unused.push(info.name); });
      let removed = 0;
      for (const name of unused) await this.snapshots.remove(name).then(() => removed++, () => {});
      if (removed === 0) break;
    }
    return { bytesFreed: gc.bytesFreed };
  }

  /**
   * A registry client. Credentials a client sent (docker's X-Registry-Auth) are used as they are
   * and never stored; without them, the daemon's own docker config.json is read.
   */
  private registry(auth?: Credentials): ReturnType<typeof createRegistryClient> {
    const credentials: CredentialStore | undefined = auth ? { get: async () => auth, store: async () => {}, erase: async () => false } : undefined;
    return createRegistryClient({ insecureRegistries: this.insecure, credentials });
  }

  /** The tags a registry holds for a repository (`pull -a`). */
  async remoteTags(name: string, auth?: Credentials): Promise<string[]> {
    const registry = this.registry(auth);
    try {
      return await registry.listTags(parseReference(name, { defaultTag: false }));
    } finally {
      registry.close();
    }
  }

  /** docker login's check: the registry accepts these credentials (nothing is stored here). */
  async checkLogin(server: string, auth: Credentials): Promise<void> {
    const registry = this.registry(auth);
    try {
      await registry.login(server.replace(/^https?:\/\//, "").replace(/\/.*$/, ""), auth);
    } finally {
      registry.close();
    }
  }

  /** Pulls from a registry and unpacks each layer while later ones download: the image ID and the repo digest (what the tag pointed at). */
  async pull(ref: string, opts: { onProgress?: (e: ProgressEvent) => void; signal?: AbortSignal; auth?: Credentials; platform?: string } = {}): Promise<{ id: string; digest: string }> {
    const registry = this.registry(opts.auth);
    try {
      let parent: string | undefined;
      // With overlay, every layer unpacks on a worker while it downloads (following the file the
      // download writes: snapshot/follow.ts) and commits on its parent once the layer below has
      // (unpackLayerFile; pull.ts says when: info.below). A download that fails or starts over
      // abandons that; the layer then unpacks from the verified blob, if there is one.
      const arriving = this.snapshots.parentFree ? async (i: number, digest: string, blob: ArrivingBlob, info: { size: number; expectedDiffId: string; chainId: string; parentChainId?: string; below?: Promise<unknown> }) => {
        const below = (info.below ?? Promise.resolve()).catch(() => { throw new FailedPrecondition(`layer ${i - 1} of the image failed to unpack`); });
        const unpack = (file: string | FollowedFile) => unpackLayerFile(this.snapshots, file, {
          parent: info.parentChainId, chainId: info.chainId, diffId: info.expectedDiffId, parentReady: below,
        });
        const f = follow(blob, info.size);
        if (f) {
          try {
            return (await unpack(f.file)).diffId;
          } catch (e) {
            // Bytes that fail to unpack may be a bad download: its error is the one to report.
            if (!(e instanceof FollowAbandoned)) { await blob.downloaded; throw e; }
          } finally {
            f.close();
          }
        }
        await blob.downloaded;
        return (await unpack(await this.content.blobPath(digest))).diffId;
      } : undefined;
      const r = await pullImage({ registry, content: this.content, images: this.images }, parseReference(ref), {
        signal: opts.signal, onProgress: opts.onProgress, platform: opts.platform,
        ...(arriving ? { applyArriving: arriving } : {}),
        applyLayer: async (_i: number, _digest: string, _mt: string, stream: Readable, info: { expectedDiffId: string; chainId: string }) => {
          const u = await unpackLayer(this.snapshots, parent, stream, { diffId: info.expectedDiffId }).catch(async (e) => {
            if (/already exists/i.test((e as Error).message)) return { chainId: info.chainId, diffId: info.expectedDiffId };
            throw e;
          });
          parent = u.chainId;
          return u.diffId;
        },
      });
      return { id: r.imageId, digest: r.target.digest };
    } finally {
      registry.close();
    }
  }

  /** Pushes a tagged image to its registry; returns the manifest digest. */
  async push(ref: string, opts: { onProgress?: (e: ProgressEvent) => void; signal?: AbortSignal; auth?: Credentials } = {}): Promise<{ digest: string; size: number }> {
    const registry = this.registry(opts.auth);
    try {
      const r = await pushImage({ registry, content: this.content, images: this.images }, ref, { signal: opts.signal, onProgress: opts.onProgress });
      return { digest: r.digest, size: r.size };
    } finally {
      registry.close();
    }
  }
}

/**
 * The file a layer's download writes, opened for a worker to follow (snapshot/follow.ts) and fed
 * the download's progress; undefined when there is no such file (the blob was here, or is
 * committed already: unpack that).
 */
function follow(blob: ArrivingBlob, size: number): { file: FollowedFile; close: () => void } | undefined {
  if (blob.file === undefined) return undefined;
  let fd: number;
  try { fd = openSync(blob.file, "r"); } catch { return undefined; }
  const file = new FollowedFile(fd);
  const unwatch = blob.watch((n) => file.grew(n));
  blob.downloaded.then(() => file.complete(size), () => file.abandon());
  return { file, close: () => { unwatch(); closeSync(fd); } };
}

async function peek(src: Readable): Promise<{ gzip: boolean; zstd: boolean; stream: Readable }> {
  const { PassThrough } = await import("node:stream");
  const out = new PassThrough();
  const first = await new Promise<Buffer>((resolve, reject) => {
    const onData = (d: Buffer): void => { src.off("error", reject); src.pause(); src.off("data", onData); resolve(d); };
    src.on("data", onData);
    src.once("error", reject);
    src.once("end", () => resolve(Buffer.alloc(0)));
  });
  out.write(first);
  src.pipe(out);
  src.resume();
  return { gzip: first[0] === 0x1f && first[1] === 0x8b, zstd: isZstd(first), stream: out };
}
