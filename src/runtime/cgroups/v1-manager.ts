/**
 * cgroup v1: one hierarchy per controller (or per co-mounted set such as
 * "cpu,cpuacct"), each with its own copy of the group's directory.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { LinuxResources } from "../spec.js";
import { FailedPrecondition, Unavailable, wrap } from "../../errdefs.js";
import type { Cgroup, CgroupManager, CgroupStats, ManagerOptions } from "./types.js";
import { normalizeParent, resolveCgroupPath, groupDir } from "./cgroup-path.js";
import { moveProcess, readOptional, readPids, readPidsRecursive, removeGroupDir, sleep, writeCgroupFile } from "./fs-io.js";
import { applyV1Resources, type V1Dirs } from "./v1-resources.js";
import { readV1OomKills, readV1Stats } from "./v1-stats.js";
import { watchCounter } from "./oom-watch.js";
import { V1_CONTROLLERS } from "./detect.js";

export class CgroupV1Manager implements CgroupManager {
  readonly mode = "v1" as const;
  readonly parent: string;
  /** Controller → mount point, only controllers berth uses and the host mounts. */
  readonly hierarchies: Record<string, string>;

  constructor(hierarchies: Record<string, string>, readonly opts: ManagerOptions = {}) {
    this.parent = normalizeParent(opts.parent ?? "/berth");
    this.hierarchies = {};
    for (const c of V1_CONTROLLERS) if (hierarchies[c]) this.hierarchies[c] = hierarchies[c]!;
  }

  resolve(cgroupsPath: string | undefined, id: string): string {
    return resolveCgroupPath(cgroupsPath, id, this.parent);
  }

  async create(path: string, resources?: LinuxResources): Promise<{ cgroup: Cgroup; warnings: string[] }> {
    const g = this.open(path);
    const created = await g.makeDirs();
    try {
      const warnings = resources ? await g.setResources(resources) : [];
      return { cgroup: g, warnings };
    } catch (err) {
      if (created) await g.destroy().catch(() => undefined);
      throw wrap(err, `create cgroup ${g.path}`);
    }
  }

  open(path: string): V1Cgroup {
    const p = resolveCgroupPath(path, "", this.parent);
    const dirs: V1Dirs = {};
    for (const [c, mount] of Object.entries(this.hierarchies)) dirs[c] = groupDir(mount, p);
    return new V1Cgroup(p, this.hierarchies, dirs, this.opts);
  }
}

export class V1Cgroup implements Cgroup {
  constructor(
    readonly path: string,
    private readonly mounts: Record<string, string>,
    private readonly groupDirs: V1Dirs,
    private readonly opts: ManagerOptions,
  ) {}

  dirs(): Record<string, string> {
    return { ...this.groupDirs };
  }

  /** Each distinct directory once (co-mounted controllers share one). */
  private uniqueDirs(): string[] {
    return [...new Set(Object.values(this.groupDirs))];
  }

  /**
   * Creates the group in every hierarchy, one level at a time so cpuset levels
   * can be filled: a new cpuset group starts with empty cpuset.cpus/mems and the
   * kernel refuses tasks (ENOSPC) until they are set, so copy the parent's.
   * Returns true when the leaf did not exist before (create() undoes only that).
   */
  async makeDirs(): Promise<boolean> {
    let createdLeaf = false;
    const segments = this.path.split("/").filter(Boolean);
    const seen = new Set<string>();
    for (const [ctrl, mount] of Object.entries(this.mounts)) {
      if (seen.has(mount)) continue;
      seen.add(mount);
      let cur = mount;
      for (let i = 0; i < segments.length; i++) {
        const parent = cur;
        cur = join(cur, segments[i]!);
        let made = false;
        try {
          mkdirSync(cur); // cgroupfs: microseconds, no thread-pool hop
          made = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw wrap(err, `create cgroup dir ${cur}`);
        }
        if (made && i === segments.length - 1) createdLeaf = true;
        if (ctrl === "cpuset" || mount === this.mounts.cpuset) await fillCpuset(parent, cur);
      }
    }
    return createdLeaf;
  }

