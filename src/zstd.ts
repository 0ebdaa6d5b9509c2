/**
 * A zstd decoder stream. Node 20's zlib has none (it came in 22.15/23.8), so this wraps fzstd, a
 * dependency-free streaming decoder in JavaScript. A damaged frame fails the stream; fzstd does
 * not check the frame checksum, so callers verify the output's digest (layers: their diff_id).
 */
import { Decompress } from "fzstd";
import { Transform, type TransformCallback } from "node:stream";
import { InvalidArgument } from "./errdefs.js";

/** The first four bytes of a zstd frame. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

export function isZstd(head: Uint8Array): boolean {
  return head.length >= 4 && Buffer.from(head.subarray(0, 4)).equals(ZSTD_MAGIC);
}

export class ZstdDecoder extends Transform {
  private readonly d = new Decompress((chunk) => { this.push(Buffer.from(chunk)); });

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try { this.d.push(chunk); done(); } catch (e) { done(new InvalidArgument(`zstd: ${(e as Error).message}`)); }
  }

  override _flush(done: TransformCallback): void {
    try { this.d.push(new Uint8Array(0), true); done(); } catch (e) { done(new InvalidArgument(`zstd: ${(e as Error).message}`)); }
  }
}
