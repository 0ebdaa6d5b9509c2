/**
 * The engine's image side: the content store and image store (src/image) with a snapshotter
 * (src/snapshot) for unpacked layers. Images are unpacked once per layer chain; a container's root
 * is an active snapshot on its image's top chain ID, keyed by the container's id.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { InvalidArgument, NotFound } from "../errdefs.js";
import {
  createContentStore, createImageStore, parseReference, createRegistryClient, pullImage, pushImage,
  type ContentStore, type ImageStore, type ImageConfig, type ProgressEvent,
} from "../image/index.js";
import { chainId, mountAll, openSnapshotter, unmount, unpackLayer, type Mount, type Snapshotter } from "../snapshot/index.js";

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

  private async topChain(imageId: string): Promise<string> {
    const cfg = await this.config(imageId);
    const ids = cfg.rootfs.diff_ids;
    if (ids.length === 0) throw new InvalidArgument(`image ${imageId} has no layers`);
    return chainId(ids);
  }

  async prepareRootfs(key: string, imageId: string): Promise<Mount[]> {
    return this.snapshots.prepare(key, await this.topChain(imageId));
  }

  rootfsMounts(key: string): Promise<Mount[]> {
    return this.snapshots.mounts(key);
  }

  mountRootfs(mounts: Mount[], target: string): void {
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
   * docker import: a root filesystem tarball (plain or gzip) becomes a one-layer image. The layer is
   * stored uncompressed, so its digest is its diff_id.
   */
  async importRootfs(src: Readable, opts: { reference?: string; config?: Record<string, unknown>; message?: string } = {}): Promise<string> {
    const tmpDir = join(this.root, "tmp");
    mkdirSync(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `import-${process.pid}-${Date.now()}.tar`);
    try {
      const head = await peek(src);
      const hash = createHash("sha256");
      const body = head.gzip ? head.stream.pipe(createGunzip()) : head.stream;
      body.on("data", (d: Buffer) => hash.update(d));
      await pipeline(body, createWriteStream(tmp));
      const diffId = `sha256:${hash.digest("hex")}`;
      const size = (await stat(tmp)).size;
      await this.content.writeStream(createReadStream(tmp), { digest: diffId, size });
      await unpackLayer(this.snapshots, undefined, createReadStream(tmp), { diffId }).catch((e) => {
        if (!/already exists/i.test((e as Error).message)) throw e;
      });
      const created = new Date().toISOString();
      const config: ImageConfig = {
        created, architecture: "amd64", os: "linux",
        config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], ...(opts.config ?? {}) },
        rootfs: { type: "layers", diff_ids: [diffId] },
        history: [{ created, created_by: "berth import", ...(opts.message ? { comment: opts.message } : {}) }],
      };
      const cfgBytes = Buffer.from(JSON.stringify(config));
      const cfgInfo = await this.content.writeBlob(cfgBytes);
      const manifest = {
        schemaVersion: 2, mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: cfgInfo.digest, size: cfgBytes.length },
        layers: [{ mediaType: LAYER_TAR, digest: diffId, size }],
      };
      const mBytes = Buffer.from(JSON.stringify(manifest));
      const mInfo = await this.content.writeBlob(mBytes);
      const desc = { mediaType: OCI_MANIFEST, digest: mInfo.digest, size: mBytes.length };
      await this.images.put({ id: cfgInfo.digest, target: desc, manifest: desc }, opts.reference ? [parseReference(opts.reference)] : []);
      return cfgInfo.digest;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Pulls from a registry and unpacks each layer while later ones download. */
  async pull(ref: string, opts: { onProgress?: (e: ProgressEvent) => void; signal?: AbortSignal; auth?: { username: string; password: string } } = {}): Promise<string> {
    const registry = createRegistryClient({ insecureRegistries: this.insecure });
    try {
      let parent: string | undefined;
      const r = await pullImage({ registry, content: this.content, images: this.images }, parseReference(ref), {
        signal: opts.signal, onProgress: opts.onProgress,
        applyLayer: async (_i: number, _digest: string, _mt: string, stream: Readable, info: { expectedDiffId: string; chainId: string }) => {
          const u = await unpackLayer(this.snapshots, parent, stream, { diffId: info.expectedDiffId }).catch(async (e) => {
            if (/already exists/i.test((e as Error).message)) return { chainId: info.chainId, diffId: info.expectedDiffId };
            throw e;
          });
          parent = u.chainId;
          return u.diffId;
        },
      });
      return r.imageId;
    } finally {
      registry.close();
    }
  }

  /** Pushes a tagged image to its registry; returns the manifest digest. */
  async push(ref: string, opts: { onProgress?: (e: ProgressEvent) => void; signal?: AbortSignal } = {}): Promise<{ digest: string; size: number }> {
    const registry = createRegistryClient({ insecureRegistries: this.insecure });
    try {
      const r = await pushImage({ registry, content: this.content, images: this.images }, ref, { signal: opts.signal, onProgress: opts.onProgress });
      return { digest: r.digest, size: r.size };
    } finally {
      registry.close();
    }
  }
}

async function peek(src: Readable): Promise<{ gzip: boolean; stream: Readable }> {
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
  return { gzip: first[0] === 0x1f && first[1] === 0x8b, stream: out };
}
