import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { applyLayerFile } from "./apply-pool.js";
import { FollowAbandoned, FollowedFile, followFile } from "./follow.js";
import { writeTar } from "./tar/writer.js";

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A file written by the test (the "download") and followed through a second descriptor. */
async function growing(t: { after: (fn: () => Promise<void> | void) => void }): Promise<{ dir: string; append: (b: Buffer) => void; file: FollowedFile }> {
  const dir = await mkdtemp(join(tmpdir(), "berth-follow-"));
  const path = join(dir, "data");
  const w = openSync(path, "w");
  const r = openSync(path, "r");
  t.after(async () => { closeSync(w); closeSync(r); await rm(dir, { recursive: true, force: true }); });
  let size = 0;
  const file = new FollowedFile(r);
  return { dir, file, append: (b) => { writeSync(w, b, 0, b.length, size); size += b.length; file.grew(size); } };
}

test("a follower reads a file as it grows, waits for more, and ends when the writer says it is complete", async (t) => {
  const g = await growing(t);
  const got: Buffer[] = [];
  const seen: number[] = [];
  const reading = (async () => { for await (const c of followFile(g.file)) { got.push(c); seen.push(Buffer.concat(got).length); } })();
  g.append(Buffer.from("first "));
  await tick(30);
  assert.deepEqual(seen, [6], "the first piece is read before the rest is written");
  g.append(Buffer.from("second "));
  g.append(Buffer.from("third"));
  await tick(30);
  assert.equal(Buffer.concat(got).toString(), "first second third");
  let ended = false;
  void reading.then(() => { ended = true; });
  await tick(30);
  assert.equal(ended, false, "no end before the writer says so");
  g.file.complete(18);
  await reading;
  assert.equal(Buffer.concat(got).toString(), "first second third");
});

test("a follower stops with FollowAbandoned when the file is abandoned or shrinks (its download started over)", async (t) => {
  const a = await growing(t);
  const r1 = (async () => { for await (const _ of followFile(a.file)) { /* drain */ } })();
  a.append(Buffer.from("partial"));
  await tick(20);
  a.file.abandon();
  await assert.rejects(r1, FollowAbandoned);

  const b = await growing(t);
  const r2 = (async () => { for await (const _ of followFile(b.file)) { /* drain */ } })();
  b.append(Buffer.from("0123456789"));
  await tick(20);
  b.file.grew(0); // the writer truncated the file to start again
  await assert.rejects(r2, FollowAbandoned);
  b.file.complete(10); // too late: an abandoned file stays abandoned
  await assert.rejects((async () => { for await (const _ of followFile(b.file)) { /* drain */ } })(), FollowAbandoned);
});

test("a layer worker applies a gzip layer while it is still being written, through the shared descriptor", async (t) => {
  const g = await growing(t);
  const chunks: Buffer[] = [];
  for await (const c of writeTar([
    { header: { name: "etc/", type: "dir" } },
    { header: { name: "etc/motd", type: "file", size: 9 }, body: Buffer.from("followed\n") },
    { header: { name: "srv/", type: "dir" } },
    { header: { name: "srv/big", type: "file", size: 300_000 }, body: Buffer.alloc(300_000, "x") },
  ])) chunks.push(c);
  const tar = Buffer.concat(chunks);
  const layer = { tar, gz: gzipSync(tar) };
  const target = join(g.dir, "root");
  mkdirSync(target);
  const applying = applyLayerFile(target, g.file);
  for (let off = 0; off < layer.gz.length; off += 4096) {
    g.append(layer.gz.subarray(off, Math.min(off + 4096, layer.gz.length)));
    await tick(1);
  }
  g.file.complete(layer.gz.length);
  const r = await applying;
  assert.equal(r.diffId, `sha256:${createHash("sha256").update(layer.tar).digest("hex")}`);
  assert.equal(readFileSync(join(target, "etc/motd"), "utf8"), "followed\n");
  assert.equal(readFileSync(join(target, "srv/big"), "utf8").length, 300_000);

  const h = await growing(t);
  const t2 = join(h.dir, "root");
  mkdirSync(t2);
  const failing = applyLayerFile(t2, h.file);
  h.append(layer.gz.subarray(0, 1000));
  await tick(20);
  h.file.abandon();
  await assert.rejects(failing, FollowAbandoned, "the abandonment crosses the worker boundary as itself");
});
