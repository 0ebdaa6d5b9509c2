import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { NotImplemented } from "../errdefs.js";
import { chainIds, compressionOf, computeDiffId, uncompressedLayer } from "./diff-id.js";
import { sha256Digest } from "./digest.js";
import { MediaType } from "./media-types.js";

const tar = Buffer.alloc(10240, 7);

test("gzip and plain layers give the sha256 of the uncompressed bytes", async () => {
  assert.equal(await computeDiffId(MediaType.DockerLayerGzip, Readable.from([gzipSync(tar)])), sha256Digest(tar));
  assert.equal(await computeDiffId(MediaType.OciLayerGzip, Readable.from([gzipSync(tar)])), sha256Digest(tar));
  assert.equal(await computeDiffId(MediaType.OciLayer, Readable.from([tar])), sha256Digest(tar));
});

test("the uncompressed stream can be consumed partly; diffId() reads the rest", async () => {
  const u = uncompressedLayer(MediaType.OciLayerGzip, Readable.from([gzipSync(tar)]));
  const first = await new Promise<Buffer>((r) => u.stream.once("data", (c: Buffer) => { u.stream.pause(); r(c); }));
  assert.ok(first.length > 0);
  assert.equal(await u.diffId(), sha256Digest(tar));
});

test("a corrupt gzip layer fails with the decoder's error", async () => {
  const bad = gzipSync(tar);
  bad[bad.length - 6] ^= 0xff; // inside the CRC32 trailer
  await assert.rejects(computeDiffId(MediaType.OciLayerGzip, Readable.from([bad])));
});

test("zstd layers are NotImplemented with a clear message", () => {
  assert.equal(compressionOf(MediaType.OciLayerZstd), "zstd");
  assert.throws(() => uncompressedLayer(MediaType.OciLayerZstd, Readable.from([Buffer.alloc(1)])),
    (e: unknown) => e instanceof NotImplemented && /zstd decoder/.test(e.message));
});

test("chain IDs follow the image spec", () => {
  const a = sha256Digest("a"), b = sha256Digest("b"), c = sha256Digest("c");
  const ab = sha256Digest(`${a} ${b}`);
  assert.deepEqual(chainIds([a, b, c]), [a, ab, sha256Digest(`${ab} ${c}`)]);
  assert.deepEqual(chainIds([]), []);
});
