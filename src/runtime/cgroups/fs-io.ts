/**
 * Small file helpers for cgroupfs. Kernel interface files behave unlike
 * ordinary files: they never get created by open(O_CREAT) (kernfs refuses), a
 * write is one value, and errors come back from write(2) (EINVAL for a bad
 * value, EBUSY for a busy group). These helpers keep the file name and value in
 * every error so a failure reads as one clear line.
 */
import { closeSync, constants, existsSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statfsSync, write, writeSync } from "node:fs";
import { join } from "node:path";
import { BerthError, Conflict, InvalidArgument, NotFound, PermissionDenied } from "../../errdefs.js";

type WriteObserver = (path: string, value: string) => void;
let observer: WriteObserver | undefined;

/**
 * Test hook: `fn` sees every successful write (path, value) in order. A fake
 * tree's plain file keeps only the last value, while the kernel treats each
 * write as one command (device rules, io.max lines), so tests assert the log.
 */
export function observeCgroupWrites(fn: WriteObserver | undefined): void {
  observer = fn;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Writes one value to an existing cgroup file. No O_CREAT: a missing file means
 * the controller is not enabled here, and creating a plain file in a fake tree
 * (or failing with EACCES on kernfs) would hide that.
 */
/**
 * Writes one value to a cgroup file. Synchronous inside: a cgroupfs write takes microseconds, and
 * a thread-pool round trip per open/write/close made a container's setup (dozens of writes) slower
 * by milliseconds. One write(2) per value, as the kernel expects.
 */
export async function writeCgroupFile(path: string, value: string, o: { offThread?: boolean } = {}): Promise<void> {
  let fd;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  } catch (err) {
    throw errnoError(err, `write ${JSON.stringify(value)} to ${path}`, "the file does not exist (controller not enabled for this group?)");
  }
  try {
    if (o.offThread) await new Promise<void>((res, rej) => write(fd, value, (e) => (e ? rej(e) : res())));
    else writeSync(fd, value);
    observer?.(path, value);
  } catch (err) {
    throw errnoError(err, `write ${JSON.stringify(value)} to ${path}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves `pid` into the groups at `dirs` (their cgroup.procs). A move takes the kernel's
 * cgroup_threadgroup_rwsem for writing, and the first one after a quiet spell waits out an RCU
 * grace period: 4–16 ms on this host, against 0.05 ms for the moves right after it (a throwaway
 * probe moving a sleeping process with 0 and 100 ms between rounds). So the first write goes to
 * the thread pool, the main thread is free meanwhile (runShim makes the next spare shim then),
 * and the rest follow synchronously.
 */
export async function moveProcess(dirs: string[], pid: number): Promise<void> {
  for (const [i, d] of dirs.entries()) await writeCgroupFile(join(d, "cgroup.procs"), String(pid), { offThread: i === 0 });
}

function errnoError(err: unknown, context: string, enoentHint?: string): BerthError {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === "ENOENT" && enoentHint ? enoentHint : `${e.code ?? ""} ${e.message ?? String(err)}`.trim();
  const msg = `${context}: ${why}`;
  switch (e.code) {
    case "ENOENT": return new NotFound(msg, { cause: err });
    case "EINVAL": case "ERANGE": case "EOVERFLOW": return new InvalidArgument(msg, { cause: err });
    case "EACCES": case "EPERM": return new PermissionDenied(msg, { cause: err });
    case "EBUSY": return new Conflict(msg, { cause: err });
    default: return new BerthError(msg, { cause: err });
  }
}

export async function exists(path: string): Promise<boolean> {
  return existsSync(path);
}

/**
 * Reads a file as trimmed text, or undefined when it does not exist. Synchronous inside, as
 * writeCgroupFile: a cgroupfs read takes microseconds, and readFile's five thread-pool round trips
 * (open, fstat, read, read, close) made a container's cgroup setup 5–7 ms instead of ~1.
 */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw errnoError(err, `read ${path}`);
  }
}

/**
 * Parses a single-number file. "max" (v2) and the v1 "unlimited" sentinel
 * (PAGE_COUNTER_MAX * PAGE_SIZE, 9223372036854771712 on 4 KiB pages, which a
 * JS number cannot even hold exactly) both become -1, berth's "no limit".
 */
export function parseLimit(text: string | undefined): number {
  if (text === undefined || text === "") return 0;
  if (text === "max") return -1;
  const n = Number(text);
  if (!Number.isFinite(n)) return 0;
  return n >= 2 ** 62 ? -1 : n;
}

export async function readNumber(path: string): Promise<number> {
  return parseLimit(await readOptional(path));
}

/** "key value" lines (cpu.stat, memory.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = parseLimit(v);
  }
  return out;
}

export async function readFlatKeyed(path: string): Promise<Record<string, number>> {
  return parseFlatKeyed(await readOptional(path));
}

/** Pids listed in a cgroup.procs file (empty when the file is missing). */
export async function readPids(dir: string): Promise<number[]> {
  const text = await readOptional(join(dir, "cgroup.procs"));
  if (!text) return [];
  return text.split("\n").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
}

/** Sub-directories (child cgroups) of a group dir; interface files are skipped. */
export async function childDirs(dir: string): Promise<string[]> {
  try {
    const ents = readdirSync(dir, { withFileTypes: true });
    return ents.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Pids of a group and every nested child group. */
export async function readPidsRecursive(dir: string): Promise<number[]> {
  const out = await readPids(dir);
  for (const c of await childDirs(dir)) out.push(...await readPidsRecursive(c));
  return out;
}

/**
 * Removes a group dir, nested children first. rmdir fails with EBUSY while the
 * kernel still counts members (a killed task is still exiting, or a zombie not
 * yet reaped), so retry with backoff until `timeoutMs`, then fail naming the
 * pids still inside. A fake tree holds plain files: those are removed too, as
 * kernfs makes them vanish with the directory.
 */
export async function removeGroupDir(dir: string, timeoutMs: number): Promise<void> {
  for (const c of await childDirs(dir)) await removeGroupDir(c, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    try {
      rmdirSync(dir); // cgroupfs: the kernel offlines the group asynchronously, rmdir returns at once
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code === "ENOTEMPTY" && !(await isCgroupfs(dir))) {
        await removeFakeFiles(dir);
        continue;
      }
      if (code !== "EBUSY" || Date.now() >= deadline) {
        const pids = await readPids(dir).catch(() => []);
        const members = pids.length ? ` (members still inside: ${pids.join(" ")})` : "";
        throw errnoError(err, `remove cgroup ${dir}${members}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
  }
}

async function isCgroupfs(dir: string): Promise<boolean> {
  const t = statfsSync(dir).type;
  return t === CGROUP_SUPER_MAGIC || t === CGROUP2_SUPER_MAGIC;
}

async function removeFakeFiles(dir: string): Promise<void> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) rmSync(join(dir, e.name), { force: true });
  }
}

/** statfs f_type values (linux/magic.h). */
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const CGROUP2_SUPER_MAGIC = 0x63677270;
