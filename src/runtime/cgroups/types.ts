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

export interface CgroupStats {
  cpu: { usageNs: number; userNs: number; systemNs: number; throttledPeriods: number; throttledNs: number; periods: number };
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
  /** Absolute directories of this group, per hierarchy name (for mounts into the container, tests). */
  dirs(): Record<string, string>;
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
