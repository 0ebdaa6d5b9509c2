/**
 * Finds out how cgroups are mounted, once: statfs of the root tells unified
 * (cgroup2 magic) from a tmpfs holding per-controller mounts; the mount table
 * (/proc/self/mountinfo) then names which v1 controllers are mounted where and
 * whether a cgroup2 tree sits beside them (hybrid; systemd puts it at
 * <root>/unified). Tests pass `mountinfo` text describing a fake tree.
 */
import { readFileSync, statfsSync } from "node:fs";
import { posix } from "node:path";
import { Unavailable } from "../../errdefs.js";
import type { CgroupMode } from "./types.js";
import { CGROUP2_SUPER_MAGIC } from "./fs-io.js";

export interface CgroupSetup {
  mode: CgroupMode;
  /** The root that was probed, e.g. /sys/fs/cgroup. */
  root: string;
  /** v1 controller (or "name=systemd") → its mount point. Co-mounted controllers share one. */
  v1: Record<string, string>;
  /** The cgroup2 mount point (v2: the root; hybrid: e.g. <root>/unified). */
  unified?: string;
}

/** The v1 controllers berth uses, in the order groups are created. */
export const V1_CONTROLLERS = [
  "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
  "hugetlb", "net_cls", "net_prio", "rdma", "perf_event", "name=systemd",
] as const;

interface MountEntry { mountPoint: string; fsType: string; superOptions: string[] }

/** Parses /proc/self/mountinfo (proc(5)): fields up to " - ", then fstype, source, super options. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const mp = left[4];
    if (!mp || right.length < 3) continue;
    // Mount points escape space, tab, newline and backslash as \ooo octal.
    const mountPoint = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ mountPoint, fsType: right[0]!, superOptions: right[2]!.split(",") });
  }
  return out;
}

export function detectCgroupSetup(opts: { root?: string; mountinfo?: string } = {}): CgroupSetup {
  const root = posix.normalize(opts.root ?? "/sys/fs/cgroup").replace(/(.)\/$/, "$1");
  const text = opts.mountinfo ?? readFileSync("/proc/self/mountinfo", "utf8");
  const mounts = parseMountinfo(text);
  let rootIsCgroup2 = mounts.some((m) => m.mountPoint === root && m.fsType === "cgroup2");
  if (!rootIsCgroup2 && opts.mountinfo === undefined) {
    try { rootIsCgroup2 = statfsSync(root).type === CGROUP2_SUPER_MAGIC; } catch { /* reported below */ }
  }
  if (rootIsCgroup2) return { mode: "v2", root, v1: {}, unified: root };

  const v1: Record<string, string> = {};
  let unified: string | undefined;
  for (const m of mounts) {
    if (posix.dirname(m.mountPoint) !== root && m.mountPoint !== root) continue;
    if (m.fsType === "cgroup") {
      for (const o of m.superOptions) {
        if ((V1_CONTROLLERS as readonly string[]).includes(o) && v1[o] === undefined) v1[o] = m.mountPoint;
      }
    } else if (m.fsType === "cgroup2" && unified === undefined) {
      unified = m.mountPoint;
    }
  }
  const hasV1 = Object.keys(v1).length > 0;
  if (hasV1 && unified) return { mode: "hybrid", root, v1, unified };
  if (hasV1) return { mode: "v1", root, v1 };
  if (unified) return { mode: "v2", root: unified, v1: {}, unified };
  throw new Unavailable(`no cgroup filesystem is mounted at ${root} (checked the mount table for cgroup and cgroup2 mounts)`);
}
