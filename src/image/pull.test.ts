import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FailedPrecondition, NotFound, NotImplemented } from "../errdefs.js";
import { createContentStore, type ContentStore } from "./content-store.js";
import { uncompressedLayer } from "./diff-id.js";
import { DockerConfigCredentials } from "./docker-config.js";
import { createImageStore, type ImageStore } from "./image-store.js";
import { MediaType } from "./media-types.js";
import { pullImage } from "./pull.js";
import { createRegistryClient, type RegistryClient } from "./registry-client.js";
import { buildImage, type BuiltImage } from "./test-fixtures.js";
import { serveBlob, startFakeRegistry, type FakeRegistryOptions } from "./fake-registry.js";

type T = { after: (fn: () => Promise<void> | void) => void };

async function tempDir(t: T): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "berth-pull-"));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** A source image (in its own store) and the maps a fake registry serves it from. */
async function sourceImage(t: T, opts: { bigLayer?: number } = {}): Promise<{ img: BuiltImage; maps: Pick<FakeRegistryOptions, "manifests" | "blobs"> }> {
  const src = await createContentStore(join(await tempDir(t), "src"));
  const img = await buildImage(src, { bigLayer: opts.bigLayer ?? 0 });
  const blobs = new Map<string, Buffer>();
  for (const d of [img.config, ...img.layers]) blobs.set(d.digest, await src.readBlob(d.digest));
  const manifests = new Map([["x:1", { bytes: img.manifestBytes, mediaType: img.manifest.mediaType }]]);
  return { img, maps: { manifests, blobs } };
}

async function client(t: T, o: { root?: string; creds?: [string, string, string] } = {}): Promise<{ content: ContentStore; images: ImageStore; registry: RegistryClient }> {
  const root = o.root ?? (await tempDir(t));
  const content = await createContentStore(join(root, "content"));
  const images = await createImageStore(join(root, "images"), content);
  const creds = new DockerConfigCredentials(join(root, "config.json"));
  if (o.creds) await creds.store(o.creds[0], { username: o.creds[1], password: o.creds[2] });
  const registry = createRegistryClient({ credentials: creds, backoffMs: 10 });
  t.after(() => registry.close());
  return { content, images, registry };
}

async function allBlobsVerified(content: ContentStore): Promise<void> {
  await content.walk(async (info) => {
    const h = createHash("sha256").update(await content.readBlob(info.digest, 1 << 30)).digest("hex");
    assert.equal(`sha256:${h}`, info.digest, "a committed blob must match its name");
  });
}

const applyGzip = async (_i: number, _d: string, mediaType: string, stream: import("node:stream").Readable): Promise<string> =>
  uncompressedLayer(mediaType, stream).diffId();

test("a registry serving tampered blob bytes: digest mismatch, nothing committed, no image recorded", async (t) => {
  const { img, maps } = await sourceImage(t);
  const fake = await startFakeRegistry({ ...maps, tamper: new Set([img.layers[1]!.digest]) });
  t.after(() => fake.close());
  const c = await client(t);
  await assert.rejects(pullImage(c, `${fake.host}/x:1`), (e: unknown) =>
    e instanceof FailedPrecondition && e.message.includes(`digest mismatch: expected ${img.layers[1]!.digest}`));
  assert.equal(await c.content.has(img.layers[1]!.digest), false);
  assert.deepEqual(await c.content.listIngests(), []);
  assert.deepEqual(await c.images.list(), []);
  await allBlobsVerified(c.content);
});

test("a pull aborted midway leaves no corrupt blob; the next pull resumes with Range and succeeds", async (t) => {
  const { img, maps } = await sourceImage(t, { bigLayer: 300_000 });
  const fake = await startFakeRegistry({ ...maps, blobDelayMs: 2 });
  t.after(() => fake.close());
  const root = await tempDir(t);
  const c = await client(t, { root });
  const big = img.layers[1]!;
  const ac = new AbortController();
  await assert.rejects(pullImage(c, `${fake.host}/x:1`, {
    signal: ac.signal, applyLayer: applyGzip,
    onProgress: (e) => { if (e.digest === big.digest && (e.current ?? 0) > 20_000) ac.abort(); },
  }), (e: unknown) => (e as Error).name === "AbortError");
  assert.equal(await c.content.has(big.digest), false);
  const partial = (await c.content.listIngests()).find((s) => s.expected === big.digest);
  assert.ok(partial && partial.offset > 0 && partial.offset < big.size, `partial ingest ${JSON.stringify(partial)}`);
  await allBlobsVerified(c.content);

  const again = await client(t, { root });
  const r = await pullImage(again, `${fake.host}/x:1`, { applyLayer: applyGzip });
  assert.deepEqual(r.diffIds, img.diffIds);
  assert.ok(fake.requests.some((q) => q.url.endsWith(big.digest) && q.headers.range === `bytes=${partial.offset}-`), "resumed with Range");
  assert.deepEqual(await again.content.listIngests(), []);
  await allBlobsVerified(again.content);
});

