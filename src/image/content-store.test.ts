import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, readdir, writeFile, mkdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FailedPrecondition, NotFound } from "../errdefs.js";
import { createContentStore, type ContentStore, type IngestSource } from "./content-store.js";
import { sha256Digest } from "./digest.js";
import { MediaType } from "./media-types.js";

async function tempStore(t: { after: (fn: () => Promise<void>) => void }): Promise<{ root: string; store: ContentStore }> {
  const root = await mkdtemp(join(tmpdir(), "berth-content-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  return { root, store: await createContentStore(root) };
}

const bytes = (n: number, seed = 1): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};

/** A source serving `data` from the requested offset, in chunks, optionally failing after `failAt` bytes. */
function sourceOf(data: Buffer, o: { failAt?: number; calls?: number[]; ignoreRange?: boolean; delayMs?: number } = {}): IngestSource {
  return async (offset) => {
    o.calls?.push(offset);
    const start = o.ignoreRange ? 0 : offset;
    async function* gen(): AsyncGenerator<Buffer> {
      for (let p = start; p < data.length; p += 1024) {
        if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
        if (o.failAt !== undefined && p >= o.failAt) throw Object.assign(new Error("connection reset"), { code: "ECONNRESET" });
        yield data.subarray(p, Math.min(p + 1024, data.length));
      }
    }
    return { stream: Readable.from(gen()), offset: start };
  };
}

test("writeBlob commits at blobs/sha256/<hex>; info, readBlob, readStream, walk, delete", async (t) => {
  const { root, store } = await tempStore(t);
  const data = bytes(5000);
  const info = await store.writeBlob(data);
  assert.equal(info.digest, sha256Digest(data));
  assert.equal(info.size, 5000);
  assert.ok(existsSync(join(root, "blobs/sha256", info.digest.slice(7))));
  assert.deepEqual(await store.readBlob(info.digest), data);
  const chunks: Buffer[] = [];
  for await (const c of await store.readStream(info.digest, { start: 100 })) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), data.subarray(100));
  const seen: string[] = [];
  await store.walk((i) => { seen.push(i.digest); });
  assert.deepEqual(seen, [info.digest]);
  await store.delete(info.digest);
  await assert.rejects(store.info(info.digest), NotFound);
  await assert.rejects(store.delete(info.digest), NotFound);
  assert.deepEqual(await readdir(join(root, "ingest")), []);
});

test("a digest mismatch is rejected and nothing is committed", async (t) => {
  const { root, store } = await tempStore(t);
  const data = bytes(3000);
  const wrong = sha256Digest("something else");
  await assert.rejects(store.ingest({ digest: wrong, size: data.length }, sourceOf(data)),
    (e: unknown) => e instanceof FailedPrecondition && /digest mismatch: expected sha256:/.test(e.message));
  assert.equal(await store.has(wrong), false);
  assert.equal(await store.has(sha256Digest(data)), false);
  assert.deepEqual(await readdir(join(root, "blobs/sha256")), []);
  assert.deepEqual(await readdir(join(root, "ingest")), [], "the bad ingest is removed");
  await assert.rejects(store.writeBlob(data, wrong), FailedPrecondition);
});

test("a source sending more bytes than expected is a size mismatch", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(3000);
  await assert.rejects(store.ingest({ digest: sha256Digest(data), size: 2000 }, sourceOf(data)), /size mismatch/);
  assert.equal(await store.has(sha256Digest(data)), false);
});

test("an interrupted ingest resumes from where it stopped", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(10_000);
  const digest = sha256Digest(data);
  await assert.rejects(store.ingest({ digest, size: data.length, retries: 0 }, sourceOf(data, { failAt: 4096 })), /connection reset/);
  const [st] = await store.listIngests();
  assert.equal(st?.offset, 4096);
  assert.equal(st?.total, 10_000);
  assert.equal(st?.expected, digest);
  assert.equal(await store.has(digest), false);
  const calls: number[] = [];
  const r = await store.ingest({ digest, size: data.length }, sourceOf(data, { calls }));
  assert.deepEqual(calls, [4096]);
  assert.equal(r.resumedFrom, 4096);
  assert.equal(r.fetched, true);
  assert.deepEqual(await store.readBlob(digest), data);
  assert.deepEqual(await store.listIngests(), []);
});

