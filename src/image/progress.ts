/**
 * Progress events for pull and push, one stream of events per blob. `status`
 * uses docker's wording (the Engine API's JSON progress stream shows it as is):
 * pull: "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum",
 * "Download complete", "Extracting", "Pull complete", "Already exists";
 * push: "Preparing", "Pushing", "Pushed", "Layer already exists", "Mounted from <repo>".
 */
import type { Digest } from "./digest.js";

export interface ProgressEvent {
  /** docker's short id: the first 12 hex digits of the blob digest. */
  id: string;
  digest: Digest;
  status: string;
  /** Bytes done and total, for "Downloading", "Extracting" and "Pushing". */
  current?: number;
  total?: number;
}

export type ProgressFn = (e: ProgressEvent) => void;

export const shortId = (d: Digest): string => d.replace(/^sha256:/, "").slice(0, 12);

export function progressEvent(digest: Digest, status: string, current?: number, total?: number): ProgressEvent {
  return { id: shortId(digest), digest, status, ...(current !== undefined ? { current } : {}), ...(total !== undefined ? { total } : {}) };
}
