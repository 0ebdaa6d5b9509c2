/**
 * Pulls exact byte counts out of an async chunk source, which is what a tar
 * parser needs (512-byte blocks, then N bytes of data) without buffering the
 * whole stream.
 */
import { InvalidArgument } from "../../errdefs.js";

export type ChunkSource = AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array>;

/** A chunk as a Buffer without copying its bytes (Buffer.from(uint8array) would copy them). */
export function asBuffer(v: Buffer | Uint8Array | string): Buffer {
  return typeof v === "string" ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed by the parser so far (for error messages). */
  offset = 0;

  constructor(src: ChunkSource) {
    const inner: AsyncIterator<Buffer | Uint8Array | string> | Iterator<Buffer | Uint8Array | string> =
      Symbol.asyncIterator in src ? src[Symbol.asyncIterator]() : src[Symbol.iterator]();
    this.it = {
      next: async () => {
        const r = await inner.next();
        if (r.done) return r;
        return { done: false, value: asBuffer(r.value) };
      },
      return: async () => { await inner.return?.(); return { done: true, value: undefined }; },
    };
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) { this.done = true; return false; }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  /** Exactly n bytes; null at a clean end of stream; throws on a truncated one. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) return null;
        throw new InvalidArgument(`tar stream truncated at byte ${this.offset + this.buf.length} (wanted ${n} more bytes)`);
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** Yields exactly n bytes as they arrive; throws on a truncated stream. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) {
        throw new InvalidArgument(`tar stream truncated at byte ${this.offset} (${left} bytes of entry data missing)`);
      }
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.offset += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) { /* discard */ }
  }

  /** Consumes everything left (trailing padding after the end-of-archive blocks). */
  async drain(): Promise<void> {
    this.offset += this.buf.length;
    this.buf = Buffer.alloc(0);
    while (await this.fill()) { this.offset += this.buf.length; this.buf = Buffer.alloc(0); }
  }
}
