/** The worker side of apply-pool.ts: applies one layer file at a time into a directory. */
import { createReadStream } from "node:fs";
import { parentPort } from "node:worker_threads";
import type { BerthError } from "../errdefs.js";
import { applyLayer, type WhiteoutMode } from "./apply.js";

export interface ApplyJob { id: number; dir: string; file: string; whiteouts: WhiteoutMode }

parentPort?.on("message", (job: ApplyJob) => {
  applyLayer(job.dir, createReadStream(job.file, { highWaterMark: 1 << 20 }), { whiteouts: job.whiteouts }).then(
    (result) => parentPort!.postMessage({ id: job.id, result }),
    (e: Error) => parentPort!.postMessage({ id: job.id, error: { message: e.message, code: (e as BerthError).code } }),
  );
});
