import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotFound, PermissionDenied, Unavailable } from "../errdefs.js";
import { createContentStore, type ContentStore } from "./content-store.js";
import { uncompressedLayer } from "./diff-id.js";
import { DockerConfigCredentials } from "./docker-config.js";
import { createImageStore, type ImageStore } from "./image-store.js";
import { MediaType } from "./media-types.js";
import type { ProgressEvent } from "./progress.js";
import { pullImage } from "./pull.js";
import { pushImage } from "./push.js";
import { parseReference } from "./reference.js";
import { createRegistryClient, type RegistryClient } from "./registry-client.js";
import { buildImage, freePort, startRegistry } from "./test-fixtures.js";

interface Env { root: string; content: ContentStore; images: ImageStore; registry: RegistryClient; configPath: string }

async function env(t: { after: (fn: () => Promise<void> | void) => void }): Promise<Env> {
  const root = await mkdtemp(join(tmpdir(), "berth-image-"));
  const content = await createContentStore(join(root, "content"));
  const images = await createImageStore(join(root, "images"), content);
  const configPath = join(root, "docker", "config.json");
  const registry = createRegistryClient({ credentials: new DockerConfigCredentials(configPath), backoffMs: 20 });
  t.after(async () => { registry.close(); await rm(root, { recursive: true, force: true }); });
  return { root, content, images, registry, configPath };
}

function skopeoInspect(ref: string, creds?: string): Record<string, unknown> {
  const args = ["inspect", "--tls-verify=false", ...(creds ? ["--creds", creds] : []), `docker://${ref}`];
  return JSON.parse(execFileSync("skopeo", args, { encoding: "utf8", timeout: 30_000 })) as Record<string, unknown>;
}

test("push and pull against docker-registry without auth", async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const a = await env(t);
  const img = await buildImage(a.content);
  const name = `${reg.host}/berth/x:v1`;
  await a.images.put({ id: img.config.digest, target: img.manifest, manifest: img.manifest }, [parseReference(name)]);

  await t.test("ping reports plain http and no auth", async () => {
    const p = await a.registry.ping(reg.host);
    assert.deepEqual(p, { url: `http://${reg.host}`, authRequired: false });
  });

  await t.test("push uploads config + 2 layers and the manifest; skopeo reads it back", async () => {
    const events: ProgressEvent[] = [];
    const r = await pushImage(a, name, { onProgress: (e) => events.push(e) });
    assert.equal(r.digest, img.manifest.digest);
    assert.equal(events.filter((e) => e.status === "Pushed").length, 3);
    assert.ok(events.some((e) => e.status === "Pushing" && e.current === e.total));
    const info = skopeoInspect(`${reg.host}/berth/x:v1`);
    assert.equal(info.Digest, img.manifest.digest);
    assert.deepEqual(info.Layers, img.layers.map((l) => l.digest));
    assert.equal(info.Architecture, "amd64");
    const again = await pushImage(a, name, { onProgress: (e) => events.push(e) });
    assert.equal(again.digest, r.digest);
    assert.equal(events.filter((e) => e.status === "Layer already exists").length, 3);
    assert.deepEqual((await a.images.get(name)).digestRefs, [`${reg.host}/berth/x@${r.digest}`]);
  });

  await t.test("a second repository mounts the blobs; a chunked push uploads in PATCHes", async () => {
    await a.images.tag(name, `${reg.host}/berth/y:v1`);
    const events: ProgressEvent[] = [];
    await pushImage(a, `${reg.host}/berth/y:v1`, { onProgress: (e) => events.push(e) });
    assert.equal(events.filter((e) => e.status.startsWith("Mounted from berth/")).length, 3);
    const big = await buildImage(a.content, { seed: "chunked", bigLayer: 200_000 });
    const zname = `${reg.host}/berth/z:chunked`;
    await a.images.put({ id: big.config.digest, target: big.manifest, manifest: big.manifest }, [parseReference(zname)]);
    const ev2: ProgressEvent[] = [];
    await pushImage(a, zname, { chunkSize: 16 * 1024, onProgress: (e) => ev2.push(e) });
    const bigLayer = big.layers[1]!;
    assert.ok(bigLayer.size > 3 * 16 * 1024, `layer of ${bigLayer.size} bytes should need several chunks`);
    const chunks = ev2.filter((e) => e.digest === bigLayer.digest && e.status === "Pushing");
    assert.ok(chunks.length >= 3, `saw ${chunks.length} chunk events`);
    assert.equal(skopeoInspect(zname).Digest, big.manifest.digest);
  });

  await t.test("pull into a fresh store: same digests, layers unpacked in order with verified diff IDs", async (tt) => {
    const b = await env(tt);
    const applied: number[] = [];
    const r = await pullImage(b, name, {
      applyLayer: async (i, digest, mediaType, stream) => {
        applied.push(i);
        assert.equal(mediaType, MediaType.DockerLayerGzip);
        assert.equal(digest, img.layers[i]!.digest);
        const u = uncompressedLayer(mediaType, stream);
        return u.diffId();
      },
    });
    assert.deepEqual(applied, [0, 1]);
    assert.equal(r.manifest.digest, img.manifest.digest);
    assert.equal(r.imageId, img.config.digest);
    assert.deepEqual(r.diffIds, img.diffIds);
    for (const l of img.layers) assert.equal((await b.content.info(l.digest)).size, l.size);
    assert.deepEqual(await b.content.readBlob(img.manifest.digest), img.manifestBytes);
  });

  await t.test("pull records the image by tag and digest", async (tt) => {
    const b = await env(tt);
    const r = await pullImage({ registry: b.registry, content: b.content }, name);
    assert.equal(r.image, undefined, "no image store given, nothing recorded");
    const withImages = await pullImage(b, name);
    assert.equal(withImages.image?.id, img.config.digest);
    const insp = await b.images.inspect(name);
    assert.deepEqual(insp.RepoTags, [name]);
    assert.deepEqual(insp.RepoDigests, [`${reg.host}/berth/x@${img.manifest.digest}`]);
    assert.deepEqual(insp.RootFS, { Type: "layers", Layers: img.diffIds });
  });

  await t.test("unknown repository or tag is NotFound", async () => {
    await assert.rejects(pullImage(a, `${reg.host}/berth/nope:v1`), (e: unknown) => e instanceof NotFound && /berth\/nope/.test(e.message));
    await assert.rejects(pullImage(a, `${reg.host}/berth/x:nope`), (e: unknown) => e instanceof NotFound && /MANIFEST_UNKNOWN/.test(e.message));
  });

  await t.test("an unreachable registry is Unavailable naming the address", async () => {
    const port = await freePort();
    await assert.rejects(pullImage(a, `127.0.0.1:${port}/x:1`), (e: unknown) => e instanceof Unavailable && e.message.includes(`127.0.0.1:${port}`));
  });

  await t.test("a non-loopback registry not marked insecure is never spoken to over http", () => {
    assert.equal(a.registry.transport.allowsInsecure("registry.example.com:5000"), false);
    assert.equal(a.registry.transport.allowsInsecure("[::1]:5000"), true);
    assert.equal(a.registry.transport.allowsInsecure("localhost:5000"), true);
  });
});

