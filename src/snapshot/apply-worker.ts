/** The worker side of apply-pool.ts: applies one layer file at a time into a directory. */
import { createReadStream } from "node:fs";
import { parentPort } from "node:worker_threads";
import type { BerthError } from "../errdefs.js";
import { applyLayer, type WhiteoutMode } from "./apply.js";
import { FollowAbandoned, followFile, type Followed } from "./follow.js";

/** A layer file, or one still being written (follow.ts). */
export interface ApplyJob { id: number; dir: string; file: string | Followed; whiteouts: WhiteoutMode }

parentPort?.on("message", (job: ApplyJob) => {
  const src = typeof job.file === "string" ? createReadStream(job.file, { highWaterMark: 1 << 20 }) : followFile(job.file);
  applyLayer(job.dir, src, { whiteouts: job.whiteouts }).then(
    (result) => parentPort!.postMessage({ id: job.id, result }),
    (e: Error) => parentPort!.postMessage({ id: job.id, error: { message: e.message, code: (e as BerthError).code, abandoned: e instanceof FollowAbandoned } }),
  );
});
