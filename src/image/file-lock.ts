/**
 * Cross-process lock files. A lock is a file holding "<pid> <starttime>" created
 * atomically with link(2) from a fully written temp file (so a reader never sees a
 * half-written owner). A lock whose owner is gone is stale and may be broken: the
 * pid alone is not enough because pids are reused, so the owner's start time
 * (field 22 of /proc/<pid>/stat, proc(5)) must match too.
 */
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { Unavailable } from "../errdefs.js";

export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19];
  } catch {
    return undefined;
  }
}

const selfStamp = `${process.pid} ${startTime(process.pid) ?? "0"}\n`;

/** True when the lock content names a process that no longer exists. */
export function isStaleOwner(content: string): boolean {
  const [pidS, start] = content.trim().split(" ");
  const pid = Number(pidS);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  const now = startTime(pid);
  return now === undefined || (start !== undefined && start !== "0" && now !== start);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

async function tryCreate(path: string): Promise<boolean> {
  const tmp = `${path}.new-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, selfStamp);
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Breaks a stale lock without ever removing a live one that replaced it meanwhile. */
async function breakStale(path: string, staleContent: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try { await rename(path, aside); } catch { return; }
  const moved = await readFile(aside, "utf8").catch(() => "");
  if (moved !== staleContent && !isStaleOwner(moved)) {
    // We moved someone's fresh lock: put it back unless yet another owner exists.
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

export interface AcquireOptions {
  signal?: AbortSignal;
  pollMs?: number;
  /** Called between polls; returning true stops waiting (acquire returns null). */
  giveUp?: () => Promise<boolean>;
  /** Upper bound on waiting for a live owner (default: no bound). */
  timeoutMs?: number;
}

/** Waits for and takes the lock at `path`, or returns null when `giveUp` says so. */
export async function acquireFileLock(path: string, opts: AcquireOptions = {}): Promise<FileLock | null> {
  const poll = opts.pollMs ?? 50;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await tryCreate(path)) return { path, release: () => releaseFileLock(path) };
    const content = await readFile(path, "utf8").catch(() => undefined);
    if (content !== undefined && isStaleOwner(content)) {
      await breakStale(path, content);
      continue;
    }
    if (opts.giveUp && (await opts.giveUp())) return null;
    if (Date.now() > deadline) throw new Unavailable(`lock ${path} is held by pid ${content?.split(" ")[0] ?? "?"} for more than ${opts.timeoutMs} ms`);
    await sleep(poll, opts.signal);
  }
}

async function releaseFileLock(path: string): Promise<void> {
  const content = await readFile(path, "utf8").catch(() => undefined);
  if (content === selfStamp) await unlink(path).catch(() => {});
}
