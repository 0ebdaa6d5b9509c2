import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VolumeStore } from "./volumes.js";
import { Conflict, InvalidArgument, NotFound } from "../errdefs.js";

test("local volumes: create, list, inspect, remove refused while used, prune of anonymous ones", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "berth-vol-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const s = new VolumeStore(root);
  const v = await s.create("data", { labels: { a: "b" } });
  assert.equal(v.Mountpoint, join(root, "data/_data"));
  writeFileSync(join(v.Mountpoint, "f"), "kept");
  assert.equal((await s.create("data")).CreatedAt, v.CreatedAt);
  const anon = await s.create(undefined);
  assert.match(anon.Name, /^[0-9a-f]{64}$/);
  assert.deepEqual(s.list().map((x) => x.Name).sort(), [anon.Name, "data"].sort());
  await assert.rejects(s.remove("data", { inUse: () => ["abc"] }), Conflict);
  assert.throws(() => s.inspect("nope"), NotFound);
  await assert.rejects(s.create("bad/name"), InvalidArgument);
  const pruned = await s.prune();
  assert.deepEqual(pruned.VolumesDeleted, [anon.Name]);
  assert.ok(existsSync(join(v.Mountpoint, "f")));
  await s.remove("data");
  assert.deepEqual(s.list(), []);
});
