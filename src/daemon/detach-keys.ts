/**
 * docker's detach keys: a byte sequence in an attached client's input that ends the attachment
 * (the container keeps running). "ctrl-p,ctrl-q" by default; each key is `ctrl-<x>` or one
 * character. A partial match is held back and passed on once the input diverges from it.
 */
import { Transform, type TransformCallback } from "node:stream";
import { InvalidArgument } from "../errdefs.js";

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(",")) {
    const k = key.trim();
    const ctrl = /^ctrl-(.)$/i.exec(k);
    if (ctrl) {
      const ch = ctrl[1]!.toLowerCase();
      if (ch >= "a" && ch <= "z") out.push(ch.charCodeAt(0) - 96);
      else if ("@[\\]^_".includes(ch)) out.push(ch.charCodeAt(0) - 64);
      else throw new InvalidArgument(`Unknown character: '${ch}' in detach keys`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw new InvalidArgument(`Unknown character: '${k}' in detach keys`);
    }
  }
  return Buffer.from(out);
}

/** Passes input through until the sequence appears; then emits "detach" and passes nothing more. */
export class DetachFilter extends Transform {
  private held: number[] = [];
  private detached = false;

  constructor(private readonly keys: Buffer) { super(); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.detached) { done(); return; }
    if (this.keys.length === 0 || (this.held.length === 0 && !chunk.includes(this.keys[0]!))) {
      this.push(chunk);
      done();
      return;
    }
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) {
          if (out.length) this.push(Buffer.from(out));
          this.detached = true;
          this.emit("detach");
          done();
          return;
        }
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    if (out.length) this.push(Buffer.from(out));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (!this.detached && this.held.length) this.push(Buffer.from(this.held));
    done();
  }
}
