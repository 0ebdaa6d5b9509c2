/**
 * cgroup v2: one unified tree. A controller is usable in a group only when
 * every ancestor lists it in cgroup.subtree_control ("top-down constraint"),
 * so create() enables them level by level from the root down to the parent.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { LinuxResources } from "../spec.js";
import { FailedPrecondition, Unavailable, wrap } from "../../errdefs.js";
import type { Cgroup, CgroupManager, CgroupStats, ManagerOptions } from "./types.js";
import { groupDir, normalizeParent, resolveCgroupPath } from "./cgroup-path.js";
import { exists, moveProcess, readFlatKeyed, readOptional, readPids, readPidsRecursive, removeGroupDir, sleep, writeCgroupFile } from "./fs-io.js";
import { applyV2Resources } from "./v2-resources.js";
import { readV2OomKills, readV2Stats } from "./v2-stats.js";
import { watchCounter } from "./oom-watch.js";
import { signalAll } from "./v1-manager.js";

export class CgroupV2Manager implements CgroupManager {
  readonly mode = "v2" as const;
  readonly parent: string;

  /** `root` is the cgroup2 mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host). */
  constructor(readonly root: string, readonly opts: ManagerOptions = {}) {
    this.parent = normalizeParent(opts.parent ?? "/berth");
  }

  resolve(cgroupsPath: string | undefined, id: string): string {
    return resolveCgroupPath(cgroupsPath, id, this.parent);
  }

  async create(path: string, resources?: LinuxResources): Promise<{ cgroup: Cgroup; warnings: string[] }> {
    const g = this.open(path);
    const { createdLeaf, warnings } = await g.makeDirs();
    try {
      if (resources) warnings.push(...(await g.setResources(resources)));
      return { cgroup: g, warnings };
    } catch (err) {
      if (createdLeaf) await g.destroy().catch(() => undefined);
      throw wrap(err, `create cgroup ${g.path}`);
    }
  }

  open(path: string): V2Cgroup {
    const p = resolveCgroupPath(path, "", this.parent);
    return new V2Cgroup(p, this.root, groupDir(this.root, p), this.opts);
  }
}

export class V2Cgroup implements Cgroup {
  constructor(
    readonly path: string,
    private readonly root: string,
    readonly dir: string,
    private readonly opts: ManagerOptions,
  ) {}

  dirs(): Record<string, string> {
    return { unified: this.dir };
  }

  /**
   * mkdir each level; at the root and every intermediate level enable in
   * cgroup.subtree_control each controller that level offers (its
   * cgroup.controllers) and does not yet delegate. Never in the leaf: a group
   * with processes cannot delegate domain controllers ("no internal process"
   * rule). A controller the kernel refuses (e.g. cpu while realtime tasks sit in
   * a child) becomes a warning, and setResources fails later if it is needed.
   */
  async makeDirs(): Promise<{ createdLeaf: boolean; warnings: string[] }> {
    const warnings: string[] = [];
    const segments = this.path.split("/").filter(Boolean);
    let cur = this.root;
    let createdLeaf = false;
    for (let i = 0; i < segments.length; i++) {
      await this.enableControllers(cur, warnings);
      cur = join(cur, segments[i]!);
      try {
        mkdirSync(cur); // cgroupfs: microseconds, no thread-pool hop
        if (i === segments.length - 1) createdLeaf = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw wrap(err, `create cgroup dir ${cur}`);
      }
    }
    return { createdLeaf, warnings };
  }

  private async enableControllers(dir: string, warnings: string[]): Promise<void> {
    const offered = words(await readOptional(join(dir, "cgroup.controllers")));
    const enabled = new Set(words(await readOptional(join(dir, "cgroup.subtree_control"))));
    const missing = offered.filter((c) => !enabled.has(c));
    if (missing.length === 0) return;
    const f = join(dir, "cgroup.subtree_control");
    try {
      await writeCgroupFile(f, missing.map((c) => `+${c}`).join(" "));
    } catch {
      // One refused controller fails the whole write; retry one at a time.
      for (const c of missing) {
        try { await writeCgroupFile(f, `+${c}`); } catch (err) { warnings.push(`controller ${c} not enabled in ${f}: ${(err as Error).message}`); }
      }
    }
  }

  /** Controllers usable in this group. */
  async controllers(): Promise<Set<string>> {
    return new Set(words(await readOptional(join(this.dir, "cgroup.controllers"))));
  }

  async addProcess(pid: number): Promise<void> {
    await moveProcess([this.dir], pid);
  }

  async setResources(r: LinuxResources): Promise<string[]> {
    return applyV2Resources(this.dir, r, await this.controllers(), this.opts.attachDeviceFilter);
  }

  stats(): Promise<CgroupStats> {
    return readV2Stats(this.dir);
  }

  pids(): Promise<number[]> {
    return readPids(this.dir);
  }

  /** cgroup.freeze (Linux 5.2+), then wait for cgroup.events to say "frozen 1". */
  async freeze(): Promise<void> {
    const f = join(this.dir, "cgroup.freeze");
    if (!(await exists(f))) throw new FailedPrecondition(`freeze ${this.path}: ${f} is missing (cgroup v2 freezer needs Linux 5.2+)`);
    await writeCgroupFile(f, "1");
    const timeout = this.opts.freezeTimeoutMs ?? 5000;
    const deadline = Date.now() + timeout;
    for (let i = 0; !(await this.frozen()); i++) {
      if (Date.now() >= deadline) {
        await writeCgroupFile(f, "0").catch(() => undefined);
        throw new Unavailable(`freeze ${this.path}: cgroup.events did not report "frozen 1" within ${timeout} ms; thawed again`);
      }
      await sleep(Math.min(1 + i, 20));
    }
  }

  async thaw(): Promise<void> {
    await writeCgroupFile(join(this.dir, "cgroup.freeze"), "0");
  }

  async frozen(): Promise<boolean> {
    return (await readFlatKeyed(join(this.dir, "cgroup.events"))).frozen === 1;
  }

  /**
   * SIGKILL goes through cgroup.kill (Linux 5.14+), which kills the group and
   * its descendants atomically with no pid races. Other signals (and older
   * kernels) freeze, signal each member, and thaw.
   */
  async killAll(signal: NodeJS.Signals | number): Promise<void> {
    const isKill = signal === "SIGKILL" || signal === 9;
    const killFile = join(this.dir, "cgroup.kill");
    if (isKill && (await exists(killFile))) {
      await writeCgroupFile(killFile, "1");
      return;
    }
    const canFreeze = await exists(join(this.dir, "cgroup.freeze"));
    if (canFreeze) await this.freeze();
    try {
      signalAll(await readPidsRecursive(this.dir), signal);
    } finally {
      if (canFreeze) await this.thaw();
    }
  }

  async destroy(): Promise<void> {
    await removeGroupDir(this.dir, this.opts.destroyTimeoutMs ?? 5000);
  }

  oomKillCount(): Promise<number> {
    return readV2OomKills(this.dir);
  }

  watchOom(onOom: (oomKills: number) => void, opts: { intervalMs?: number } = {}): { close(): void } {
    return watchCounter(() => this.oomKillCount(), onOom, { intervalMs: opts.intervalMs, inotifyFile: join(this.dir, "memory.events") });
  }
}

function words(s: string | undefined): string[] {
  return (s ?? "").split(/\s+/).filter(Boolean);
}
