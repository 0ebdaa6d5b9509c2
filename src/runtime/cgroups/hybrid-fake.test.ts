/**
 * Hybrid manager against a fake tree shaped like this project's hosts: v1
 * controllers plus <root>/unified (cgroup2) holding hugetlb.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { detectCgroupManager, detectCgroupSetup } from "./index.js";
import { HybridCgroupManager } from "./hybrid-manager.js";
import { fakeV1Tree, type FakeTree } from "./fake-tree.js";
import { observeCgroupWrites } from "./fs-io.js";

const MiB = 1024 * 1024;
const V1 = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "name=systemd"];

function setup(t: { after(fn: () => void): void }): { tree: FakeTree; mgr: HybridCgroupManager; log: string[] } {
  const tree = fakeV1Tree(V1, ["hugetlb"]);
  tree.addGroup("/berth/c1");
  const log: string[] = [];
  observeCgroupWrites((p, v) => log.push(`${p.slice(tree.root.length + 1)} = ${v}`));
  t.after(() => { observeCgroupWrites(undefined); tree.remove(); });
  const mgr = detectCgroupManager({ root: tree.root, mountinfo: tree.mountinfo, destroyTimeoutMs: 200 });
  assert.ok(mgr instanceof HybridCgroupManager);
  return { tree, mgr, log };
}

test("detection: v1 + cgroup2 at <root>/unified is hybrid; v1 alone is v1; cgroup2 at root is v2", (t) => {
  const { tree, mgr } = setup(t);
  assert.equal(mgr.mode, "hybrid");
  const setup1 = detectCgroupSetup({ root: tree.root, mountinfo: tree.mountinfo });
  assert.equal(setup1.unified, join(tree.root, "unified"));
  assert.deepEqual(Object.keys(setup1.v1).sort(), [...V1].sort());
  const v1Only = tree.mountinfo.split("\n").filter((l) => !l.includes("cgroup2")).join("\n");
  assert.equal(detectCgroupSetup({ root: tree.root, mountinfo: v1Only }).mode, "v1");
  const v2 = `30 23 0:40 / ${tree.root} rw - cgroup2 cgroup2 rw\n`;
  assert.deepEqual(detectCgroupSetup({ root: tree.root, mountinfo: v2 }), { mode: "v2", root: tree.root, v1: {}, unified: tree.root });
  assert.throws(() => detectCgroupSetup({ root: tree.root, mountinfo: "" }), { name: "Unavailable", message: /no cgroup filesystem is mounted/ });
  // Co-mounted cpu,cpuacct share one mount point; escaped spaces are decoded.
  const co = "32 31 0:29 / /c\\040g/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
  assert.deepEqual(detectCgroupSetup({ root: "/c g", mountinfo: co }).v1, { cpu: "/c g/cpu,cpuacct", cpuacct: "/c g/cpu,cpuacct" });
});

test("hybrid: each resource goes to the side owning its controller; processes join both", async (t) => {
  const { tree, mgr, log } = setup(t);
  const { cgroup, warnings } = await mgr.create("/berth/c1", {
    memory: { limit: 64 * MiB },
    pids: { limit: 20 },
    hugepageLimits: [{ pageSize: "2MB", limit: 4 * MiB }],
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(log.filter((l) => !l.includes("cpuset.")), [
    "unified/cgroup.subtree_control = +hugetlb", "unified/berth/cgroup.subtree_control = +hugetlb",
    `memory/berth/c1/memory.limit_in_bytes = ${64 * MiB}`, "pids/berth/c1/pids.max = 20",
    `unified/berth/c1/hugetlb.2MB.max = ${4 * MiB}`, `unified/berth/c1/hugetlb.2MB.rsvd.max = ${4 * MiB}`,
  ]);
  const dirs = cgroup.dirs();
  assert.equal(dirs.unified, join(tree.root, "unified/berth/c1"));
  assert.equal(dirs.memory, join(tree.root, "memory/berth/c1"));
  log.length = 0;
  await cgroup.addProcess(4242);
  const procs = log.map((l) => l.split(" = ")[0]);
  assert.deepEqual(procs.sort(), [...V1.map((c) => `${c === "name=systemd" ? "systemd" : c}/berth/c1/cgroup.procs`), "unified/berth/c1/cgroup.procs"].sort());
  // v2-only `unified` keys go to the cgroup2 side.
  log.length = 0;
  await cgroup.setResources({ unified: { "hugetlb.2MB.max": "2097152" } });
  assert.deepEqual(log, ["unified/berth/c1/hugetlb.2MB.max = 2097152"]);
});

test("hybrid stats take hugetlb from cgroup2 and the rest from v1; freezer is v1", async (t) => {
  const { mgr } = setup(t);
  const { cgroup } = await mgr.create("/berth/c1");
  const dirs = cgroup.dirs();
  writeFileSync(join(dirs.unified!, "hugetlb.2MB.current"), "2097152\n");
  writeFileSync(join(dirs.unified!, "hugetlb.2MB.max"), "4194304\n");
  writeFileSync(join(dirs.pids!, "pids.current"), "2\n");
  const s = await cgroup.stats();
  assert.deepEqual(s.hugetlb, { "2MB": { usage: 2097152, max: 4194304, failcnt: 0 } });
  assert.deepEqual(s.pids, { current: 2, limit: -1 });
  await cgroup.freeze();
  assert.equal(readFileSync(join(dirs.freezer!, "freezer.state"), "utf8"), "FROZEN");
  await cgroup.thaw();
  await cgroup.destroy();
  for (const d of Object.values(dirs)) assert.equal(existsSync(d), false, d);
});
