/**
 * #3 through the CLI: docker's resource flags enforced by the kernel, not just written — CPU quota
 * throttles a busy loop, cpu-shares split one CPU 1:3, pids.max stops forks, the freezer stops a
 * paused container, cpuset pins, and `update` changes limits of a running container. One private
 * berthd for the file. Tolerances are wide: these check enforcement, not speed.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { startBerthd, type CmdResult, type PrivateBerthd } from "../helpers/berthd.js";
import { debianRootfsTar } from "../helpers/fixtures.js";

let d: PrivateBerthd;
before(async () => { d = await startBerthd(); });
after(() => d?.stop());

const berth = (args: string[]): CmdResult => d.berth(args);
const ok = (args: string[]): string => {
  const r = berth(args);
  assert.equal(r.status, 0, `berth ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
/** A host-side cgroup file of a container (v1 hierarchy name, file). */
function cg(name: string, hierarchy: string, file: string): string {
  const id = ok(["inspect", "-f", "{{.Id}}", name]).trim();
  return readFileSync(`/sys/fs/cgroup/${hierarchy}${d.cgroupParent}/${id}/${file}`, "utf8").trim();
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const v1 = spawnSync("stat", ["-fc", "%T", "/sys/fs/cgroup"], { encoding: "utf8" }).stdout.trim() !== "cgroup2fs";
/** These read v1 cgroup files by path; on a pure v2 host they are skipped (and say so). */
const onlyV1 = { skip: v1 ? false : "reads cgroup v1 files; this host is cgroup v2" };

test("--cpus 0.5 throttles a busy loop to about half a CPU", onlyV1, async () => {
  ok(["run", "-d", "--name", "cpu-half", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done"]);
  try {
    const u0 = Number(cg("cpu-half", "cpuacct", "cpuacct.usage"));
    const t0 = Date.now();
    await sleep(2000);
    const used = (Number(cg("cpu-half", "cpuacct", "cpuacct.usage")) - u0) / 1e6;
    const wall = Date.now() - t0;
    const share = used / wall;
    assert.ok(share > 0.3 && share < 0.65, `CPU share ${share.toFixed(2)} of one CPU`);
    assert.ok(Number(/nr_throttled (\d+)/.exec(cg("cpu-half", "cpu", "cpu.stat"))![1]) > 0, "throttled");
  } finally {
    berth(["rm", "-f", "cpu-half"]);
  }
});

test("--cpu-shares 1024 and 3072 on one CPU split it about 1:3", onlyV1, async () => {
  ok(["run", "-d", "--name", "shares-1", "--cpuset-cpus", "0", "--cpu-shares", "1024", "busybox", "sh", "-c", "while :; do :; done"]);
  ok(["run", "-d", "--name", "shares-3", "--cpuset-cpus", "0", "--cpu-shares", "3072", "busybox", "sh", "-c", "while :; do :; done"]);
  try {
    const a0 = Number(cg("shares-1", "cpuacct", "cpuacct.usage")), b0 = Number(cg("shares-3", "cpuacct", "cpuacct.usage"));
    await sleep(2500);
    const a = Number(cg("shares-1", "cpuacct", "cpuacct.usage")) - a0, b = Number(cg("shares-3", "cpuacct", "cpuacct.usage")) - b0;
    const ratio = b / a;
    assert.ok(ratio > 2 && ratio < 4.5, `shares ratio ${ratio.toFixed(2)} (1:3 expected)`);
    assert.equal(cg("shares-3", "cpu", "cpu.shares"), "3072");
    assert.equal(cg("shares-1", "cpuset", "cpuset.cpus"), "0");
  } finally {
    berth(["rm", "-f", "shares-1", "shares-3"]);
  }
});

test("--pids-limit stops forks beyond the limit", onlyV1, () => {
  // The forks happen in a child shell (ash gives up at the first refused fork); the counts are
  // read with builtins, which need no fork.
  const r = berth(["run", "--rm", "--pids-limit", "8", "busybox", "sh", "-c",
    "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done' 2>/dev/null; read max < /sys/fs/cgroup/pids/pids.max; read cur < /sys/fs/cgroup/pids/pids.current; echo max=$max current=$cur"]);
  assert.equal(r.status, 0, r.stderr);
  const m = /max=(\d+) current=(\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(m[1], "8");
  assert.ok(Number(m[2]) <= 8, `pids.current ${m[2]} stays within the limit`);
});

test("memory reservation and swappiness reach memory.soft_limit_in_bytes and memory.swappiness", onlyV1, () => {
  ok(["run", "-d", "--name", "mem-soft", "-m", "128m", "--memory-reservation", "64m", "--memory-swappiness", "10", "busybox", "sleep", "100"]);
  try {
    assert.equal(cg("mem-soft", "memory", "memory.limit_in_bytes"), String(128 * 1024 * 1024));
    assert.equal(cg("mem-soft", "memory", "memory.soft_limit_in_bytes"), String(64 * 1024 * 1024));
    assert.equal(cg("mem-soft", "memory", "memory.swappiness"), "10");
  } finally {
    berth(["rm", "-f", "mem-soft"]);
  }
});

test("pause freezes every process; unpause thaws them", onlyV1, async () => {
  ok(["run", "-d", "--name", "frozen", "busybox", "sh", "-c", "while :; do :; done"]);
  try {
    ok(["pause", "frozen"]);
    assert.equal(cg("frozen", "freezer", "freezer.state"), "FROZEN");
    const u0 = Number(cg("frozen", "cpuacct", "cpuacct.usage"));
    await sleep(500);
    assert.equal(Number(cg("frozen", "cpuacct", "cpuacct.usage")), u0, "a frozen container uses no CPU");
    ok(["unpause", "frozen"]);
    assert.equal(cg("frozen", "freezer", "freezer.state"), "THAWED");
  } finally {
    berth(["rm", "-f", "frozen"]);
  }
});

test("update changes a running container's limits live, and refuses bad values", onlyV1, () => {
  ok(["run", "-d", "--name", "upd", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20", "busybox", "sleep", "1000"]);
  try {
    ok(["update", "-m", "128m", "--cpus", "1.5", "--pids-limit", "40", "upd"]);
    assert.deepEqual(ok(["exec", "upd", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/pids/pids.max"]).trim().split("\n"),
      [String(128 * 1024 * 1024), "150000", "40"]);
    assert.equal(ok(["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "upd"]).trim(), `${128 * 1024 * 1024} 1500000000 40`);
    const bad = berth(["update", "-m", "1k", "upd"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Minimum memory limit allowed is 6MB/);
    assert.equal(cg("upd", "memory", "memory.limit_in_bytes"), String(128 * 1024 * 1024), "a refused update changes nothing");
  } finally {
    berth(["rm", "-f", "upd"]);
  }
});

test("--oom-kill-disable: a container over its limit stalls instead of being killed; refused without -m", onlyV1, async () => {
  const refused = berth(["run", "--rm", "--oom-kill-disable", "busybox", "true"]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /oom-kill-disable|OOM killer/i);
  ok(["run", "-d", "--name", "stall", "-m", "32m", "--memory-swap", "32m", "--oom-kill-disable", "busybox", "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"]);
  try {
    let underOom = false;
    for (let i = 0; i < 50 && !underOom; i++) {
      await sleep(200);
      underOom = /under_oom 1/.test(cg("stall", "memory", "memory.oom_control"));
    }
    assert.ok(underOom, "the cgroup is under OOM");
    assert.match(cg("stall", "memory", "memory.oom_control"), /oom_kill_disable 1/);
    assert.equal(ok(["inspect", "-f", "{{.State.Running}} {{.State.OOMKilled}}", "stall"]).trim(), "true false", "stalled, not killed");
  } finally {
    berth(["rm", "-f", "stall"]);
  }
});

test("--resource-view: /proc and cpu/online inside show the container's limits (lxcfs started by berth); the docker CLI's --annotation asks the same", () => {
  const inside = (args: string[]): string[] => ok(["run", "--rm", ...args, "busybox", "sh", "-c",
    "grep MemTotal /proc/meminfo; grep -c ^processor /proc/cpuinfo; cut -d' ' -f1 /proc/uptime; cat /sys/devices/system/cpu/online; nproc"]).trim().split("\n");
  const [mem, cpus, uptime, online, nproc] = inside(["--resource-view", "-m", "64m", "--cpus", "1"]);
  assert.match(mem!, /^MemTotal:\s+65536 kB$/);
  assert.equal(cpus, "1");
  assert.ok(Number(uptime) < 30, `uptime starts near 0 (${uptime})`);
  assert.equal(online, "0");
  // nproc asks sched_getaffinity(2), which lxcfs cannot change: the resource view also confines the
  // container to ceil(--cpus) CPUs (src/runtime/resource-view.ts), so it says 1 too.
  assert.equal(nproc, "1");
  assert.equal(inside(["--resource-view", "--cpuset-cpus", "0", "-m", "32m"])[4], "1");
  // Without the view, --cpus alone leaves the affinity alone (docker's behaviour).
  assert.equal(ok(["run", "--rm", "--cpus", "1", "busybox", "nproc"]).trim(), spawnSync("nproc", { encoding: "utf8" }).stdout.trim());
  // Without the option the host shows through, as in docker.
  const hostMem = /MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))![1];
  assert.match(inside(["-m", "64m"])[0]!, new RegExp(`MemTotal:\\s+${hostMem} kB`));
  // The docker CLI (API 1.43+ HostConfig.Annotations) reaches the same view.
  const r = d.docker(["run", "--rm", "--annotation", "org.berth.resource-view=true", "-m", "48m", "busybox", "grep", "MemTotal", "/proc/meminfo"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /MemTotal:\s+49152 kB/);
});

test("--device and --privileged give a loop device; --device-write-bps: direct writes run at about the limit (v1 throttles O_DIRECT, not buffered writes)", onlyV1, () => {
  const img = spawnSync("mktemp", ["/tmp/berth-loop-XXXXXX"], { encoding: "utf8" }).stdout.trim();
  let loop = "";
  try {
    assert.equal(spawnSync("truncate", ["-s", "64M", img]).status, 0);
    const l = spawnSync("losetup", ["--find", "--show", img], { encoding: "utf8" });
    assert.equal(l.status, 0, `losetup: ${l.stderr}`);
    loop = l.stdout.trim();
    // GNU dd (busybox's ignores oflag=direct): the Debian image made by debootstrap, cached.
    ok(["import", debianRootfsTar(), "debian:bookworm"]);
    const write = (limit: string[]): number => {
      const run = berth(["run", "--rm", "--device", loop, ...limit, "debian:bookworm", "dd", "if=/dev/zero", `of=${loop}`, "bs=64k", "count=96", "oflag=direct"]);
      assert.equal(run.status, 0, run.stderr);
      const r = /copied, ([\d.]+) s/.exec(run.stderr);
      assert.ok(r, `dd's summary: ${run.stderr}`);
      return Number(r[1]);
    };
    const seconds = write(["--device-write-bps", `${loop}:2mb`]);
    const mbps = 6 / seconds;
    assert.ok(mbps > 1.6 && mbps < 2.4, `direct writes at ${mbps.toFixed(2)} MiB/s against a 2 MiB/s limit (${seconds.toFixed(2)} s for 6 MiB)`);
    // Unthrottled, the same writes are far faster: the limit is what slowed them.
    const free = write([]);
    assert.ok(free < seconds / 2, `unthrottled: ${free.toFixed(2)} s`);
    // --privileged: every host device is there (and usable), as with docker.
    assert.equal(ok(["run", "--rm", "--privileged", "busybox", "sh", "-c", `head -c 4096 ${loop} | wc -c`]).trim(), "4096");
    assert.notEqual(berth(["run", "--rm", "busybox", "ls", loop]).status, 0, "not without --privileged or --device");
    // --device under another name, and paths that are not devices: docker's one-line errors, no container left.
    assert.match(ok(["run", "--rm", "--device", `${loop}:/dev/xvdb:r`, "busybox", "ls", "-l", "/dev/xvdb"]), /^b.* 7,\s+\d+ .*\/dev\/xvdb$/m);
    const before = ok(["ps", "-aq"]);
    for (const [dev, why] of [["/dev/nosuch", /no such file or directory/], ["/etc/passwd", /not a device node/]] as const) {
      const r = berth(["run", "--rm", "--device", dev, "busybox", "true"]);
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(`error gathering device information while adding custom device "${dev}": ${why.source}`));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.equal(ok(["ps", "-aq"]), before);
  } finally {
    if (loop) spawnSync("losetup", ["-d", loop]);
    spawnSync("rm", ["-f", img]);
  }
});
