/**
 * berthd through the real docker CLI (DOCKER_HOST=unix://…): the container lifecycle a docker user
 * types, limits visible in the container's cgroups, OOM, volumes, exec, -it with detach keys, and
 * containers that outlive a killed daemon. One private berthd for the whole file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startBerthd, type PrivateBerthd } from "../helpers/berthd.js";

let d: PrivateBerthd;
before(async () => { d = await startBerthd(); });
after(() => d?.stop());

const ok = (args: string[], input?: string): string => {
  const r = d.docker(args, input);
  assert.equal(r.status, 0, `docker ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const inspect = (name: string, fmt: string): string => ok(["inspect", "-f", fmt, name]).trim();
async function until(what: string, cond: () => boolean, ms = 10000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("version negotiates the API; info names the cgroup setup and storage", () => {
  assert.match(ok(["version", "--format", "{{.Server.APIVersion}}"]).trim(), /^1\.4\d$/);
  const info = ok(["info", "--format", "{{.CgroupVersion}} {{.CgroupDriver}} {{.Driver}}"]).trim();
  assert.match(info, /^[12] cgroupfs overlay2$/);
});

test("run --rm: stdout and stderr apart, the exit code, nothing left behind", () => {
  const r = d.docker(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.equal(r.status, 3);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /err\n/);
  assert.equal(ok(["ps", "-aq"]).trim(), "");
});

test("run: a missing command is 127, a non-executable one 126, as docker", () => {
  const a = d.docker(["run", "--rm", "busybox", "nosuch"]);
  assert.equal(a.status, 127);
  assert.match(a.stderr, /executable file not found/);
  const b = d.docker(["run", "--rm", "busybox", "/etc/passwd"]);
  assert.equal(b.status, 126);
  assert.match(b.stderr, /permission denied/);
  assert.equal(ok(["ps", "-aq"]).trim(), "", "--rm removes a container whose start failed");
});

test("bad input: one-line errors and docker's exit codes", () => {
  const m = d.docker(["run", "--rm", "-m", "1k", "busybox", "true"]);
  assert.equal(m.status, 125);
  assert.match(m.stderr, /Minimum memory limit allowed is 6MB/);
  const rm = d.docker(["rm", "nosuch-container"]);
  assert.equal(rm.status, 1);
  assert.match(rm.stderr, /No such container: nosuch-container/);
});

test("-m, --cpus, --cpu-shares and --pids-limit are what the container's cgroups hold", () => {
  const out = ok(["run", "--rm", "-m", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "10", "busybox", "sh", "-c",
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max"]);
  assert.deepEqual(out.trim().split("\n"), ["67108864", "50000", "100000", "512", "10"]);
});

test("a container over its memory limit is OOM-killed and inspect says so", () => {
  const r = d.docker(["run", "--name", "oom", "-m", "32m", "--memory-swap", "32m", "busybox", "sh", "-c",
    "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived"]);
  assert.equal(r.status, 137);
  assert.doesNotMatch(r.stdout, /survived/);
  assert.equal(inspect("oom", "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}"), "true 137 exited");
  ok(["rm", "oom"]);
});

test("-d, logs, exec, top, stats, pause, stop, start, restart, rm -f", async () => {
  const id = ok(["run", "-d", "--name", "web", "busybox", "sh", "-c", "trap 'exit 0' TERM; i=0; while :; do echo line $i; i=$((i+1)); sleep 0.2; done"]).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal(inspect("web", "{{.State.Status}} {{.State.Running}}"), "running true");
  await until("two log lines", () => ok(["logs", "web"]).includes("line 1"));
  assert.match(ok(["logs", "--tail", "1", "web"]), /^line \d+\n$/);

  assert.equal(ok(["exec", "web", "echo", "from-exec"]), "from-exec\n");
  assert.equal(d.docker(["exec", "web", "sh", "-c", "exit 7"]).status, 7);
  assert.equal(ok(["exec", "-i", "web", "cat"], "piped stdin\n"), "piped stdin\n");
  assert.equal(ok(["exec", "-u", "nobody", "web", "id", "-u"]).trim(), "65534");
  const nf = d.docker(["exec", "web", "nosuch"]);
  assert.equal(nf.status, 127);

  const top = ok(["top", "web"]);
  assert.match(top, /PID/);
  assert.match(top, /sh -c trap/);
  const stats = ok(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "web"]).trim();
  assert.match(stats, /^web [1-9]\d*$/);

  ok(["pause", "web"]);
  assert.equal(inspect("web", "{{.State.Status}} {{.State.Paused}}"), "paused true");
  const frozen = ok(["logs", "web"]).split("\n").length;
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(ok(["logs", "web"]).split("\n").length, frozen, "a paused container writes nothing");
  ok(["unpause", "web"]);
  assert.equal(inspect("web", "{{.State.Status}}"), "running");

  ok(["stop", "-t", "5", "web"]);
  assert.equal(inspect("web", "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
  ok(["start", "web"]);
  const pid1 = inspect("web", "{{.State.Pid}}");
  ok(["restart", "-t", "1", "web"]);
  const pid2 = inspect("web", "{{.State.Pid}}");
  assert.notEqual(pid1, pid2);
  assert.equal(inspect("web", "{{.State.Running}}"), "true");
  ok(["rm", "-f", "web"]);
  assert.equal(d.docker(["inspect", "web"]).status, 1);
});

test("stop sends SIGKILL after the timeout to a process that ignores SIGTERM", () => {
  ok(["run", "-d", "--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]);
  const t0 = Date.now();
  ok(["stop", "-t", "1", "stubborn"]);
  assert.ok(Date.now() - t0 >= 900, "waited for the timeout");
  assert.equal(inspect("stubborn", "{{.State.ExitCode}}"), "137");
  ok(["rm", "stubborn"]);
});

test("bind mounts, named volumes that persist, --read-only, -e, -w, -u", () => {
  const host = join(d.dir, "bind");
  mkdirSync(host);
  ok(["run", "--rm", "-v", `${host}:/data`, "busybox", "sh", "-c", "echo from-container > /data/f"]);
  assert.equal(readFileSync(join(host, "f"), "utf8"), "from-container\n");
  ok(["run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/g"]);
  assert.equal(ok(["run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/g"]), "kept\n");
  assert.match(ok(["volume", "ls", "--format", "{{.Name}}"]), /^keep$/m);
  const ro = d.docker(["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
  assert.equal(ro.status, 1);
  assert.match(ro.stderr, /Read-only file system/);
  assert.equal(ok(["run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "65534", "busybox", "sh", "-c", "echo $A $(pwd) $(id -u)"]), "1 /tmp 65534\n");
  ok(["volume", "rm", "keep"]);
});

test("-it: a terminal of the window's size, and ctrl-p ctrl-q detaches leaving it running", async () => {
  const s = `berthd-it-${process.pid}`;
  const tm = (...a: string[]) => spawnSync("tmux", a, { encoding: "utf8" });
  tm("new-session", "-d", "-s", s, "-x", "100", "-y", "30", `DOCKER_HOST=${d.host} docker run -it --name tty busybox sh; echo CLI-EXIT=$?; sleep 30`);
  try {
    let screen = "";
    await until("the shell prompt", () => (screen = tm("capture-pane", "-t", s, "-p").stdout).includes("/ #"));
    tm("send-keys", "-t", s, "stty size; tty; echo $((6*7))", "Enter");
    await until("the answer", () => (screen = tm("capture-pane", "-t", s, "-p").stdout).includes("42"));
    assert.match(screen, /30 100/);
    assert.match(screen, /\/dev\/pts\/0/);
    tm("send-keys", "-t", s, "C-p", "C-q");
    await until("the CLI to detach", () => (screen = tm("capture-pane", "-t", s, "-p").stdout).includes("CLI-EXIT="));
    assert.match(screen, /CLI-EXIT=0/);
    assert.equal(inspect("tty", "{{.State.Running}}"), "true");
  } finally {
    tm("kill-session", "-t", s);
    d.docker(["rm", "-f", "tty"]);
  }
});

test("containers outlive a killed berthd, and the next one finds them", async () => {
  ok(["run", "-d", "--name", "survivor", "busybox", "sleep", "1000"]);
  const pid = Number(inspect("survivor", "{{.State.Pid}}"));
  d.crash();
  assert.ok(existsSync(`/proc/${pid}`), "the container runs without its daemon");
  await d.start();
  assert.equal(inspect("survivor", "{{.State.Running}} {{.State.Pid}}"), `true ${pid}`);
  assert.equal(ok(["exec", "survivor", "echo", "alive"]), "alive\n");
  ok(["stop", "-t", "1", "survivor"]);
  assert.equal(inspect("survivor", "{{.State.Status}}"), "exited");
  assert.ok(!existsSync(`/proc/${pid}`));
  ok(["rm", "survivor"]);
});