  async addProcess(pid: number): Promise<void> {
    await moveProcess(this.uniqueDirs(), pid);
  }

  async setResources(r: LinuxResources): Promise<string[]> {
    return applyV1Resources(this.groupDirs, r);
  }

  stats(): Promise<CgroupStats> {
    return readV1Stats(this.groupDirs);
  }

  /** The hierarchy used to list members: every v1 hierarchy holds the same tasks. */
  private anyDir(): string {
    const d = this.groupDirs.freezer ?? this.groupDirs["name=systemd"] ?? this.groupDirs.pids ?? this.uniqueDirs()[0];
    if (!d) throw new FailedPrecondition("no cgroup v1 hierarchy is mounted");
    return d;
  }

  pids(): Promise<number[]> {
    return readPids(this.anyDir());
  }

  private freezerDir(): string {
    const d = this.groupDirs.freezer;
    if (!d) throw new FailedPrecondition(`freeze ${this.path}: the freezer controller is not mounted`);
    return d;
  }

  /**
   * Writes FROZEN and waits for freezer.state to read FROZEN (it reads
   * FREEZING while tasks are still being stopped). The write is repeated now
   * and then, as a task in an uninterruptible sleep can make the kernel give
   * up on one attempt; on timeout the group is thawed again.
   */
  async freeze(): Promise<void> {
    const f = join(this.freezerDir(), "freezer.state");
    const deadline = Date.now() + (this.opts.freezeTimeoutMs ?? 5000);
    for (let i = 0; ; i++) {
      if (i % 10 === 0) await writeCgroupFile(f, "FROZEN");
      if ((await readOptional(f)) === "FROZEN") return;
      if (Date.now() >= deadline) {
        await writeCgroupFile(f, "THAWED").catch(() => undefined);
        throw new Unavailable(`freeze ${this.path}: ${f} still reads FREEZING after ${this.opts.freezeTimeoutMs ?? 5000} ms (a task is stuck in the kernel); thawed again`);
      }
      await sleep(Math.min(1 + i, 20));
    }
  }

  async thaw(): Promise<void> {
    await writeCgroupFile(join(this.freezerDir(), "freezer.state"), "THAWED");
  }

  async frozen(): Promise<boolean> {
    const d = this.groupDirs.freezer;
    if (!d) return false;
    return (await readOptional(join(d, "freezer.state"))) === "FROZEN";
  }

  async killAll(signal: NodeJS.Signals | number): Promise<void> {
    const canFreeze = this.groupDirs.freezer !== undefined;
    if (canFreeze) await this.freeze();
    try {
      signalAll(await readPidsRecursive(this.anyDir()), signal);
    } finally {
      if (canFreeze) await this.thaw();
    }
  }

  async destroy(): Promise<void> {
    let first: unknown;
    for (const d of this.uniqueDirs()) {
      try {
        await removeGroupDir(d, this.opts.destroyTimeoutMs ?? 5000);
      } catch (err) {
        first ??= err;
      }
    }
    if (first) throw first;
  }

  oomKillCount(): Promise<number> {
    return readV1OomKills(this.groupDirs.memory);
  }

  watchOom(onOom: (oomKills: number) => void, opts: { intervalMs?: number } = {}): { close(): void } {
    return watchCounter(() => this.oomKillCount(), onOom, { intervalMs: opts.intervalMs });
  }
}

async function fillCpuset(parent: string, dir: string): Promise<void> {
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    const cur = await readOptional(join(dir, f));
    if (cur === undefined || cur !== "") continue;
    const fromParent = (await readOptional(join(parent, f))) ?? "";
    if (fromParent) await writeCgroupFile(join(dir, f), fromParent);
  }
}

/** Signals each pid; ones that already exited (ESRCH) are fine. */
export function signalAll(pids: number[], signal: NodeJS.Signals | number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw wrap(err, `signal ${signal} to pid ${pid}`);
    }
  }
}