test("a dropped stream is retried from its offset within one ingest", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(8192);
  const calls: number[] = [];
  let first = true;
  const flaky: IngestSource = async (offset, signal) => {
    const s = sourceOf(data, { calls, ...(first ? { failAt: 2048 } : {}) });
    first = false;
    return s(offset, signal);
  };
  const r = await store.ingest({ digest: sha256Digest(data), size: data.length }, flaky);
  assert.deepEqual(calls, [0, 2048]);
  assert.equal(r.size, 8192);
});

test("a source that ignores the range restarts the ingest cleanly", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(10_000);
  const digest = sha256Digest(data);
  await assert.rejects(store.ingest({ digest, size: data.length, retries: 0 }, sourceOf(data, { failAt: 5120 })));
  const r = await store.ingest({ digest, size: data.length }, sourceOf(data, { ignoreRange: true }));
  assert.deepEqual(await store.readBlob(r.digest), data);
});

test("a corrupt partial ingest is restarted once from zero, then verified", async (t) => {
  const { root, store } = await tempStore(t);
  const data = bytes(6000);
  const digest = sha256Digest(data);
  const dir = join(root, "ingest", `sha256-${digest.slice(7)}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "data"), Buffer.alloc(3000, 0xee));
  const calls: number[] = [];
  await store.ingest({ digest, size: data.length }, sourceOf(data, { calls }));
  assert.deepEqual(calls, [3000, 0]);
  assert.deepEqual(await store.readBlob(digest), data);
});

test("two concurrent writers of one digest in one process download it once", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(20_000);
  const digest = sha256Digest(data);
  const calls: number[] = [];
  const [a, b] = await Promise.all([
    store.ingest({ digest, size: data.length }, sourceOf(data, { calls, delayMs: 2 })),
    store.ingest({ digest, size: data.length }, sourceOf(data, { calls, delayMs: 2 })),
  ]);
  assert.deepEqual(calls, [0]);
  assert.deepEqual([a.fetched, b.fetched].sort(), [false, true]);
});

test("two processes ingesting one digest: the second waits on the lock file and downloads nothing", async (t) => {
  const { root, store } = await tempStore(t);
  const data = bytes(50_000, 3);
  const digest = sha256Digest(data);
  const mod = fileURLToPath(new URL("./content-store.js", import.meta.url));
  const marker = join(root, "child-started");
  const script = `
    import { createContentStore } from ${JSON.stringify(mod)};
    import { Readable } from "node:stream";
    import { writeFileSync } from "node:fs";
    const data = Buffer.from(${JSON.stringify(data.toString("base64"))}, "base64");
    const store = await createContentStore(${JSON.stringify(root)});
    await store.ingest({ digest: ${JSON.stringify(digest)}, size: data.length }, async (offset) => {
      writeFileSync(${JSON.stringify(marker)}, "");
      async function* gen() { for (let p = offset; p < data.length; p += 5000) { await new Promise((r) => setTimeout(r, 60)); yield data.subarray(p, p + 5000); } }
      return { stream: Readable.from(gen()), offset };
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "inherit", "inherit"] });
  t.after(() => { if (child.exitCode === null) process.kill(child.pid!, "SIGKILL"); });
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  while (!existsSync(marker)) {
    assert.equal(child.exitCode, null, "child exited before starting its download");
    await new Promise((r) => setTimeout(r, 20));
  }
  const calls: number[] = [];
  const r = await store.ingest({ digest, size: data.length }, sourceOf(data, { calls }));
  assert.deepEqual(calls, [], "the second process must not download");
  assert.equal(r.fetched, false);
  assert.equal(await exited, 0);
  assert.deepEqual(await store.readBlob(digest), data);
});

