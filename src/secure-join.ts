/**
 * Resolves a path inside a root directory the way the container would see it: symlinks are
 * followed but evaluated relative to the root, and `..` never climbs above it. Used for user
 * lookup in the image's /etc/passwd and for `docker cp` (CVE-2018-15664: a symlink in the
 * container must not make the daemon read or write a host path).
 *
 * This is a check made before use, so a container that swaps a path for a symlink between the
 * check and the use can still race it; callers that write through it do so while the container
 * is paused, as docker does for archive operations.
 */
import { lstatSync, readlinkSync } from "node:fs";
import { posix } from "node:path";
import { InvalidArgument } from "./errdefs.js";

const MAX_LINKS = 255;

export function secureJoin(root: string, unsafe: string): string {
  const parts = unsafe.split("/").filter((p) => p !== "" && p !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const candidate = posix.join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch {
      // Missing: the rest is taken literally (callers create or report it).
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new InvalidArgument(`${unsafe}: too many levels of symbolic links`);
    const target = readlinkSync(candidate);
    if (target.startsWith("/")) resolved.length = 0;
    parts.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
  }
  return posix.join(root, ...resolved);
}
