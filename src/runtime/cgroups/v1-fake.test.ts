/**
 * cgroup v1 manager against a fake tree: exact file writes for every OCI
 * resource, write ordering, stats parsing, freezer, destroy.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { LinuxResources } from "../spec.js";
import { detectCgroupManager } from "./index.js";
import { CgroupV1Manager, type V1Cgroup } from "./v1-manager.js";
import { fakeV1Tree, type FakeTree } from "./fake-tree.js";
import { observeCgroupWrites } from "./fs-io.js";
import { KERNEL_MEMORY_WARNING } from "./convert.js";

const MiB = 1024 * 1024;
const ALL = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb", "net_cls", "net_prio", "rdma", "name=systemd"];

function setup(t: { after(fn: () => void): void }, controllers = ALL): { tree: FakeTree; mgr: CgroupV1Manager; log: string[] } {
  const tree = fakeV1Tree(controllers);
  tree.addGroup("/berth/c1");
  const log: string[] = [];
  observeCgroupWrites((p, v) => log.push(`${p.slice(tree.root.length + 1)} = ${v}`));
  t.after(() => { observeCgroupWrites(undefined); tree.remove(); });
  const mgr = detectCgroupManager({ root: tree.root, mountinfo: tree.mountinfo, destroyTimeoutMs: 200 });
  assert.ok(mgr instanceof CgroupV1Manager);
  return { tree, mgr, log };
}

test("detection of a fake v1 tree lists each hierarchy", (t) => {
  const { tree, mgr } = setup(t);
  assert.equal(mgr.mode, "v1");
  assert.equal(mgr.parent, "/berth");
  const h = (mgr as CgroupV1Manager).hierarchies;
  assert.equal(h.memory, join(tree.root, "memory"));
  assert.equal(h["name=systemd"], join(tree.root, "systemd"));
  assert.equal(Object.keys(h).length, ALL.length);
  assert.equal(mgr.resolve("", "c9"), "/berth/c9");
  assert.equal(mgr.resolve("/x/y", "c9"), "/x/y");
  assert.equal(mgr.resolve("rel", "c9"), "/berth/rel");
});

test("create copies cpuset.cpus/mems from the parent level by level", async (t) => {
  const { tree, mgr, log } = setup(t, ["cpuset", "memory"]);
  const { cgroup, warnings } = await mgr.create("/berth/c1");
  assert.deepEqual(warnings, []);
  assert.deepEqual(log, [
    "cpuset/berth/cpuset.cpus = 0-1", "cpuset/berth/cpuset.mems = 0",
    "cpuset/berth/c1/cpuset.cpus = 0-1", "cpuset/berth/c1/cpuset.mems = 0",
  ]);
  assert.deepEqual(cgroup.dirs(), { cpuset: join(tree.root, "cpuset/berth/c1"), memory: join(tree.root, "memory/berth/c1") });
  // A brand-new group (not pre-made by the fake) is created too.
  await mgr.create("/berth/new");
  assert.ok(existsSync(join(tree.root, "memory/berth/new")));
});

test("setResources writes every OCI resource to its v1 file, in order", async (t) => {
  const { mgr, log } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  log.length = 0;
  const r: LinuxResources = {
    devices: [
      { allow: false, access: "rwm" },
      { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
      { allow: true, type: "c", major: 136, access: "rw" },
    ],
    memory: { limit: 256 * MiB, reservation: 128 * MiB, swap: 512 * MiB, kernel: 64 * MiB, kernelTCP: 64 * MiB, swappiness: 10, disableOOMKiller: true },
    cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, realtimePeriod: 1000000, realtimeRuntime: 950000, cpus: "0", mems: "0", idle: 0 },
    pids: { limit: 100 },
    blockIO: {
      weight: 500, leafWeight: 300, weightDevice: [{ major: 254, minor: 0, weight: 200 }],
      throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }], throttleWriteBpsDevice: [{ major: 254, minor: 0, rate: 2097152 }],
      throttleReadIOPSDevice: [{ major: 254, minor: 0, rate: 100 }], throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 200 }],
    },
    hugepageLimits: [{ pageSize: "2MB", limit: 4 * 2 * MiB }],
    network: { classID: 0x100001, priorities: [{ name: "eth0", priority: 5 }, { name: "lo", priority: 1 }] },
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
  };
  const warnings = await cgroup.setResources(r);
  const g = "berth/c1";
  assert.deepEqual(log, [
    `cpuset/${g}/cpuset.cpus = 0`, `cpuset/${g}/cpuset.mems = 0`,
    `cpu/${g}/cpu.shares = 512`, `cpu/${g}/cpu.cfs_period_us = 100000`, `cpu/${g}/cpu.cfs_quota_us = 50000`,
    `cpu/${g}/cpu.cfs_burst_us = 1000`, `cpu/${g}/cpu.rt_period_us = 1000000`, `cpu/${g}/cpu.rt_runtime_us = 950000`, `cpu/${g}/cpu.idle = 0`,
    `memory/${g}/memory.kmem.tcp.limit_in_bytes = 67108864`,
    // memsw is unlimited now, so it is not "growing": the limit goes first.
    `memory/${g}/memory.limit_in_bytes = 268435456`, `memory/${g}/memory.memsw.limit_in_bytes = 536870912`,
    `memory/${g}/memory.soft_limit_in_bytes = 134217728`, `memory/${g}/memory.swappiness = 10`, `memory/${g}/memory.oom_control = 1`,
    `pids/${g}/pids.max = 100`,
    `blkio/${g}/blkio.bfq.weight = 500`, `blkio/${g}/blkio.bfq.weight_device = 254:0 200`,
    `blkio/${g}/blkio.throttle.read_bps_device = 254:0 1048576`, `blkio/${g}/blkio.throttle.write_bps_device = 254:0 2097152`,
    `blkio/${g}/blkio.throttle.read_iops_device = 254:0 100`, `blkio/${g}/blkio.throttle.write_iops_device = 254:0 200`,
    `hugetlb/${g}/hugetlb.2MB.limit_in_bytes = 8388608`, `hugetlb/${g}/hugetlb.2MB.rsvd.limit_in_bytes = 8388608`,
    `devices/${g}/devices.deny = a *:* rwm`, `devices/${g}/devices.allow = c 1:3 rwm`, `devices/${g}/devices.allow = c 136:* rw`,
    `net_cls/${g}/net_cls.classid = 1048577`, `net_prio/${g}/net_prio.ifpriomap = eth0 5`, `net_prio/${g}/net_prio.ifpriomap = lo 1`,
    `rdma/${g}/rdma.max = mlx5_1 hca_handle=3 hca_object=10000`,
  ]);
  assert.deepEqual(warnings, [
    KERNEL_MEMORY_WARNING,
    "memory.kernelTCP (kernel TCP buffer limit) is deprecated; set memory.kmem.tcp.limit_in_bytes anyway",
    "blockIO.leafWeight ignored: this kernel has no blkio.leaf_weight (CFQ only)",
  ]);
  const d = cgroup.dirs();
  assert.equal(readFileSync(join(d.memory!, "memory.limit_in_bytes"), "utf8"), "268435456");
  assert.equal(readFileSync(join(d.pids!, "pids.max"), "utf8"), "100");
});

test("memory limit and memsw are written in the order the kernel accepts", async (t) => {
  const { mgr, log } = setup(t, ["memory"]);
  const { cgroup } = await mgr.create("/berth/c1");
  const d = cgroup.dirs().memory!;
  writeFileSync(join(d, "memory.limit_in_bytes"), String(50 * MiB));
  writeFileSync(join(d, "memory.memsw.limit_in_bytes"), String(60 * MiB));
  log.length = 0;
  await cgroup.setResources({ memory: { limit: 70 * MiB, swap: 80 * MiB } });
  assert.deepEqual(log, [`memory/berth/c1/memory.memsw.limit_in_bytes = ${80 * MiB}`, `memory/berth/c1/memory.limit_in_bytes = ${70 * MiB}`]);
  log.length = 0;
  await cgroup.setResources({ memory: { limit: 40 * MiB, swap: 45 * MiB } });
  assert.deepEqual(log, [`memory/berth/c1/memory.limit_in_bytes = ${40 * MiB}`, `memory/berth/c1/memory.memsw.limit_in_bytes = ${45 * MiB}`]);
  log.length = 0;
  await cgroup.setResources({ memory: { limit: -1, swap: -1 } });
  assert.deepEqual(log, ["memory/berth/c1/memory.memsw.limit_in_bytes = -1", "memory/berth/c1/memory.limit_in_bytes = -1"]);
  await assert.rejects(cgroup.setResources({ memory: { limit: 100, swap: 50 } }), { name: "InvalidArgument", message: /lower than the memory limit/ });
});

test("live update writes only the fields given; pids 0 and -1 mean max", async (t) => {
  const { mgr, log } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  log.length = 0;
  await cgroup.setResources({ pids: { limit: 0 } });
  await cgroup.setResources({ pids: { limit: -1 } });
  await cgroup.setResources({ cpu: { quota: -1 } });
  await cgroup.setResources({ devices: [{ allow: false, type: "c", major: 10, minor: 200, access: "rwm" }] });
  assert.deepEqual(log, [
    "pids/berth/c1/pids.max = max", "pids/berth/c1/pids.max = max", "cpu/berth/c1/cpu.cfs_quota_us = -1",
    // Not starting with an all-devices rule: reset to allow-all first.
    "devices/berth/c1/devices.allow = a *:* rwm", "devices/berth/c1/devices.deny = c 10:200 rwm",
  ]);
});

test("refusals: unified on v1, controller not mounted, bad values", async (t) => {
  const { mgr } = setup(t, ["cpu", "memory", "pids"]);
  const { cgroup } = await mgr.create("/berth/c1");
  await assert.rejects(cgroup.setResources({ unified: { "memory.high": "1G" } }), { name: "InvalidArgument", message: /needs cgroup v2/ });
  await assert.rejects(cgroup.setResources({ hugepageLimits: [{ pageSize: "2MB", limit: 1 }] }), {
    name: "FailedPrecondition", message: "resources need the hugetlb controller, which is not mounted as a cgroup v1 hierarchy on this host",
  });
  await assert.rejects(cgroup.setResources({ memory: { swappiness: 101 } }), { message: "memory swappiness 101: valid range is 0-100" });
  // A failing create removes the group it made.
  await assert.rejects(mgr.create("/berth/fresh", { blockIO: { weight: 100 } }), { name: "FailedPrecondition", message: /create cgroup \/berth\/fresh: .*blkio/ });
  assert.equal(existsSync(join((mgr as CgroupV1Manager).hierarchies.memory!, "berth/fresh")), false);
});

test("stats parse v1 fixture files", async (t) => {
  const { mgr } = setup(t);
  const g = mgr.open("/berth/c1") as V1Cgroup;
  const d = g.dirs();
  const put = (c: string, f: string, v: string): void => writeFileSync(join(d[c]!, f), v);
  put("cpuacct", "cpuacct.usage", "123456789\n");
  put("cpuacct", "cpuacct.usage_percpu", "100 200 \n");
  put("cpuacct", "cpuacct.usage_user", "1000\n");
  put("cpuacct", "cpuacct.usage_sys", "2000\n");
  put("cpu", "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 4000\n");
  put("memory", "memory.usage_in_bytes", "1048576\n");
  put("memory", "memory.max_usage_in_bytes", "2097152\n");
  put("memory", "memory.limit_in_bytes", "9223372036854771712\n");
  put("memory", "memory.failcnt", "7\n");
  put("memory", "memory.stat", "cache 111\nrss 222\ntotal_cache 333\ntotal_inactive_file 444\n");
  put("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 1\noom_kill 2\n");
  put("pids", "pids.current", "5\n");
  put("blkio", "blkio.throttle.io_service_bytes_recursive", "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Total 12288\nTotal 12288\n");
  put("hugetlb", "hugetlb.2MB.usage_in_bytes", "2097152\n");
  put("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304\n");
  put("hugetlb", "hugetlb.2MB.failcnt", "1\n");
  assert.deepEqual(await g.stats(), {
    cpu: { usageNs: 123456789, userNs: 1000, systemNs: 2000, throttledPeriods: 3, throttledNs: 4000, periods: 10, perCpuNs: [100, 200] },
    memory: {
      usage: 1048576, limit: -1, maxUsage: 2097152, cache: 333, inactiveFile: 444, failcnt: 7, oomKills: 2, underOom: true,
      stats: { cache: 111, rss: 222, total_cache: 333, total_inactive_file: 444 },
    },
    pids: { current: 5, limit: -1 },
    blkio: {
      readBytes: 4096, writeBytes: 8192,
      entries: [
        { major: 254, minor: 0, op: "Read", value: 4096 }, { major: 254, minor: 0, op: "Write", value: 8192 },
        { major: 254, minor: 0, op: "Sync", value: 0 }, { major: 254, minor: 0, op: "Total", value: 12288 },
      ],
    },
    hugetlb: { "2MB": { usage: 2097152, max: 4194304, failcnt: 1 } },
  });
  assert.equal(await g.oomKillCount(), 2);
  // Kernels before 4.13 have no oom_kill line: under_oom stands in.
  put("memory", "memory.oom_control", "oom_kill_disable 1\nunder_oom 1\n");
  assert.equal(await g.oomKillCount(), 1);
  // Without usage_user/usage_sys, cpuacct.stat ticks (USER_HZ 100) are used.
  put("cpuacct", "cpuacct.stat", "user 3\nsystem 4\n");
  const { rmSync } = await import("node:fs");
  rmSync(join(d.cpuacct!, "cpuacct.usage_user"));
  const s = await g.stats();
  assert.equal(s.cpu.userNs, 30_000_000);
  assert.equal(s.cpu.systemNs, 40_000_000);
});

test("watchOom reports growth of the OOM kill counter", async (t) => {
  const { mgr } = setup(t, ["memory"]);
  const g = mgr.open("/berth/c1");
  const f = join(g.dirs().memory!, "memory.oom_control");
  const seen: number[] = [];
  const w = g.watchOom((n) => seen.push(n), { intervalMs: 10 });
  t.after(() => w.close());
  await new Promise((r) => setTimeout(r, 40));
  writeFileSync(f, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  const deadline = Date.now() + 2000;
  while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, [1]);
});

test("freeze/thaw through freezer.state; destroy removes nested groups", async (t) => {
  const { mgr, log } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  log.length = 0;
  await cgroup.freeze();
  assert.equal(await cgroup.frozen(), true);
  await cgroup.thaw();
  assert.equal(await cgroup.frozen(), false);
  assert.deepEqual(log, ["freezer/berth/c1/freezer.state = FROZEN", "freezer/berth/c1/freezer.state = THAWED"]);
  assert.deepEqual(await cgroup.pids(), []);
  const nested = join(cgroup.dirs().memory!, "sub/deeper");
  mkdirSync(nested, { recursive: true });
  await cgroup.destroy();
  for (const dir of Object.values(cgroup.dirs())) assert.equal(existsSync(dir), false, dir);
  assert.ok(existsSync(join((mgr as CgroupV1Manager).hierarchies.memory!, "berth")), "the shared parent stays");
});
