/**
 * docker save / docker load. `save` writes what docker 25+ writes: an OCI image layout (oci-layout,
 * index.json, blobs/sha256/…) that also carries docker's manifest.json, so both `docker load` and
 * OCI tools read it. `load` reads that, and docker's older layout (<id>.json, <id>/layer.tar): only
 * regular files with the expected names are taken from the archive, into a private directory.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InvalidArgument } from "../errdefs.js";
import { formatReference, parseReference, type ImageConfig } from "../image/index.js";
import { readTar, writeTar, type TarWriteEntry } from "../snapshot/index.js";
import type { EngineImages } from "./images.js";
import { gunzip } from "../gunzip.js";

interface DockerManifestEntry { Config: string; RepoTags: string[] | null; Layers: string[] }

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/** The tar stream of `docker save` for the given images (names or IDs). */
export async function* saveImages(images: EngineImages, refs: string[]): AsyncGenerator<Buffer> {
  const blobs = new Map<string, number>(); // digest → size
  const index: Record<string, unknown>[] = [];
  const manifestJson: DockerManifestEntry[] = [];
  for (const ref of refs) {
    const img = await images.images.get(ref);
    const manifest = JSON.parse((await images.content.readBlob(img.manifest.digest)).toString("utf8")) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
    const tags = /^(sha256:)?[0-9a-f]{12,64}$/.test(ref) ? img.names.filter((n) => !n.includes("@")) : [formatReference(parseReference(ref))];
    blobs.set(img.manifest.digest, img.manifest.size);
    blobs.set(manifest.config.digest, manifest.config.size);
    for (const l of manifest.layers) blobs.set(l.digest, l.size);
    for (const t of tags.length ? tags : [undefined]) {
      index.push({ ...img.manifest, ...(t ? { annotations: { "io.containerd.image.name": t, "org.opencontainers.image.ref.name": parseReference(t).tag ?? "latest" } } : {}) });
    }
    manifestJson.push({
      Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
      RepoTags: tags.length ? tags.map((t) => familiar(t)) : null,
      Layers: manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
    });
  }
  async function* entries(): AsyncGenerator<TarWriteEntry> {
    const now = { sec: Math.floor(Date.now() / 1000), nsec: 0 };
    const file = (name: string, data: string): TarWriteEntry => ({ header: { name, type: "file", mode: 0o644, size: Buffer.byteLength(data), mtime: now }, body: Buffer.from(data) });
    yield { header: { name: "blobs", type: "dir", mode: 0o755, mtime: now } };
    yield { header: { name: "blobs/sha256", type: "dir", mode: 0o755, mtime: now } };
    for (const [digest, size] of blobs) {
      yield { header: { name: `blobs/sha256/${digest.slice(7)}`, type: "file", mode: 0o644, size, mtime: now }, body: (await images.content.readStream(digest as `sha256:${string}`)) as AsyncIterable<Buffer> };
    }
    yield file("index.json", JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: index }));
    yield file("manifest.json", JSON.stringify(manifestJson));
    yield file("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }
  yield* writeTar(entries());
}

/** docker's short names in manifest.json RepoTags ("busybox:latest", not docker.io/library/…). */
function familiar(ref: string): string {
  return ref.replace(/^docker\.io\/library\//, "").replace(/^docker\.io\//, "");
}

const WANTED = /^(manifest\.json|repositories|index\.json|oci-layout|blobs\/sha256\/[0-9a-f]{64}|[0-9a-f]{64}\.json|[0-9a-f]{64}\/layer\.tar)$/;

/** Loads a `docker save` archive (plain or gzip); returns the names (or IDs) loaded. */
export async function loadImages(images: EngineImages, src: Readable): Promise<string[]> {
  mkdirSync(join(images.root, "tmp"), { recursive: true });
  const dir = await mkdtemp(join(images.root, "tmp", "load-"));
  try {
    const first = await new Promise<Buffer>((resolve, reject) => {
      src.once("readable", () => { const b = src.read(2) as Buffer | null; if (b) src.unshift(b); resolve(b ?? Buffer.alloc(0)); });
      src.once("error", reject);
    });
    const input = first[0] === 0x1f && first[1] === 0x8b ? src.pipe(gunzip()) : src;
    const files = new Set<string>();
    for await (const e of readTar(input as AsyncIterable<Buffer>)) {
      const name = e.header.name.replace(/^\.\//, "").replace(/\/$/, "");
      if (e.header.type !== "file" || !WANTED.test(name)) { for await (const _ of e.body) { /* skip */ } continue; }
      const out = join(dir, name.replace(/\//g, "_"));
      await pipeline(Readable.from(e.body), createWriteStream(out));
      files.add(name);
    }
    const path = (name: string): string => join(dir, name.replace(/\//g, "_"));
    if (!files.has("manifest.json")) throw new InvalidArgument("invalid archive: no manifest.json (is this a `docker save` archive?)");
    const entries = JSON.parse(await readFile(path("manifest.json"), "utf8")) as DockerManifestEntry[];
    const loaded: string[] = [];
    for (const m of entries) {
      if (!files.has(m.Config)) throw new InvalidArgument(`invalid archive: ${m.Config} is missing`);
      const configBytes = await readFile(path(m.Config));
      const config = JSON.parse(configBytes.toString("utf8")) as ImageConfig;
      if (config.rootfs.diff_ids.length !== m.Layers.length) throw new InvalidArgument("invalid archive: layers and rootfs.diff_ids differ");
      const layers: { mediaType: string; digest: string; size: number }[] = [];
      for (const [i, l] of m.Layers.entries()) {
        if (!files.has(l)) throw new InvalidArgument(`invalid archive: layer ${l} is missing`);
        layers.push(await images.loadLayer(createReadStream(path(l)), config.rootfs.diff_ids.slice(0, i), config.rootfs.diff_ids[i]!, await fileDigest(path(l))));
      }
      const id = await images.addImage(configBytes, layers, m.RepoTags ?? []);
      loaded.push(...(m.RepoTags?.length ? m.RepoTags.map((t) => `Loaded image: ${t}`) : [`Loaded image ID: ${id}`]));
    }
    return loaded;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function fileDigest(p: string): Promise<{ digest: string; size: number }> {
  const h = createHash("sha256");
  for await (const c of createReadStream(p)) h.update(c as Buffer);
  return { digest: `sha256:${h.digest("hex")}`, size: (await stat(p)).size };
}
