import type { LinuxResources } from "../spec.js";

/**
 * The one cgroup interface the runtime and the engine use.
 *
 * Words used throughout:
 * - `path`: the OCI `linux.cgroupsPath` after resolution — an absolute path in
 *   the cgroup hierarchy such as "/berth/c1" (relative paths given by a spec are
 *   placed under the manager's parent, e.g. "/berth").
 * - hierarchy: one mounted cgroup tree. On v1 there is one per controller
 *   (/sys/fs/cgroup/memory, …); on v2 there is one (/sys/fs/cgroup); on a hybrid
 *   host both exist (this machine: v1 controllers plus /sys/fs/cgroup/unified
 *   holding hugetlb).
 *
 * Managers are chosen once by `detectCgroupManager()` (statfs of the root) and
 * take their root directory as an argument so tests can use a fake tree.
 */
export type CgroupMode = "v1" | "v2" | "hybrid";

/**
 * A snapshot of a group's counters. Limits that are "unlimited" read as -1
 * (v2 "max", and v1's PAGE_COUNTER_MAX sentinel, which a JS number cannot hold
 * exactly). Counters of a controller the host lacks read as 0.
 */
export interface CgroupStats {
  cpu: { usageNs: number; userNs: number; systemNs: number; throttledPeriods: number; throttledNs: number; periods: number; perCpuNs?: number[] };
  memory: { usage: number; limit: number; maxUsage: number; cache: number; inactiveFile: number; failcnt: number; oomKills: number; underOom: boolean; stats: Record<string, number> };
  pids: { current: number; limit: number };
  blkio: { readBytes: number; writeBytes: number; entries: { major: number; minor: number; op: string; value: number }[] };
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

export interface Cgroup {
  readonly path: string;
  /** Writes pid into cgroup.procs of every hierarchy berth uses. */
  addProcess(pid: number): Promise<void>;
  /** Sets (or updates live) resources. Returns warnings (e.g. kernel memory deprecated). */
  setResources(r: LinuxResources): Promise<string[]>;
  stats(): Promise<CgroupStats>;
  /** Pids of every process in the group (from cgroup.procs). */
  pids(): Promise<number[]>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  frozen(): Promise<boolean>;
  /** Sends signal to every process; with freeze around it so no fork escapes. */
  killAll(signal: NodeJS.Signals | number): Promise<void>;
  /** Removes the directories, retrying while the kernel still reports members (EBUSY). */
  destroy(): Promise<void>;
  /**
   * Absolute directories of this group, per hierarchy name (for mounts into the
   * container, tests): v1 keys are controller names ("cpu", "memory", …,
   * "name=systemd"); the cgroup2 directory is under "unified".
   */
  dirs(): Record<string, string>;
  /**
   * How many times the kernel's OOM killer killed a task of this group: v2
   * memory.events oom_kill; v1 memory.oom_control oom_kill (kernel ≥ 4.13),
   * else 1 while under_oom is set. 0 without a memory controller.
   */
  oomKillCount(): Promise<number>;
  /**
   * Calls `onOom` with the new total each time oomKillCount() grows. Polls every
   * `intervalMs` (default 250; v1's eventfd notification needs eventfd(2), which
   * Node lacks) and, on v2, also wakes on inotify of memory.events. The timer is
   * unref'd. Call close() to stop.
   */
  watchOom(onOom: (oomKills: number) => void, opts?: { intervalMs?: number }): { close(): void };
}

export interface CgroupManager {
  readonly mode: CgroupMode;
  /** The root berth resolves relative cgroupsPath under, e.g. "/berth". */
  readonly parent: string;
  /** Resolves an OCI cgroupsPath (absolute or relative, empty → parent/id). */
  resolve(cgroupsPath: string | undefined, id: string): string;
  /** Creates the group (all hierarchies) and applies resources. */
  create(path: string, resources?: LinuxResources): Promise<{ cgroup: Cgroup; warnings: string[] }>;
  /** Opens an existing group without creating anything. */
  open(path: string): Cgroup;
}

/** Options every manager takes (tests shorten the timeouts). */
export interface ManagerOptions {
  /** Resolved parent for relative cgroupsPath (default "/berth"). */
  parent?: string;
  /** How long destroy() retries rmdir while the kernel reports EBUSY (default 5000 ms). */
  destroyTimeoutMs?: number;
  /** How long freeze() waits for the kernel to report the group frozen (default 5000 ms). */
  freezeTimeoutMs?: number;
  /** cgroup v2 device rules: attaches the eBPF program (default: bpf(2) through the addon; fake trees record it). */
  attachDeviceFilter?: (cgroupDir: string, program: Buffer | null) => void | Promise<void>;
}
