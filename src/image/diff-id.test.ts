import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
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

test("zstd layers give the sha256 of the uncompressed bytes; a corrupt one fails", async () => {
  assert.equal(compressionOf(MediaType.OciLayerZstd), "zstd");
  // Compressed by Debian's zstd (a different implementation from the decoder), in small chunks.
  const z = execFileSync("zstd", ["-q", "-c", "-19"], { input: tar });
  const chunks = Array.from({ length: Math.ceil(z.length / 7) }, (_, i) => z.subarray(i * 7, i * 7 + 7));
  assert.equal(await computeDiffId(MediaType.OciLayerZstd, Readable.from(chunks)), sha256Digest(tar));
  // A damaged frame header fails the decoder; damage inside the data (fzstd does not check the
  // frame checksum) changes the bytes, which the diff_id check of a pull then refuses.
  const bad = Buffer.from(z);
  bad[0] ^= 0xff;
  await assert.rejects(computeDiffId(MediaType.OciLayerZstd, Readable.from([bad])), /zstd/);
  const flipped = Buffer.from(z);
  flipped[Math.floor(flipped.length / 2)] ^= 0xff;
  const d = await computeDiffId(MediaType.OciLayerZstd, Readable.from([flipped])).catch(() => "failed");
  assert.notEqual(d, sha256Digest(tar));
});

test("chain IDs follow the image spec", () => {
  const a = sha256Digest("a"), b = sha256Digest("b"), c = sha256Digest("c");
  const ab = sha256Digest(`${a} ${b}`);
  assert.deepEqual(chainIds([a, b, c]), [a, ab, sha256Digest(`${ab} ${c}`)]);
  assert.deepEqual(chainIds([]), []);
});
