/**
 * The managers against this host's real cgroups (hybrid: v1 controllers plus
 * cgroup2 at /sys/fs/cgroup/unified holding hugetlb). Each test works under its
 * own parent /berth-test-<pid>-<n> and removes everything it made, even on
 * failure. Needs root; it fails (not skips) with a clear message otherwise.
 */
import { after, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { detectCgroupManager, detectCgroupSetup } from "./index.js";
import { CgroupV2Manager } from "./v2-manager.js";
import { HybridCgroup } from "./hybrid-manager.js";
import type { Cgroup, CgroupManager } from "./types.js";

const ROOT = "/sys/fs/cgroup";
const MiB = 1024 * 1024;
let counter = 0;

// Creating groups enables hugetlb delegation at the cgroup2 root (as berth
// does in production). Leave the host's root as this file found it.
const unifiedRootCtl = join(ROOT, "unified/cgroup.subtree_control");
const delegatedAtStart = existsSync(unifiedRootCtl) ? readFileSync(unifiedRootCtl, "utf8").trim().split(" ").filter(Boolean) : [];
after(() => {
  if (!existsSync(unifiedRootCtl)) return;
  const now = readFileSync(unifiedRootCtl, "utf8").trim().split(" ").filter(Boolean);
  for (const c of now.filter((c) => !delegatedAtStart.includes(c))) {
    try { writeFileSync(unifiedRootCtl, `-${c}`); } catch { /* a group outside this test uses it */ }
  }
});

function requireRoot(): void {
  assert.equal(process.getuid?.(), 0, "these tests create real cgroups and must run as root");
  assert.ok(existsSync(join(ROOT, "memory")) || existsSync(join(ROOT, "cgroup.controllers")), `${ROOT} has no cgroup mounts`);
}

const read = (dir: string, f: string): string => readFileSync(join(dir, f), "utf8").trim();

function startSleep(t: TestContext, args = ["30"], cmd = "sleep"): ChildProcess {
  const child = spawn(cmd, args, { stdio: ["pipe", "ignore", "ignore"] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null && child.pid) { try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ } } });
  return child;
}

