/**
 * A file that is still being written, read as it grows: the writer (berthd's main thread,
 * downloading a layer's blob) publishes how many bytes are in place through shared memory, and
 * the reader (a layer worker, apply-pool.ts) reads up to there and waits for more — so a layer
 * unpacks while it downloads. The reader uses the writer's file descriptor (threads share the
 * process's descriptors), so it keeps reading the same file when the writer renames it into place.
 *
 * The shared words: [0] a sequence number bumped on every change (what the reader waits on),
 * [1] bytes in place, [2] the state: writing, complete, or abandoned (the download failed, or
 * started over and rewrites the file: the reader stops with FollowAbandoned, and the caller
 * unpacks the committed blob instead, once there is one).
 */
import { read } from "node:fs";
import { promisify } from "node:util";
import { Unavailable } from "../errdefs.js";

const SEQ = 0, DONE = 1, STATE = 2;
const WRITING = 0n, COMPLETE = 1n, ABANDONED = 2n;
const CHUNK = 1 << 20;
const readAt = promisify(read);
// Atomics.waitAsync (V8 8.7, Node 16) is in TypeScript's ES2024 library; the project targets ES2022.
const atomics = Atomics as unknown as { waitAsync(a: BigInt64Array, i: number, v: bigint, ms: number): { async: boolean; value: Promise<string> | string } };

/** The followed file was given up (its download failed or restarted); nothing read from it counts. */
export class FollowAbandoned extends Unavailable {}

/** What a worker needs to follow a file: the descriptor and the shared words. */
export interface Followed { fd: number; shared: SharedArrayBuffer }

/** The writer's side. */
export class FollowedFile implements Followed {
  readonly shared = new SharedArrayBuffer(3 * 8);
  private readonly words = new BigInt64Array(this.shared);
  private last = 0;

  constructor(readonly fd: number) {}

  /** `done` bytes are in place. Fewer than before means the file is being rewritten: abandoned. */
  grew(done: number): void {
    if (Atomics.load(this.words, STATE) !== WRITING) return;
    if (done < this.last) return this.abandon();
    this.last = done;
    this.set(DONE, BigInt(done));
  }

  /** The file is whole (and verified): the reader reads to `size` and ends. An abandoned file stays abandoned. */
  complete(size: number): void {
    if (Atomics.load(this.words, STATE) !== WRITING) return;
    this.set(DONE, BigInt(size));
    this.set(STATE, COMPLETE);
  }

  abandon(): void {
    if (Atomics.load(this.words, STATE) === WRITING) this.set(STATE, ABANDONED);
  }

  private set(i: number, v: bigint): void {
    Atomics.store(this.words, i, v);
    Atomics.add(this.words, SEQ, 1n);
    Atomics.notify(this.words, SEQ);
  }
}

/** The reader's side: the file's bytes, as they come, until the writer says it is complete. */
export async function* followFile(f: Followed): AsyncGenerator<Buffer> {
  const words = new BigInt64Array(f.shared);
  let pos = 0;
  for (;;) {
    const seq = Atomics.load(words, SEQ);
    const state = Atomics.load(words, STATE);
    if (state === ABANDONED) throw new FollowAbandoned("the layer's download failed or started over");
    const done = Number(Atomics.load(words, DONE));
    if (pos < done) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, done - pos));
      const { bytesRead: n } = await readAt(f.fd, buf, 0, buf.length, pos);
      if (n === 0) throw new FollowAbandoned("the layer's download file shrank");
      pos += n;
      yield buf.subarray(0, n);
      continue;
    }
    if (state === COMPLETE) return;
    const w = atomics.waitAsync(words, SEQ, seq, 5000);
    if (w.async) await w.value;
  }
}
