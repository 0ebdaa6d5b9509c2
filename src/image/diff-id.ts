/**
 * Layer decompression and diff IDs. A layer's diff_id (OCI config.md, "Layer
 * DiffID") is the sha256 of its *uncompressed* tar; the config lists them in
 * rootfs.diff_ids and a pull must check each one. The chain ID of layer N
 * (image-spec config.md, "Layer ChainID") names the stack of layers 0..N and is
 * the key the snapshotter uses.
 */
import { PassThrough, pipeline, type Readable } from "node:stream";
import { ZstdDecoder } from "../zstd.js";
import { DigestingStream, sha256Digest, type Digest } from "./digest.js";
import { MediaType } from "./media-types.js";
import { gunzip } from "../gunzip.js";

export type Compression = "gzip" | "zstd" | "none";

export function compressionOf(mediaType: string): Compression {
  if (mediaType.endsWith("+gzip") || mediaType.endsWith(".tar.gzip") || mediaType === MediaType.DockerLayerGzip) return "gzip";
  if (mediaType.endsWith("+zstd")) return "zstd";
  return "none";
}

export interface UncompressedLayer {
  /** The uncompressed tar; errors of the compressed source and the decoder surface here. */
  stream: Readable;
  /**
   * The diff ID. Reads whatever the consumer left unread (tar readers may stop at
   * the end-of-archive blocks before the padding) and resolves at end of stream.
   */
  diffId(): Promise<Digest>;
}

/** Decompresses a layer blob by media type (gzip, zstd or none) while hashing the uncompressed bytes. */
export function uncompressedLayer(mediaType: string, compressed: Readable): UncompressedLayer {
  const comp = compressionOf(mediaType);
  const digester = new DigestingStream();
  const decoder = comp === "gzip" ? gunzip() : comp === "zstd" ? new ZstdDecoder() : new PassThrough();
  const done = new Promise<Digest>((resolve, reject) => {
    pipeline(compressed, decoder, digester, () => {});
    digester.on("error", reject);
    digester.on("end", () => resolve(digester.digest()));
  });
  done.catch(() => {}); // observed through diffId() or the stream's own 'error'
  return {
    stream: digester,
    diffId: () => {
      digester.resume();
      return done;
    },
  };
}

/** Reads a whole layer blob and returns its diff ID (for checks and for image load). */
export async function computeDiffId(mediaType: string, compressed: Readable): Promise<Digest> {
  return uncompressedLayer(mediaType, compressed).diffId();
}

/** chainId(0) = diffId(0); chainId(n) = sha256(chainId(n-1) + " " + diffId(n)). */
export function chainIds(diffIds: Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256Digest(`${out[out.length - 1]} ${d}`));
  return out;
}
