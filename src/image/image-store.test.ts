import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Conflict, InvalidArgument, NotFound } from "../errdefs.js";
import { createContentStore } from "./content-store.js";
import { createImageStore } from "./image-store.js";
import { parseReference } from "./reference.js";
import { buildImage } from "./test-fixtures.js";

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(join(tmpdir(), "berth-images-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const content = await createContentStore(join(root, "content"));
  const images = await createImageStore(join(root, "images"), content);
  const one = await buildImage(content, { seed: "one" });
  const two = await buildImage(content, { seed: "two" });
  return { root, content, images, one, two };
}

test("get by name, full ID, short ID prefix and digest reference; list; atomic JSON on disk", async (t) => {
  const { root, images, one } = await setup(t);
  await images.put({ id: one.config.digest, target: one.manifest, manifest: one.manifest },
    [parseReference("busybox"), parseReference(`busybox@${one.manifest.digest}`)]);
  for (const q of ["busybox", "busybox:latest", "docker.io/library/busybox:latest", one.config.digest, one.config.digest.slice(7),
    one.config.digest.slice(7, 19), `sha256:${one.config.digest.slice(7, 12)}`, `busybox@${one.manifest.digest}`, `busybox:other@${one.manifest.digest}`]) {
    assert.equal((await images.get(q)).id, one.config.digest, q);
  }
  await assert.rejects(images.get("alpine"), (e: unknown) => e instanceof NotFound && e.message === "No such image: alpine");
  const state = JSON.parse(await readFile(join(root, "images", "images.json"), "utf8")) as { version: number; names: Record<string, string> };
  assert.equal(state.version, 1);
  assert.equal(state.names["docker.io/library/busybox:latest"], one.config.digest);
  assert.equal((await images.list()).length, 1);
  assert.deepEqual(await images.roots(), [one.manifest.digest]);
});

test("an ambiguous short ID is refused", async (t) => {
  const { images, content, one } = await setup(t);
  // 17 IDs over 16 hex digits: two must share their first digit (pigeonhole).
  const ids: string[] = [];
  for (let i = 0; i < 17; i++) {
    const id = (await content.writeBlob(Buffer.from(`{"n":${i}}`))).digest;
    await images.put({ id, target: one.manifest, manifest: one.manifest }, []);
    ids.push(id);
  }
  const first = ids.map((id) => id[7]!);
  const shared = first.find((c, i) => first.indexOf(c) !== i)!;
  await assert.rejects(images.get(shared), (e: unknown) => e instanceof InvalidArgument && /ambiguous/.test(e.message));
  await assert.rejects(images.get("sha256:"), NotFound);
});

test("tag moves a name between images; untag; rmi semantics with in-use and force", async (t) => {
  const { images, one, two } = await setup(t);
  await images.put({ id: one.config.digest, target: one.manifest, manifest: one.manifest }, [parseReference("app:1")]);
  await images.put({ id: two.config.digest, target: two.manifest, manifest: two.manifest }, [parseReference("app:2")]);
  await images.tag("app:1", "app:latest");
  await images.tag("app:2", "app:latest");
  assert.deepEqual((await images.get("app:latest")).id, two.config.digest);
  assert.deepEqual((await images.get("app:1")).names, ["docker.io/library/app:1"]);
  await assert.rejects(images.tag("app:1", `app@${one.manifest.digest}`), InvalidArgument);

  // Removing one of two tags only untags.
  assert.deepEqual(await images.remove("app:latest"), [{ Untagged: "app:latest" }]);
  // The last tag of an image in use needs force.
  const inUse = (id: string): boolean => id === two.config.digest;
  await assert.rejects(images.remove("app:2", { inUse }), (e: unknown) => e instanceof Conflict && /must force/.test(e.message));
  assert.deepEqual(await images.remove("app:2", { inUse, force: true }), [{ Untagged: "app:2" }, { Deleted: two.config.digest }]);
  // By ID with names in several repositories: must be forced.
  await images.tag("app:1", "other/app:x");
  await assert.rejects(images.remove(one.config.digest.slice(7, 19)), /referenced in multiple repositories/);
  const out = await images.remove(one.config.digest, { force: true });
  assert.deepEqual(out.at(-1), { Deleted: one.config.digest });
  assert.equal(out.length, 3);
  assert.deepEqual(await images.list(), []);
  await assert.rejects(images.untag("app:1"), NotFound);
});

test("prune removes dangling images that no container uses", async (t) => {
  const { images, one, two } = await setup(t);
  await images.put({ id: one.config.digest, target: one.manifest, manifest: one.manifest }, [parseReference(`x@${one.manifest.digest}`)]);
  await images.put({ id: two.config.digest, target: two.manifest, manifest: two.manifest }, []);
  const out = await images.prune({ inUse: (id) => id === two.config.digest });
  assert.deepEqual(out, [{ Untagged: `x@${one.manifest.digest}` }, { Deleted: one.config.digest }]);
  assert.deepEqual((await images.list()).map((i) => i.id), [two.config.digest]);
});

test("inspect and history have docker's shape", async (t) => {
  const { images, one } = await setup(t);
  await images.put({ id: one.config.digest, target: one.manifest, manifest: one.manifest },
    [parseReference("localhost:5000/team/app:v1"), parseReference(`localhost:5000/team/app@${one.manifest.digest}`)]);
  const i = await images.inspect("localhost:5000/team/app:v1");
  assert.equal(i.Id, one.config.digest);
  assert.deepEqual(i.RepoTags, ["localhost:5000/team/app:v1"]);
  assert.deepEqual(i.RepoDigests, [`localhost:5000/team/app@${one.manifest.digest}`]);
  assert.equal(i.Parent, "");
  assert.equal(i.Created, "2024-01-02T03:04:05Z");
  assert.equal(i.Architecture, "amd64");
  assert.equal(i.Os, "linux");
  assert.deepEqual(i.Config, { Env: ["PATH=/usr/bin:/bin"], Cmd: ["/bin/tool"], Labels: { seed: "one" } });
  assert.deepEqual(i.RootFS, { Type: "layers", Layers: one.diffIds });
  assert.equal(i.Size, one.layers[0]!.size + one.layers[1]!.size);
  assert.match(i.Metadata.LastTagTime, /^\d{4}-/);
  const h = await images.history(one.config.digest);
  assert.deepEqual(h.map((x) => [x.Id, x.CreatedBy, x.Size, x.Comment]), [
    [one.config.digest, "/bin/sh -c echo data > /srv/data.txt", one.layers[1]!.size, "second"],
    ["<missing>", "/bin/sh -c #(nop)  ENV PATH=/usr/bin:/bin", 0, ""],
    ["<missing>", "/bin/sh -c #(nop) ADD file:tool in /", one.layers[0]!.size, ""],
  ]);
  assert.deepEqual(h[0]!.Tags, ["localhost:5000/team/app:v1"]);
  assert.equal(h[1]!.Tags, null);
  assert.equal(h[0]!.Created, Date.parse("2024-01-02T03:04:05Z") / 1000);
});

test("put refuses an image whose blobs are not in the content store", async (t) => {
  const { images, one } = await setup(t);
  const missing = `sha256:${"f".repeat(64)}`;
  await assert.rejects(images.put({ id: missing, target: one.manifest, manifest: one.manifest }, []), /not in the content store/);
});