test("a lock left by a dead process is broken", async (t) => {
  const { root, store } = await tempStore(t);
  const data = bytes(1000);
  const digest = sha256Digest(data);
  const dead = spawnSync("true");
  assert.equal(dead.status, 0);
  await writeFile(join(root, "ingest", `sha256-${digest.slice(7)}.lock`), `${dead.pid} 1\n`);
  const r = await store.ingest({ digest, size: data.length }, sourceOf(data));
  assert.equal(r.fetched, true);
  assert.equal(existsSync(join(root, "ingest", `sha256-${digest.slice(7)}.lock`)), false);
});

test("an aborted ingest keeps its partial data; the next ingest resumes and abortIngest removes it", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(30_000);
  const digest = sha256Digest(data);
  const ac = new AbortController();
  const p = store.ingest({ digest, size: data.length, signal: ac.signal,
    onProgress: (done) => { if (done >= 10_240) ac.abort(); } }, sourceOf(data, { delayMs: 1 }));
  await assert.rejects(p, (e: unknown) => (e as Error).name === "AbortError");
  const [st] = await store.listIngests();
  assert.ok(st !== undefined && st.offset >= 10_240 && st.offset < 30_000, `offset ${st?.offset}`);
  assert.equal(st.activeWriterPid, undefined);
  assert.equal(await store.has(digest), false);
  const r = await store.ingest({ digest, size: data.length }, sourceOf(data));
  assert.equal(r.resumedFrom, st.offset);
  assert.deepEqual(await store.readBlob(digest), data);

  const other = bytes(30_000, 5);
  const ac2 = new AbortController();
  await assert.rejects(store.ingest({ digest: sha256Digest(other), size: other.length, signal: ac2.signal,
    onProgress: (done) => { if (done >= 1024) ac2.abort(); } }, sourceOf(other)));
  const [st2] = await store.listIngests();
  assert.ok(st2);
  await store.abortIngest(st2.ref);
  assert.deepEqual(await store.listIngests(), []);
});

test("writeStream learns the digest at the end and commits", async (t) => {
  const { store } = await tempStore(t);
  const data = bytes(7777);
  const info = await store.writeStream(Readable.from([data.subarray(0, 100), data.subarray(100)]));
  assert.equal(info.digest, sha256Digest(data));
  await assert.rejects(store.writeStream(Readable.from([data]), { size: 1 }), /size mismatch/);
});

test("gc removes blobs unreachable from the roots (index → manifests → config + layers)", async (t) => {
  const { store } = await tempStore(t);
  const put = async (b: Buffer | string): Promise<{ digest: string; size: number }> => {
    const i = await store.writeBlob(Buffer.from(b));
    return { digest: i.digest, size: i.size };
  };
  const layer1 = await put(bytes(100, 1));
  const layer2 = await put(bytes(100, 2));
  const config = await put(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  const manifest = await put(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, ...config },
    layers: [{ mediaType: MediaType.OciLayerGzip, ...layer1 }, { mediaType: MediaType.OciLayerGzip, ...layer2 }] }));
  const index = await put(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex,
    manifests: [{ mediaType: MediaType.OciManifest, ...manifest, platform: { os: "linux", architecture: "amd64" } }] }));
  const orphanLayer = await put(bytes(300, 9));
  const orphanManifest = await put(JSON.stringify({ schemaVersion: 2, config: { ...config }, layers: [{ ...orphanLayer }] }));
  const r = await store.gc([index.digest]);
  assert.deepEqual(r.removed.sort(), [orphanLayer.digest, orphanManifest.digest].sort());
  assert.equal(r.bytesFreed, orphanLayer.size + orphanManifest.size);
  for (const d of [index, manifest, config, layer1, layer2]) assert.equal(await store.has(d.digest), true);
  const r2 = await store.gc([]);
  assert.equal(r2.removed.length, 5);
  void readFile;
});
