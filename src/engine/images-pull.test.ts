/**
 * EngineImages.pull on this host's snapshotter (overlay here: each layer unpacks while it
 * downloads, following the download's file), against a fake registry on 127.0.0.1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createContentStore } from "../image/content-store.js";
import { startFakeRegistry, type FakeRegistryOptions } from "../image/fake-registry.js";
import { buildImage, type BuiltImage } from "../image/test-fixtures.js";
import { unmount } from "../snapshot/index.js";
import { EngineImages } from "./images.js";

type T = { after: (fn: () => Promise<void> | void) => void };

async function tempDir(t: T): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "berth-engine-pull-"));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function source(t: T): Promise<{ img: BuiltImage; maps: Pick<FakeRegistryOptions, "manifests" | "blobs"> }> {
  const src = await createContentStore(join(await tempDir(t), "src"));
  const img = await buildImage(src, { bigLayer: 400_000 });
  const blobs = new Map<string, Buffer>();
  for (const d of [img.config, ...img.layers]) blobs.set(d.digest, await src.readBlob(d.digest));
  return { img, maps: { manifests: new Map([["x:1", { bytes: img.manifestBytes, mediaType: img.manifest.mediaType }]]), blobs } };
}

/** The pulled image's files, read through a mount of a fresh rootfs on it. */
async function readRootfs(t: T, e: EngineImages, id: string, path: string): Promise<string> {
  const key = `check-${Math.random().toString(36).slice(2)}`;
  const target = join(await tempDir(t), "rootfs");
  mkdirSync(target);
  e.mountRootfs(await e.prepareRootfs(key, id), target);
  try {
    return readFileSync(join(target, path), "utf8");
  } finally {
    unmount(target, { detach: true });
    await e.removeRootfs(key);
  }
}

async function snapshotKinds(e: EngineImages): Promise<string[]> {
  const kinds: string[] = [];
  await e.snapshots.walk((i) => { kinds.push(i.kind); });
  return kinds.sort();
}

test("pull: layers unpack while they download; a download that resumes, starts over, or is tampered with, leaves a right image or nothing", async (t) => {
  const { img, maps } = await source(t);
  const big = img.layers[1]!;

  const slow = await startFakeRegistry({ ...maps, blobDelayMs: 1 });
  t.after(() => slow.close());
  const e = await EngineImages.open(join(await tempDir(t), "root"));
  const r = await e.pull(`${slow.host}/x:1`);
  assert.equal(r.id, img.config.digest);
  assert.equal(await readRootfs(t, e, r.id, "etc/hello.txt"), "hello one\n");
  assert.ok((await readRootfs(t, e, r.id, "srv/data.txt")).startsWith("one\n"));
  assert.deepEqual(await snapshotKinds(e), ["committed", "committed"]);

  // The big layer's connection drops midway and the download resumes with Range: the following
  // goes on across the resume.
  const resume = await startFakeRegistry({ ...maps, blobDelayMs: 1, dropBlobAfter: new Map([[big.digest, 100_000]]) });
  t.after(() => resume.close());
  const e1 = await EngineImages.open(join(await tempDir(t), "root"));
  const r1 = await e1.pull(`${resume.host}/x:1`);
  assert.equal(r1.id, img.config.digest);
  assert.ok(resume.requests.some((q) => q.url.endsWith(big.digest) && q.headers.range?.startsWith("bytes=")), "resumed with Range");
  assert.ok((await readRootfs(t, e1, r1.id, "srv/data.txt")).startsWith("one\n"));
  assert.deepEqual(await snapshotKinds(e1), ["committed", "committed"]);

  // The big layer's connection drops midway and the server ignores Range: the download starts
  // over from byte 0, so what was unpacked from the first bytes is dropped and the layer is
  // unpacked again from the verified blob.
  const restart = await startFakeRegistry({ ...maps, blobDelayMs: 1, ignoreRange: true, dropBlobAfter: new Map([[big.digest, 100_000]]) });
  t.after(() => restart.close());
  const e2 = await EngineImages.open(join(await tempDir(t), "root"));
  const r2 = await e2.pull(`${restart.host}/x:1`);
  assert.equal(r2.id, img.config.digest);
  assert.ok(restart.requests.filter((q) => q.url.endsWith(big.digest) && q.method === "GET").length >= 2, "the big layer was fetched again");
  assert.ok((await readRootfs(t, e2, r2.id, "srv/data.txt")).startsWith("one\n"));
  assert.deepEqual(await snapshotKinds(e2), ["committed", "committed"]);

  const bad = await startFakeRegistry({ ...maps, blobDelayMs: 1, tamper: new Set([big.digest]) });
  t.after(() => bad.close());
  const e3 = await EngineImages.open(join(await tempDir(t), "root"));
  await assert.rejects(e3.pull(`${bad.host}/x:1`), /digest mismatch/);
  assert.deepEqual(await e3.images.list(), []);
  assert.equal(await e3.content.has(big.digest), false);
  assert.deepEqual((await snapshotKinds(e3)).filter((k) => k !== "committed"), [], "no snapshot of the tampered layer is left");
  assert.ok((await snapshotKinds(e3)).length <= 1, "at most the good base layer is kept");
});

test("pull: two pulls of one image at once download each layer once and share its unpacked snapshot", async (t) => {
  const { img, maps } = await source(t);
  const fake = await startFakeRegistry({ ...maps, blobDelayMs: 1 });
  t.after(() => fake.close());
  const e = await EngineImages.open(join(await tempDir(t), "root"));
  const [a, b] = await Promise.all([e.pull(`${fake.host}/x:1`), e.pull(`${fake.host}/x:1`)]);
  assert.equal(a.id, img.config.digest);
  assert.equal(b.id, img.config.digest);
  for (const l of img.layers) {
    assert.equal(fake.requests.filter((q) => q.method === "GET" && q.url.endsWith(l.digest)).length, 1, `layer ${l.digest} fetched once`);
  }
  assert.deepEqual(await snapshotKinds(e), ["committed", "committed"]);
  assert.ok((await readRootfs(t, e, a.id, "srv/data.txt")).startsWith("one\n"));
});