test("503 answers and a dropped blob connection are retried", async (t) => {
  const { img, maps } = await sourceImage(t, { bigLayer: 50_000 });
  const big = img.layers[1]!;
  const fake = await startFakeRegistry({
    ...maps,
    fail503Once: new Set(["/v2/x/manifests/1", `/v2/x/blobs/${img.config.digest}`]),
    dropBlobAfter: new Map([[big.digest, 10_240]]),
    blobDelayMs: 1, // lets the first 10 KiB reach the client before the socket is destroyed
  });
  t.after(() => fake.close());
  const c = await client(t);
  const r = await pullImage(c, `${fake.host}/x:1`, { applyLayer: applyGzip });
  assert.equal(r.imageId, img.config.digest);
  assert.equal(fake.requests.filter((q) => q.url === "/v2/x/manifests/1").length, 2);
  // The server dropped the socket after at most 10 KiB; the client resumed where its data ended.
  const resumed = fake.requests.filter((q) => q.url.endsWith(big.digest) && /^bytes=[1-9]\d*-$/.test(q.headers.range ?? ""));
  assert.equal(resumed.length, 1, `one ranged retry, saw ${JSON.stringify(fake.requests.map((q) => [q.url.slice(-8), q.headers.range]))}`);
  assert.ok(Number(/\d+/.exec(resumed[0]!.headers.range!)![0]) <= 10_240);
});

test("bearer tokens are fetched with credentials, cached per scope, and not sent along a cross-origin redirect", async (t) => {
  const { img, maps } = await sourceImage(t);
  const storageSeen: (string | undefined)[] = [];
  const storage = http.createServer((req, res) => {
    storageSeen.push(req.headers.authorization);
    const digest = /\/storage\/(sha256:[a-f0-9]{64})/.exec(req.url ?? "")?.[1] ?? "";
    const data = maps.blobs.get(digest);
    if (!data) { res.writeHead(404).end(); return; }
    serveBlob(req, res, data);
  });
  await new Promise<void>((r) => storage.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => { storage.closeAllConnections(); storage.close(() => r()); }));
  const storageOrigin = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
  const fake = await startFakeRegistry({ ...maps, bearer: { user: "bob", password: "pw" }, redirectBlobsTo: storageOrigin });
  t.after(() => fake.close());

  const anon = await client(t);
  await assert.rejects(pullImage(anon, `${fake.host}/x:1`), /incorrect username or password|authentication required/);

  const c = await client(t, { creds: [fake.host, "bob", "pw"] });
  const r = await pullImage(c, `${fake.host}/x:1`);
  assert.equal(r.manifest.digest, img.manifest.digest);
  assert.equal(fake.tokenRequests.filter((u) => u.searchParams.get("account") === "bob").length, 1, "one token for repository:x:pull");
  const tok = fake.tokenRequests.at(-1)!;
  assert.equal(tok.searchParams.get("service"), "fake-registry");
  assert.deepEqual(tok.searchParams.getAll("scope"), ["repository:x:pull"]);
  assert.equal(storageSeen.length, 3);
  assert.deepEqual(storageSeen, [undefined, undefined, undefined], "Authorization must not follow a redirect to another origin");
});

