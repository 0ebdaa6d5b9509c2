/**
 * Fake cgroupfs trees for tests: temp directories holding the interface files
 * the kernel would create, with the kernel's default contents, plus the
 * mountinfo text that makes detection see them. Group directories are created
 * up front (kernfs fills a new dir itself; a plain mkdir cannot), and
 * create() treats an existing dir as "already there".
 */
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const UNLIMITED = "9223372036854771712";

const V1_FILES: Record<string, Record<string, string>> = {
  cpu: {
    "cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
    "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
    "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
  },
  cpuacct: {
    "cpuacct.usage": "0", "cpuacct.usage_percpu": "0 0", "cpuacct.usage_user": "0", "cpuacct.usage_sys": "0",
    "cpuacct.stat": "user 0\nsystem 0\n",
  },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  memory: {
    "memory.limit_in_bytes": UNLIMITED, "memory.memsw.limit_in_bytes": UNLIMITED, "memory.soft_limit_in_bytes": UNLIMITED,
    "memory.swappiness": "60", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    "memory.usage_in_bytes": "0", "memory.max_usage_in_bytes": "0", "memory.failcnt": "0", "memory.stat": "cache 0\n",
    "memory.kmem.tcp.limit_in_bytes": UNLIMITED, "memory.use_hierarchy": "1",
  },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n" },
  freezer: { "freezer.state": "THAWED" },
  blkio: {
    "blkio.bfq.weight": "100", "blkio.bfq.weight_device": "", "blkio.throttle.read_bps_device": "",
    "blkio.throttle.write_bps_device": "", "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
    "blkio.throttle.io_service_bytes": "Total 0\n", "blkio.throttle.io_service_bytes_recursive": "Total 0\n",
  },
  pids: { "pids.max": "max", "pids.current": "0" },
  hugetlb: {
    "hugetlb.2MB.limit_in_bytes": UNLIMITED, "hugetlb.2MB.rsvd.limit_in_bytes": UNLIMITED,
    "hugetlb.2MB.usage_in_bytes": "0", "hugetlb.2MB.failcnt": "0",
  },
  net_cls: { "net_cls.classid": "0" },
  net_prio: { "net_prio.ifpriomap": "" },
  rdma: { "rdma.max": "" },
  "name=systemd": {},
};

export const V2_CONTROLLERS = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"];

const V2_FILES: Record<string, string> = {
  "cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "",
  "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
  "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
  "cpuset.cpus": "", "cpuset.mems": "",
  "memory.max": "max", "memory.low": "0", "memory.high": "max", "memory.swap.max": "max", "memory.oom.group": "0",
  "memory.current": "0", "memory.peak": "0", "memory.stat": "file 0\n", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
  "pids.max": "max", "pids.current": "0", "io.weight": "default 100", "io.max": "", "io.stat": "",
  "hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0\n",
  "rdma.max": "",
};

export interface FakeTree {
  root: string;
  mountinfo: string;
  /** Makes one group dir (every level) in each hierarchy, with default files. */
  addGroup(path: string): void;
  remove(): void;
}

function fill(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cgroup.procs"), "");
  for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, f), v);
}

function mountLine(n: number, mp: string, fs: string, opts: string): string {
  return `${30 + n} 23 0:${40 + n} / ${mp.replace(/ /g, "\\040")} rw,relatime - ${fs} ${fs} ${opts}`;
}

/** v1 tree with the given controllers (default: the ones this host mounts). */
export function fakeV1Tree(controllers = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"], unifiedControllers?: string[]): FakeTree {
  const root = mkdtempSync(join(tmpdir(), "berth-fake-cg-"));
  const lines = [`29 23 0:28 / ${root} rw - tmpfs tmpfs rw,mode=755`];
  const mountDir = (c: string): string => join(root, c === "name=systemd" ? "systemd" : c);
  controllers.forEach((c, i) => {
    const files = { ...V1_FILES[c] };
    if (c === "cpuset") Object.assign(files, { "cpuset.cpus": "0-1", "cpuset.mems": "0" });
    fill(mountDir(c), files);
    lines.push(mountLine(i, mountDir(c), "cgroup", `rw,${c}`));
  });
  const unified = join(root, "unified");
  if (unifiedControllers) {
    fill(unified, { "cgroup.controllers": unifiedControllers.join(" "), "cgroup.subtree_control": "" });
    lines.push(mountLine(controllers.length, unified, "cgroup2", "rw"));
  }
  return {
    root,
    mountinfo: lines.join("\n") + "\n",
    addGroup(path: string): void {
      const segs = path.split("/").filter(Boolean);
      for (const c of controllers) {
        let d = mountDir(c);
        for (const s of segs) {
          d = join(d, s);
          fill(d, V1_FILES[c]!);
        }
      }
      if (unifiedControllers) addV2Levels(unified, segs, unifiedControllers);
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

function addV2Levels(root: string, segs: string[], controllers: string[]): void {
  let d = root;
  for (const s of segs) {
    d = join(d, s);
    const files: Record<string, string> = { ...V2_FILES, "cgroup.controllers": controllers.join(" "), "cgroup.subtree_control": "" };
    for (const k of Object.keys(files)) {
      const ctrl = k.split(".")[0]!;
      if (ctrl !== "cgroup" && !controllers.includes(ctrl) && !(ctrl === "cpu" && k === "cpu.stat")) delete files[k];
    }
    fill(d, files);
  }
}

/** A unified (v2) tree whose root offers `controllers`. */
export function fakeV2Tree(controllers = V2_CONTROLLERS): FakeTree {
  const root = mkdtempSync(join(tmpdir(), "berth-fake-cg2-"));
  fill(root, { "cgroup.controllers": controllers.join(" "), "cgroup.subtree_control": "" });
  return {
    root,
    mountinfo: `${mountLine(0, root, "cgroup2", "rw,nsdelegate")}\n`,
    addGroup: (path: string) => addV2Levels(root, path.split("/").filter(Boolean), controllers),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
