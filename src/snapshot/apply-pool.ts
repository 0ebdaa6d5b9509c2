/**
 * Layers applied on worker threads, so that the layers of one image unpack on several cores at
 * once: unpacking one layer (inflating, hashing, parsing the tar, writing its files) keeps one
 * thread busy, and berthd used 1.2 of 2 cores pulling one layer after another. Up to
 * min(4, cores) workers, started on first use; idle ones do not keep the process alive.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { AlreadyExists, BerthError, Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied } from "../errdefs.js";
import type { ApplyOptions, ApplyResult } from "./apply.js";
import type { ApplyJob } from "./apply-worker.js";
import { FollowAbandoned, type Followed } from "./follow.js";

const MAX = Math.max(1, Math.min(4, availableParallelism()));
const CLASSES: Record<string, new (m: string) => BerthError> = {
  ERR_NOT_FOUND: NotFound, ERR_ALREADY_EXISTS: AlreadyExists, ERR_CONFLICT: Conflict, ERR_INVALID_ARGUMENT: InvalidArgument,
  ERR_FAILED_PRECONDITION: FailedPrecondition, ERR_PERMISSION_DENIED: PermissionDenied,
};

interface Slot { worker: Worker; job?: Waiting }
interface Waiting { job: ApplyJob; resolve: (r: ApplyResult) => void; reject: (e: Error) => void }

const slots: Slot[] = [];
const queue: Waiting[] = [];
let nextId = 1;

/** Applies the layer tar (plain, gzip or zstd) in `file` (or following one still being written) into `dir` on a worker thread. */
export function applyLayerFile(dir: string, file: string | Followed, opts: ApplyOptions = {}): Promise<ApplyResult> {
  return new Promise((resolve, reject) => {
    const f = typeof file === "string" ? file : { fd: file.fd, shared: file.shared };
    queue.push({ job: { id: nextId++, dir, file: f, whiteouts: opts.whiteouts ?? "overlay" }, resolve, reject });
    pump();
  });
}

function pump(): void {
  while (queue.length) {
    const slot = slots.find((s) => !s.job) ?? (slots.length < MAX ? start() : undefined);
    if (!slot) return;
    slot.job = queue.shift()!;
    slot.worker.ref();
    slot.worker.postMessage(slot.job.job);
  }
}

function start(): Slot {
  const slot: Slot = { worker: new Worker(new URL("./apply-worker.js", import.meta.url)) };
  const done = (): Waiting | undefined => {
    const w = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    return w;
  };
  slot.worker.on("message", (m: { id: number; result?: ApplyResult; error?: { message: string; code?: string; abandoned?: boolean } }) => {
    const w = done();
    if (m.error) w?.reject(new (m.error.abandoned ? FollowAbandoned : CLASSES[m.error.code ?? ""] ?? BerthError)(m.error.message));
    else w?.resolve(m.result!);
    pump();
  });
  // A worker that fails or exits takes its job with it; the slot goes, others start as needed.
  const lost = (e: Error): void => {
    const i = slots.indexOf(slot);
    if (i < 0) return;
    slots.splice(i, 1);
    done()?.reject(e);
    pump();
  };
  slot.worker.on("error", lost);
  slot.worker.on("exit", (code) => lost(new BerthError(`layer worker exited (${code})`)));
  slot.worker.unref();
  slots.push(slot);
  return slot;
}