test("an index is resolved by platform; no match is NotFound; schema 1 is refused", async (t) => {
  const { img, maps } = await sourceImage(t);
  const src = await createContentStore(join(await tempDir(t), "arm"));
  const arm = await buildImage(src, { arch: "arm64", seed: "arm" });
  for (const d of [arm.config, ...arm.layers]) maps.blobs.set(d.digest, await src.readBlob(d.digest));
  maps.manifests.set(`x@${img.manifest.digest}`, { bytes: img.manifestBytes, mediaType: img.manifest.mediaType });
  maps.manifests.set(`x@${arm.manifest.digest}`, { bytes: arm.manifestBytes, mediaType: arm.manifest.mediaType });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [
    { ...img.manifest, platform: { os: "linux", architecture: "amd64" } },
    { ...arm.manifest, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    { mediaType: MediaType.OciManifest, digest: `sha256:${"0".repeat(64)}`, size: 10, platform: { os: "unknown", architecture: "unknown" } },
  ] }));
  maps.manifests.set("x:multi", { bytes: index, mediaType: MediaType.DockerManifestList });
  maps.manifests.set("x:old", { bytes: Buffer.from(JSON.stringify({ schemaVersion: 1, name: "x", tag: "old", fsLayers: [] })), mediaType: MediaType.DockerSchema1Signed });
  const fake = await startFakeRegistry(maps);
  t.after(() => fake.close());
  const c = await client(t);

  const amd = await pullImage(c, `${fake.host}/x:multi`);
  assert.equal(amd.manifest.digest, img.manifest.digest);
  assert.equal(amd.target.mediaType, MediaType.DockerManifestList);
  const armPulled = await pullImage(c, `${fake.host}/x:multi`, { platform: "linux/arm64" });
  assert.equal(armPulled.imageId, arm.config.digest);
  const img2 = await c.images.get(`${fake.host}/x:multi`);
  assert.equal(img2.id, arm.config.digest, "the tag moved to the last pulled platform");
  await assert.rejects(pullImage(c, `${fake.host}/x:multi`, { platform: "linux/s390x" }),
    (e: unknown) => e instanceof NotFound && /no matching manifest for linux\/s390x in the manifest list entries \(has: linux\/amd64, linux\/arm64, unknown\/unknown\)/.test(e.message));
  await assert.rejects(pullImage(c, `${fake.host}/x:old`), (e: unknown) => e instanceof NotImplemented && /schema 1 is not supported/.test(e.message));
  await assert.rejects(pullImage(c, `${fake.host}/x:1`, { platform: "linux/arm64" }), /image is linux\/amd64, not the requested linux\/arm64/);
});

test("an unpacker returning the wrong diff ID fails the pull", async (t) => {
  const { maps } = await sourceImage(t);
  const fake = await startFakeRegistry(maps);
  t.after(() => fake.close());
  const c = await client(t);
  await assert.rejects(pullImage(c, `${fake.host}/x:1`, {
    applyLayer: async (_i, digest, _m, stream) => { stream.resume(); return digest; },
  }), (e: unknown) => e instanceof FailedPrecondition && /layer 0 .*diff_id mismatch/.test(e.message));
});

test("applyArriving: a layer is handed the file its download writes, with its progress, before the download ends; a tampered layer fails the pull", async (t) => {
  const { img, maps } = await sourceImage(t, { bigLayer: 200_000 });
  const big = img.layers[1]!;
  const fake = await startFakeRegistry({ ...maps, blobDelayMs: 1 });
  t.after(() => fake.close());
  const c = await client(t);
  const seen = new Map<number, { file?: string; downloadedAtCall: boolean; grew: number[] }>();
  const r = await pullImage(c, `${fake.host}/x:1`, {
    applyArriving: async (i, digest, blob, info) => {
      let downloaded = false;
      void blob.downloaded.then(() => { downloaded = true; });
      await Promise.resolve();
      const s = { ...(blob.file !== undefined ? { file: blob.file } : {}), downloadedAtCall: downloaded, grew: [] as number[] };
      seen.set(i, s);
      const stop = blob.watch((n) => s.grew.push(n));
      await blob.downloaded;
      stop();
      if (i > 0) await info.below;
      return uncompressedLayer(MediaType.DockerLayerGzip, await c.content.readStream(digest)).diffId();
    },
  });
  assert.deepEqual(r.diffIds, img.diffIds);
  const s = seen.get(1)!;
  assert.equal(s.downloadedAtCall, false, "called while the big layer still downloads");
  assert.match(s.file ?? "", /ingest/, "with the ingest's file");
  assert.ok(s.grew.length > 2 && s.grew.at(-1) === big.size && s.grew.every((n, k) => k === 0 || n >= s.grew[k - 1]!), `progress grows to the size: ${s.grew.length} reports`);
  await allBlobsVerified(c.content);

  const bad = await startFakeRegistry({ ...maps, tamper: new Set([big.digest]) });
  t.after(() => bad.close());
  const c2 = await client(t);
  let failedDownload: unknown;
  await assert.rejects(pullImage(c2, `${bad.host}/x:1`, {
    applyArriving: async (_i, _d, blob, info) => { await blob.downloaded.catch((e) => { failedDownload = e; throw e; }); return info.expectedDiffId; },
  }), (e: unknown) => e instanceof FailedPrecondition && e.message.includes(`digest mismatch: expected ${big.digest}`));
  assert.ok(failedDownload instanceof FailedPrecondition, "blob.downloaded rejects with the download's error");
  assert.deepEqual(await c2.images.list(), []);
});
