/**
 * cgroup v2 manager against a fake unified tree: subtree_control enabling,
 * exact file writes, conversions, unified keys, device programs (recorded), stats.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LinuxResources } from "../spec.js";
import { detectCgroupManager } from "./index.js";
import { CgroupV2Manager, type V2Cgroup } from "./v2-manager.js";
import { fakeV2Tree, V2_CONTROLLERS, type FakeTree } from "./fake-tree.js";
import { observeCgroupWrites } from "./fs-io.js";
import { KERNEL_MEMORY_WARNING } from "./convert.js";

const MiB = 1024 * 1024;

// A fake tree has no bpf(2): device programs are recorded by default (real ones: real-host.test.ts).
function setup(t: { after(fn: () => void): void }, controllers = V2_CONTROLLERS, attachDeviceFilter: (dir: string, p: Buffer | null) => void = () => {}): { tree: FakeTree; mgr: CgroupV2Manager; log: string[] } {
  const tree = fakeV2Tree(controllers);
  tree.addGroup("/berth/c1");
  const log: string[] = [];
  observeCgroupWrites((p, v) => log.push(`${p.slice(tree.root.length + 1)} = ${v}`));
  t.after(() => { observeCgroupWrites(undefined); tree.remove(); });
  const mgr = detectCgroupManager({ root: tree.root, mountinfo: tree.mountinfo, destroyTimeoutMs: 200, freezeTimeoutMs: 100, attachDeviceFilter });
  assert.ok(mgr instanceof CgroupV2Manager);
  return { tree, mgr, log };
}

test("create enables controllers in every ancestor's subtree_control, not the leaf's", async (t) => {
  const { tree, mgr, log } = setup(t);
  assert.equal(mgr.mode, "v2");
  const { cgroup, warnings } = await mgr.create("/berth/c1");
  assert.deepEqual(warnings, []);
  const all = V2_CONTROLLERS.map((c) => `+${c}`).join(" ");
  assert.deepEqual(log, [`cgroup.subtree_control = ${all}`, `berth/cgroup.subtree_control = ${all}`]);
  assert.equal(readFileSync(join(tree.root, "berth/c1/cgroup.subtree_control"), "utf8"), "");
  assert.deepEqual(cgroup.dirs(), { unified: join(tree.root, "berth/c1") });
  // Already enabled: nothing is written again.
  log.length = 0;
  writeFileSync(join(tree.root, "cgroup.subtree_control"), V2_CONTROLLERS.join(" "));
  writeFileSync(join(tree.root, "berth/cgroup.subtree_control"), V2_CONTROLLERS.join(" "));
  await mgr.create("/berth/c1");
  assert.deepEqual(log, []);
});

test("setResources writes every OCI resource to its v2 file", async (t) => {
  const { mgr, log } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  log.length = 0;
  const r: LinuxResources = {
    devices: [{ allow: true, access: "rwm" }],
    memory: { limit: 256 * MiB, reservation: 128 * MiB, swap: 512 * MiB, kernel: 1, swappiness: 10, disableOOMKiller: true },
    cpu: { shares: 512, quota: 50000, period: 200000, burst: 1000, cpus: "0-1", mems: "0", idle: 1 },
    pids: { limit: 64 },
    blockIO: {
      weight: 500, weightDevice: [{ major: 254, minor: 0, weight: 1000 }],
      throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }], throttleWriteBpsDevice: [{ major: 254, minor: 0, rate: 0 }],
      throttleReadIOPSDevice: [{ major: 254, minor: 0, rate: 100 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
    },
    hugepageLimits: [{ pageSize: "2MB", limit: 8 * MiB }],
    rdma: { mlx5_1: { hcaHandles: 3 } },
    network: { classID: 1 },
    unified: { "memory.high": "200000000" },
  };
  const warnings = await cgroup.setResources(r);
  assert.deepEqual(log, [
    "berth/c1/cpu.weight = 59", "berth/c1/cpu.max = 50000 200000", "berth/c1/cpu.max.burst = 1000", "berth/c1/cpu.idle = 1",
    "berth/c1/cpuset.cpus = 0-1", "berth/c1/cpuset.mems = 0",
    `berth/c1/memory.max = ${256 * MiB}`, "berth/c1/memory.oom.group = 1", `berth/c1/memory.swap.max = ${256 * MiB}`,
    `berth/c1/memory.low = ${128 * MiB}`,
    "berth/c1/pids.max = 64",
    "berth/c1/io.weight = default 4950", "berth/c1/io.weight = 254:0 10000",
    "berth/c1/io.max = 254:0 rbps=1048576", "berth/c1/io.max = 254:0 wbps=max", "berth/c1/io.max = 254:0 riops=100", "berth/c1/io.max = 8:16 wiops=200",
    `berth/c1/hugetlb.2MB.max = ${8 * MiB}`, `berth/c1/hugetlb.2MB.rsvd.max = ${8 * MiB}`,
    "berth/c1/rdma.max = mlx5_1 hca_handle=3",
    "berth/c1/memory.high = 200000000",
  ]);
  assert.deepEqual(warnings, [
    KERNEL_MEMORY_WARNING,
    "memory.swappiness ignored: cgroup v2 has no per-group swappiness",
    "memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer for a group",
    "network classID/priorities ignored: cgroup v2 has no net_cls/net_prio (use eBPF or nftables socket cgroup matching)",
  ]);
});

test("cpu.max keeps the half not given; quota -1 is max; swap -1 is max", async (t) => {
  const { mgr, log } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  log.length = 0;
  await cgroup.setResources({ cpu: { period: 50000 } });
  await cgroup.setResources({ cpu: { quota: 25000 } });
  await cgroup.setResources({ cpu: { quota: -1 } });
  await cgroup.setResources({ memory: { limit: -1, swap: -1 } });
  await cgroup.setResources({ memory: { limit: 100 * MiB, swap: 100 * MiB } });
  assert.deepEqual(log, [
    "berth/c1/cpu.max = max 50000", "berth/c1/cpu.max = 25000 50000", "berth/c1/cpu.max = max 50000",
    "berth/c1/memory.max = max", "berth/c1/memory.swap.max = max",
    `berth/c1/memory.max = ${100 * MiB}`, "berth/c1/memory.oom.group = 1", "berth/c1/memory.swap.max = 0",
  ]);
  await assert.rejects(cgroup.setResources({ memory: { swap: 100 } }), { name: "InvalidArgument", message: /needs a memory limit/ });
});

test("unified keys: written when the file exists, refused when they could escape", async (t) => {
  const { mgr } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  const bad = ["../../etc/passwd", "memory.high/../x", "/memory.high", "..", "cgroup.procs", "cgroup.subtree_control", "foo"];
  for (const key of bad) {
    await assert.rejects(cgroup.setResources({ unified: { [key]: "1" } }), { name: "InvalidArgument" }, key);
  }
  await assert.rejects(cgroup.setResources({ unified: { "memory.nonexistent": "1" } }), { name: "FailedPrecondition", message: /does not exist/ });
  // cpu.weight given in unified wins over the converted shares.
  await cgroup.setResources({ cpu: { shares: 2048 }, unified: { "cpu.weight": "7" } });
  assert.equal(readFileSync(join(cgroup.dirs().unified!, "cpu.weight"), "utf8"), "7");
});

test("device rules on v2: a program is attached (recorded here; real ones in real-host.test.ts), allow-all detaches, bad rules and a failed attach are clear errors", async (t) => {
  const attached: [string, Buffer | null][] = [];
  let fail = false;
  const { mgr } = setup(t, V2_CONTROLLERS, (dir, p) => {
    if (fail) throw Object.assign(new Error("EPERM: operation not permitted, bpf(BPF_PROG_LOAD)"), { code: "EPERM" });
    attached.push([dir, p]);
  });
  const { cgroup } = await mgr.create("/berth/c1");
  const rules = [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }];
  assert.deepEqual(await cgroup.setResources({ devices: rules }), []);
  assert.equal(attached.length, 1);
  assert.equal(attached[0]![0], cgroup.dirs().unified);
  assert.ok(attached[0]![1] && attached[0]![1].length > 0 && attached[0]![1].length % 8 === 0, "whole eBPF instructions");
  await cgroup.setResources({ devices: [{ allow: true, access: "rwm" }] });
  assert.deepEqual(attached[1], [cgroup.dirs().unified, null], "allow-all: earlier programs are detached, none attached");
  await assert.rejects(cgroup.setResources({ devices: [{ allow: true, type: "x", access: "r" }] }), { name: "InvalidArgument", message: /devices\[0\]\.type "x"/ });
  fail = true;
  await assert.rejects(cgroup.setResources({ devices: rules }), { name: "FailedPrecondition", message: /device rules on cgroup v2: attach an eBPF device program to .*EPERM/ });
  await assert.rejects(cgroup.setResources({ cpu: { realtimeRuntime: 1000 } }), { name: "NotImplemented", message: /realtime/ });
});

test("a controller the tree does not offer is a clear error", async (t) => {
  const { mgr } = setup(t, ["hugetlb"]);
  const { cgroup } = await mgr.create("/berth/c1");
  await assert.rejects(cgroup.setResources({ memory: { limit: 100 * MiB } }), {
    name: "FailedPrecondition", message: /resources need the memory controller, which cgroup v2 does not provide .*\(cgroup.controllers: hugetlb\)/,
  });
  assert.deepEqual(await cgroup.setResources({ hugepageLimits: [{ pageSize: "2MB", limit: 2 * MiB }] }), []);
});

test("stats parse v2 fixture files", async (t) => {
  const { mgr } = setup(t);
  const g = mgr.open("/berth/c1") as V2Cgroup;
  const put = (f: string, v: string): void => writeFileSync(join(g.dir, f), v);
  put("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 9\nnr_throttled 2\nthrottled_usec 30\n");
  put("memory.current", "4096\n");
  put("memory.max", "max\n");
  put("memory.peak", "8192\n");
  put("memory.stat", "anon 100\nfile 200\ninactive_file 50\n");
  put("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  put("pids.current", "3\n");
  put("pids.max", "64\n");
  put("io.stat", "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  put("hugetlb.2MB.current", "0\n");
  put("hugetlb.2MB.max", "2097152\n");
  put("hugetlb.2MB.events", "max 3\n");
  const s = await g.stats();
  assert.deepEqual(s.cpu, { usageNs: 1_500_000, userNs: 1_000_000, systemNs: 500_000, periods: 9, throttledPeriods: 2, throttledNs: 30_000 });
  assert.deepEqual(s.memory, {
    usage: 4096, limit: -1, maxUsage: 8192, failcnt: 4, cache: 200, inactiveFile: 50, oomKills: 1, underOom: false,
    stats: { anon: 100, file: 200, inactive_file: 50 },
  });
  assert.deepEqual(s.pids, { current: 3, limit: 64 });
  assert.equal(s.blkio.readBytes, 4196);
  assert.equal(s.blkio.writeBytes, 8192);
  assert.equal(s.blkio.entries.length, 12);
  assert.deepEqual(s.blkio.entries[0], { major: 254, minor: 0, op: "Read", value: 4096 });
  assert.deepEqual(s.hugetlb, { "2MB": { usage: 0, max: 2097152, failcnt: 3 } });
  assert.equal(await g.oomKillCount(), 1);
});

test("freeze waits for cgroup.events frozen 1 and gives up with a thaw", async (t) => {
  const { mgr, log } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  const dir = cgroup.dirs().unified!;
  log.length = 0;
  // The fake kernel never reports frozen: freeze() times out and thaws again.
  await assert.rejects(cgroup.freeze(), { name: "Unavailable", message: /did not report "frozen 1" within 100 ms; thawed again/ });
  assert.deepEqual(log, ["berth/c1/cgroup.freeze = 1", "berth/c1/cgroup.freeze = 0"]);
  writeFileSync(join(dir, "cgroup.events"), "populated 1\nfrozen 1\n");
  await cgroup.freeze();
  assert.equal(await cgroup.frozen(), true);
  // SIGKILL goes through cgroup.kill.
  log.length = 0;
  await cgroup.killAll("SIGKILL");
  assert.deepEqual(log, ["berth/c1/cgroup.kill = 1"]);
  await cgroup.destroy();
  assert.equal(existsSync(dir), false);
});