const exited = (c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve({ code: c.exitCode, signal: c.signalCode })
    : new Promise((r) => c.once("exit", (code, signal) => r({ code, signal })));

/** A manager with a unique parent, and cleanup that removes the group, then the parent, in every hierarchy. */
function managerFor(t: TestContext): { mgr: CgroupManager; parent: string; track(g: Cgroup): void } {
  requireRoot();
  const parent = `/berth-test-${process.pid}-${++counter}`;
  const mgr = detectCgroupManager({ parent, destroyTimeoutMs: 3000 });
  const groups: Cgroup[] = [];
  t.after(async () => {
    for (const g of groups) {
      await g.thaw().catch(() => undefined);
      await g.killAll("SIGKILL").catch(() => undefined);
      await g.destroy().catch(() => undefined);
    }
    for (const mount of hierarchyMounts()) {
      const d = join(mount, parent);
      if (existsSync(d)) rmdirSync(d);
    }
  });
  return { mgr, parent, track: (g) => groups.push(g) };
}

function hierarchyMounts(): string[] {
  const s = detectCgroupSetup({ root: ROOT });
  return [...new Set([...Object.values(s.v1), ...(s.unified ? [s.unified] : [])])];
}

test("this host is detected as hybrid with hugetlb on cgroup2", () => {
  requireRoot();
  const s = detectCgroupSetup({ root: ROOT });
  assert.equal(s.mode, "hybrid", "the project's hosts mount v1 controllers plus cgroup2 at /sys/fs/cgroup/unified");
  assert.equal(s.unified, join(ROOT, "unified"));
  assert.equal(s.v1.memory, join(ROOT, "memory"));
  assert.notEqual(s.v1.cpu, s.v1.cpuacct, "cpu and cpuacct are separate hierarchies here");
  assert.equal(detectCgroupManager().mode, "hybrid");
});

test("real v1: limits read back, a process joins, freeze/thaw, killAll, destroy", async (t) => {
  const { mgr, parent, track } = managerFor(t);
  const path = mgr.resolve("", "c1");
  assert.equal(path, `${parent}/c1`);
  const { cgroup, warnings } = await mgr.create(path, {
    memory: { limit: 64 * MiB, swap: 128 * MiB, reservation: 32 * MiB },
    pids: { limit: 32 },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0" },
  });
  track(cgroup);
  assert.deepEqual(warnings, []);
  const d = cgroup.dirs();
  assert.equal(read(d.memory!, "memory.limit_in_bytes"), String(64 * MiB));
  assert.equal(read(d.memory!, "memory.memsw.limit_in_bytes"), String(128 * MiB));
  assert.equal(read(d.memory!, "memory.soft_limit_in_bytes"), String(32 * MiB));
  assert.equal(read(d.pids!, "pids.max"), "32");
  assert.equal(read(d.cpu!, "cpu.shares"), "512");
  assert.equal(read(d.cpu!, "cpu.cfs_quota_us"), "50000");
  assert.equal(read(d.cpuset!, "cpuset.cpus"), "0");

  // Live updates in both directions: the kernel accepts the write order.
  await cgroup.setResources({ memory: { limit: 200 * MiB, swap: 300 * MiB } });
  assert.equal(read(d.memory!, "memory.limit_in_bytes"), String(200 * MiB));
  assert.equal(read(d.memory!, "memory.memsw.limit_in_bytes"), String(300 * MiB));
  await cgroup.setResources({ memory: { limit: 40 * MiB, swap: 45 * MiB }, pids: { limit: 0 } });
  assert.equal(read(d.memory!, "memory.limit_in_bytes"), String(40 * MiB));
  assert.equal(read(d.memory!, "memory.memsw.limit_in_bytes"), String(45 * MiB));
  assert.equal(read(d.pids!, "pids.max"), "max");
  // Devices: docker-like deny-all then allow /dev/null.
  await cgroup.setResources({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }] });
  assert.equal(read(d.devices!, "devices.list"), "c 1:3 rwm");

  const child = startSleep(t);
  await cgroup.addProcess(child.pid!);
  assert.deepEqual(await cgroup.pids(), [child.pid]);
  const procCgroup = readFileSync(`/proc/${child.pid}/cgroup`, "utf8");
  assert.match(procCgroup, new RegExp(`:memory:${path}$`, "m"));
  assert.match(procCgroup, new RegExp(`^0::${path}$`, "m"), "joined the cgroup2 tree too");
  const s = await cgroup.stats();
  assert.equal(s.pids.current, 1);
  assert.equal(s.memory.limit, 40 * MiB);

  await cgroup.freeze();
  assert.equal(read(d.freezer!, "freezer.state"), "FROZEN");
  assert.equal(await cgroup.frozen(), true);
  await cgroup.thaw();
  assert.equal(read(d.freezer!, "freezer.state"), "THAWED");
  assert.match(readFileSync(`/proc/${child.pid}/status`, "utf8"), /^State:\s+S/m);

  await cgroup.killAll("SIGKILL");
  assert.deepEqual(await exited(child), { code: null, signal: "SIGKILL" });
  await cgroup.destroy();
  for (const dir of Object.values(d)) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test("real v1: an OOM kill is counted and reported", async (t) => {
  const { mgr, track } = managerFor(t);
  const { cgroup } = await mgr.create(mgr.resolve("", "oom"), { memory: { limit: 16 * MiB, swap: 16 * MiB } });
  track(cgroup);
  assert.equal(await cgroup.oomKillCount(), 0);
  const seen: number[] = [];
  const w = cgroup.watchOom((n) => seen.push(n), { intervalMs: 20 });
  t.after(() => w.close());
  // The shell waits on stdin so it is inside the group before `tail` (which
  // keeps a newline-free stream in memory) starts allocating.
  const child = startSleep(t, ["-c", "read go; head -c 512M /dev/zero | tail"], "/bin/sh");
  await cgroup.addProcess(child.pid!);
  child.stdin!.end("go\n");
  await exited(child);
  const deadline = Date.now() + 3000;
  while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok((await cgroup.oomKillCount()) >= 1, "memory.oom_control oom_kill counted the kill");
  assert.ok(seen.length >= 1 && seen[0]! >= 1, "watchOom reported it");
  assert.ok((await cgroup.stats()).memory.oomKills >= 1);
});

/** A group on this host's cgroup2 mount under a parent of its own; removed (thawed, killed) after the test. */
async function unifiedGroup(t: TestContext, name: string): Promise<Cgroup> {
  requireRoot();
  const unified = join(ROOT, "unified");
  assert.ok(existsSync(join(unified, "cgroup.controllers")), `${unified} is not a cgroup2 mount`);
  const parent = `/berth-test-${process.pid}-${++counter}`;
  const mgr = new CgroupV2Manager(unified, { parent, destroyTimeoutMs: 3000 });
  let cg: Cgroup | undefined;
  t.after(async () => {
    await cg?.thaw().catch(() => undefined);
    await cg?.killAll("SIGKILL").catch(() => undefined);
    await cg?.destroy().catch(() => undefined);
    if (existsSync(join(unified, parent))) rmdirSync(join(unified, parent));
  });
  cg = (await mgr.create(mgr.resolve("", name))).cgroup;
  return cg;
}

test("real cgroup2 (hugetlb tree): hugetlb limit, a process, freeze via cgroup.freeze, cgroup.kill", async (t) => {
  const cgroup = await unifiedGroup(t, "h1");
  const dir = cgroup.dirs().unified!;
  const sizes = readdirSync(dir).filter((f) => /^hugetlb\.\d+[KMG]B\.max$/.test(f)).map((f) => f.split(".")[1]!);
  assert.ok(sizes.includes("2MB"), `hugetlb.2MB.max exists in ${dir} (found: ${sizes.join(", ") || "none"})`);
  await cgroup.setResources({ hugepageLimits: [{ pageSize: "2MB", limit: 4 * 2 * MiB }] });
  assert.equal(read(dir, "hugetlb.2MB.max"), String(8 * MiB));
  assert.equal((await cgroup.stats()).hugetlb["2MB"]?.max, 8 * MiB);
  await assert.rejects(cgroup.setResources({ memory: { limit: MiB * 64 } }), { name: "FailedPrecondition", message: /memory controller/ });

  const child = startSleep(t);
  await cgroup.addProcess(child.pid!);
  assert.deepEqual(await cgroup.pids(), [child.pid]);
  await cgroup.freeze();
  assert.match(read(dir, "cgroup.events"), /^frozen 1$/m);
  await cgroup.thaw();
  assert.equal(await cgroup.frozen(), false);
  await cgroup.killAll("SIGKILL");
  assert.deepEqual(await exited(child), { code: null, signal: "SIGKILL" });
  await cgroup.destroy();
  assert.equal(existsSync(dir), false);
});

test("real hybrid: SIGTERM through killAll reaches every member, nested groups are removed", async (t) => {
  const { mgr, track } = managerFor(t);
  const { cgroup } = await mgr.create(mgr.resolve("", "multi"), { pids: { limit: 10 } });
  track(cgroup);
  const kids = [startSleep(t), startSleep(t), startSleep(t)];
  for (const k of kids) await cgroup.addProcess(k.pid!);
  assert.equal((await cgroup.pids()).length, 3);
  // A nested child group (as a container's own cgroup namespace might create).
  const sub = mgr.open(`${cgroup.path}/sub`);
  assert.ok(sub instanceof HybridCgroup);
  await sub.v1.makeDirs();
  assert.ok(existsSync(join(cgroup.dirs().memory!, "sub")));
  await cgroup.killAll("SIGTERM");
  for (const k of kids) assert.deepEqual(await exited(k), { code: null, signal: "SIGTERM" });
  await cgroup.destroy();
  for (const dir of Object.values(cgroup.dirs())) assert.equal(existsSync(dir), false, `${dir} removed`);
});

test("real cgroup2: device rules become an eBPF program that the kernel enforces; a live update replaces it, allow-all removes it", async (t) => {
  const { addon } = await import("../../snapshot/sys.js");
  const cgroup = await unifiedGroup(t, "dev");
  const dir = cgroup.dirs().unified!;
  // docker's shape: deny everything, then allow some devices.
  await cgroup.setResources({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 5, access: "r" }] });
  assert.equal(addon().deviceFilterCount(dir), 1);
  // A shell placed in the group before it touches any device.
  const probe = async (): Promise<string> => {
    const sh = spawn("sh", ["-c", "read go; for d in null zero urandom; do (echo x > /dev/$d) 2>/dev/null && echo $d:w || echo $d:-; (head -c1 /dev/$d >/dev/null) 2>/dev/null && echo $d:r || echo $d:-; done"], { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    sh.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    await cgroup.addProcess(sh.pid!);
    sh.stdin!.end("go\n");
    await exited(sh);
    return out.trim().split("\n").join(" ");
  };
  assert.equal(await probe(), "null:w null:r zero:- zero:r urandom:- urandom:-");
  // A live update: the new program replaces the old one (still one attached).
  await cgroup.setResources({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 9, access: "rw" }, { allow: true, type: "c", major: 1, minor: 3, access: "w" }] });
  assert.equal(addon().deviceFilterCount(dir), 1);
  assert.equal(await probe(), "null:w null:- zero:- zero:- urandom:w urandom:r");
  await cgroup.setResources({ devices: [{ allow: true, access: "rwm" }] });
  assert.equal(addon().deviceFilterCount(dir), 0);
  assert.equal(await probe(), "null:w null:r zero:w zero:r urandom:w urandom:r");
});
