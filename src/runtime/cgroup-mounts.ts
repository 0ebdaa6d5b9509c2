/**
 * Sources for the spec's `cgroup` mount: the host's cgroup hierarchies (from mountinfo) and the
 * container's directory in each. runc mounts the same set, so a container sees the same
 * /sys/fs/cgroup under both runtimes.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { CgroupMountSource } from "./plan.js";

interface HostHierarchy { mountpoint: string; fstype: string; superOptions: string; root: string }

function hostHierarchies(): HostHierarchy[] {
  const out: HostHierarchy[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const parts = line.split(" ");
    const sep = parts.indexOf("-");
    if (sep < 0) continue;
    const fstype = parts[sep + 1];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({ mountpoint: parts[4]!.replace(/\\040/g, " "), fstype, superOptions: parts[sep + 3] ?? "", root: parts[3]! });
  }
  return out;
}

function selfCgroup(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, ctrls, path] = line.split(":");
    if (ctrls === undefined || path === undefined) continue;
    for (const c of ctrls === "" ? [""] : ctrls.split(",")) m.set(c, path);
  }
  return m;
}

export function cgroupMountSources(cgroupPath: string): CgroupMountSource[] {
  const self = selfCgroup();
  const out: CgroupMountSource[] = [];
  const all = hostHierarchies();
  const unifiedOnly = all.length === 1 && all[0]!.fstype === "cgroup2";
  for (const h of all) {
    const ctrls = h.superOptions.split(",").filter((o) => o !== "rw" && o !== "ro");
    const key = h.fstype === "cgroup2" ? "" : ctrls.find((c) => c.startsWith("name=")) ?? ctrls[0] ?? "";
    let dir = join(h.mountpoint, cgroupPath);
    if (!existsSync(dir)) dir = join(h.mountpoint, self.get(key) ?? "/");
    out.push({
      name: unifiedOnly ? "" : basename(h.mountpoint),
      fstype: h.fstype,
      options: ctrls.some((c) => c.startsWith("name=")) ? `none,${ctrls.join(",")}` : ctrls.join(","),
      dir,
    });
  }
  return out;
}
