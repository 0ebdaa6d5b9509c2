/**
 * sha256 digests (`sha256:<64 hex>`), the content address of every blob. Only
 * sha256 is accepted: it is what docker and the OCI image spec require registries
 * to support, and one algorithm keeps the store's layout (blobs/sha256/<hex>) simple.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { InvalidArgument, FailedPrecondition } from "../errdefs.js";

export type Digest = string;

const sha256Re = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: unknown): s is Digest {
  return typeof s === "string" && sha256Re.test(s);
}

/** Throws InvalidArgument naming `what` when `s` is not a sha256 digest. */
export function parseDigest(s: string, what = "digest"): Digest {
  if (!isDigest(s)) throw new InvalidArgument(`${what} ${JSON.stringify(s)} is not a sha256 digest (sha256:<64 lowercase hex>)`);
  return s;
}

export function digestHex(d: Digest): string {
  return parseDigest(d).slice("sha256:".length);
}

export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function digestMismatch(what: string, expected: Digest, actual: Digest): FailedPrecondition {
  return new FailedPrecondition(`${what}: digest mismatch: expected ${expected}, got ${actual}`);
}

/**
 * Pass-through stream that hashes and counts what flows through it; `digest()`
 * is valid after 'end'. Used to verify blobs while they stream, never after.
 */
export class DigestingStream extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private count = 0;
  private result: Digest | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `sha256:${this.hash.digest("hex")}`;
    cb();
  }

  get bytes(): number { return this.count; }

  digest(): Digest {
    if (this.result === undefined) throw new Error("DigestingStream: digest() before end of stream");
    return this.result;
  }
}