test("docker-registry with htpasswd basic auth: login, wrong credentials, push, pull, logout", async (t) => {
  const reg = await startRegistry({ user: "alice", password: "s3cret" });
  t.after(() => reg.stop());
  const a = await env(t);
  const img = await buildImage(a.content, { seed: "auth", oci: true });
  const name = `${reg.host}/private/app:1`;
  await a.images.put({ id: img.config.digest, target: img.manifest, manifest: img.manifest }, [parseReference(name)]);

  await assert.rejects(pushImage(a, name), (e: unknown) => e instanceof PermissionDenied && /authentication required/.test(e.message));
  await assert.rejects(a.registry.login(reg.host, { username: "alice", password: "wrong" }),
    (e: unknown) => e instanceof PermissionDenied && /incorrect username or password/.test(e.message));
  await assert.rejects(readFile(a.configPath), "a failed login stores nothing");
  await a.registry.login(reg.host, { username: "alice", password: "s3cret" });
  const cfg = JSON.parse(await readFile(a.configPath, "utf8")) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, "base64").toString(), "alice:s3cret");

  const r = await pushImage(a, name);
  assert.equal(r.mediaType, MediaType.OciManifest);
  assert.equal(skopeoInspect(name, "alice:s3cret").Digest, img.manifest.digest);

  const b = await env(t);
  const other = createRegistryClient({ credentials: new DockerConfigCredentials(a.configPath), backoffMs: 20 });
  t.after(() => other.close());
  const pulled = await pullImage({ ...b, registry: other }, name);
  assert.equal(pulled.manifest.digest, img.manifest.digest);

  assert.equal(await a.registry.logout(reg.host), true);
  assert.equal(await a.registry.logout(reg.host), false);
  const c = await env(t);
  await assert.rejects(pullImage(c, name), PermissionDenied);
});
