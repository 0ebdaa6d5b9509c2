/**
 * berthd through the real docker CLI (DOCKER_HOST=unix://…): the container lifecycle a docker user
 * types, limits visible in the container's cgroups, OOM, volumes, exec, -it with detach keys, and
 * containers that outlive a killed daemon. One private berthd for the whole file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { until } from "../helpers/wait.js";
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

test("an --rm container's writable layer is a volatile overlay (no sync on unmount); a kept one's is not", () => {
  const superOptions = (name: string): string => {
    const pid = inspect(name, "{{.State.Pid}}");
    // The container's / as its own mount namespace sees it: "… - overlay overlay <super options>".
    const root = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").find((l) => l.split(" ")[4] === "/")!;
    assert.match(root, / - overlay overlay /);
    return root.split(" - ")[1]!;
  };
  ok(["run", "-d", "--rm", "--name", "vol-rm", "busybox", "sleep", "30"]);
  ok(["run", "-d", "--name", "vol-kept", "busybox", "sleep", "30"]);
  try {
    assert.match(superOptions("vol-rm"), /(^|,)(fsync=)?volatile(,|$)/); // 6.x kernels show fsync=volatile
    assert.doesNotMatch(superOptions("vol-kept"), /volatile/);
  } finally {
    d.docker(["rm", "-f", "vol-rm", "vol-kept"]);
  }
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
  const img = d.docker(["run", "--pull", "never", "no-such-image:1"]);
  assert.equal(img.status, 125);
  assert.match(img.stderr, /No such image: no-such-image:1/);
  ok(["run", "-d", "--name", "dup", "busybox", "sleep", "100"]);
  const dup = d.docker(["run", "-d", "--name", "dup", "busybox", "true"]);
  assert.equal(dup.status, 125);
  assert.match(dup.stderr, /Conflict\. The container name "\/dup" is already in use/);
  const running = d.docker(["rm", "dup"]);
  assert.equal(running.status, 1);
  assert.match(running.stderr, /cannot remove .*running container|stop the container before removing|You cannot remove a running container/i);
  ok(["rm", "-f", "dup"]);
  ok(["create", "--name", "stopped", "busybox", "true"]);
  const ex = d.docker(["exec", "stopped", "true"]);
  assert.notEqual(ex.status, 0);
  assert.match(ex.stderr, /is not running/);
  ok(["rm", "stopped"]);
});

test("API errors: unknown paths 404, malformed JSON 400, each with a message", async () => {
  const { request } = await import("node:http");
  const call = (method: string, path: string, body?: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ socketPath: d.host.slice(7), method, path, headers: body ? { "Content-Type": "application/json" } : {} }, (res) => {
      let text = "";
      res.on("data", (x) => (text += x));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
  const nf = await call("GET", "/v1.45/no/such/path");
  assert.equal(nf.status, 404);
  assert.ok((JSON.parse(nf.text) as { message: string }).message.length > 0);
  const bad = await call("POST", "/v1.45/containers/create", "{not json");
  assert.equal(bad.status, 400);
  assert.match((JSON.parse(bad.text) as { message: string }).message, /invalid JSON/);
  const old = await call("GET", "/v1.99/version");
  assert.equal(old.status, 400);
  assert.match(old.text, /client version 1.99 is too new/);
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
  // `-v /path` is an anonymous volume; --volumes-from shares it (and binds) read-write or :ro; rm -v removes it.
  const volsBefore = ok(["volume", "ls", "-q"]);
  ok(["run", "-d", "--name", "vsrc", "-v", "/data", "-v", `${host}:/hostdir`, "busybox", "sh", "-c", "echo shared > /data/x; sleep 100"]);
  assert.equal(inspect("vsrc", "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}").trim(), "bind:/hostdir volume:/data");
  assert.equal(ok(["run", "--rm", "--volumes-from", "vsrc", "busybox", "sh", "-c", "cat /data/x /hostdir/f; touch /data/y && echo rw"]), "shared\nfrom-container\nrw\n");
  assert.match(d.docker(["run", "--rm", "--volumes-from", "vsrc:ro", "busybox", "touch", "/data/z"]).stderr, /Read-only file system/);
  ok(["rm", "-f", "-v", "vsrc"]);
  assert.equal(ok(["volume", "ls", "-q"]), volsBefore, "rm -v took the anonymous volume");
  assert.match(ok(["run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "busybox", "grep", " /t ", "/proc/mounts"]), /size=1024k/);
  // A user other than root with no capabilities at all still opens the exec fifo (it was made
  // 0600 under the umask: such a container hung in start, holding a thread of berthd's pool).
  assert.equal(ok(["run", "--rm", "-u", "1:1", "--cap-drop", "ALL", "--init", "busybox", "id"]), "uid=1(daemon) gid=1(daemon)\n");
  ok(["volume", "rm", "keep"]);
});

test("namespaces: --uts/--network host take the host's name, --pid/--ipc host and container:<x>, --cgroupns private, bad modes", () => {
  const name = hostname();
  assert.equal(ok(["run", "--rm", "--uts", "host", "busybox", "hostname"]), `${name}\n`);
  assert.equal(ok(["run", "--rm", "--network", "host", "busybox", "cat", "/etc/hostname"]), `${name}\n`);
  assert.equal(ok(["run", "--rm", "--network", "host", "-h", "given", "busybox", "hostname"]), "given\n");
  assert.ok(Number(ok(["run", "--rm", "--pid", "host", "busybox", "sh", "-c", "ps -o pid | wc -l"])) > 10, "the host's processes");
  const ipc = (args: string[]): string => ok(["run", "--rm", ...args, "busybox", "readlink", "/proc/self/ns/ipc"]).trim();
  assert.equal(ipc(["--ipc", "host"]), readlinkSync("/proc/self/ns/ipc"));
  assert.notEqual(ipc([]), readlinkSync("/proc/self/ns/ipc"));
  // Another container's namespaces: container:<name> for --pid and --ipc; --cgroupns private.
  ok(["run", "-d", "--name", "nsowner", "busybox", "sleep", "100"]);
  try {
    assert.equal(ok(["run", "--rm", "--pid", "container:nsowner", "busybox", "sh", "-c", "ps -o comm | grep -c '^sleep'"]), "1\n");
    assert.equal(ipc(["--ipc", "container:nsowner"]), ok(["exec", "nsowner", "readlink", "/proc/self/ns/ipc"]).trim());
  } finally {
    ok(["rm", "-f", "nsowner"]);
  }
  assert.match(ok(["run", "--rm", "--cgroupns", "private", "busybox", "head", "-1", "/proc/self/cgroup"]), /^\d+:[^:]*:\/\n$/);
  // The docker CLI checks --cgroupns itself; berth's leaves it to berthd.
  for (const [cli, args, why] of [[d.docker, ["--pid", "container:nosuch"], /invalid --pid container:nosuch: no such container: nosuch/], [d.docker, ["--ipc", "bogus"], /invalid --ipc: bogus/], [d.berth, ["--cgroupns", "x"], /invalid --cgroupns: x/]] as const) {
    const r = cli(["run", "--rm", ...args, "busybox", "true"]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /Pulling|Unable to find image/, "a bad mode is not a missing image");
  }
});

test("--security-opt seccomp=<file>: the docker CLI sends the profile, berth's CLI too; unconfined and builtin", () => {
  const file = join(d.dir, "profile.json");
  writeFileSync(file, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }));
  const denied = d.docker(["run", "--rm", "--security-opt", `seccomp=${file}`, "busybox", "sh", "-c", "mkdir /tmp/x 2>&1; echo $?"]);
  assert.match(denied.stdout, /Permission denied\n1\n$/, denied.stderr);
  const berth = d.berth(["run", "--rm", "--security-opt", `seccomp=${file}`, "busybox", "sh", "-c", "mkdir /tmp/x 2>&1; echo $?"]);
  assert.match(berth.stdout, /Permission denied\n1\n$/, berth.stderr);
  assert.equal(ok(["run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "^Seccomp:", "/proc/self/status"]), "Seccomp:\t0\n");
  assert.equal(ok(["run", "--rm", "--security-opt", "seccomp=builtin", "busybox", "grep", "^Seccomp:", "/proc/self/status"]), "Seccomp:\t2\n");
  const missing = d.berth(["run", "--rm", "--security-opt", "seccomp=/nonexistent.json", "busybox", "true"]);
  assert.equal(missing.status, 125);
  assert.match(missing.stderr, /opening seccomp profile \(\/nonexistent\.json\) failed: no such file or directory/);
});

test("log drivers: json-file rotates by max-size/max-file, none keeps nothing (logs says so), others are refused", async () => {
  ok(["run", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done"]);
  const id = ok(["inspect", "-f", "{{.Id}}", "rot"]).trim();
  const logs = readdirSync(join(d.dir, "data", "containers", id)).filter((f) => f.includes("-json.log")).sort();
  assert.deepEqual(logs, [`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`]);
  const lines = ok(["logs", "rot"]).trim().split("\n");
  assert.equal(lines.at(-1), "line-99");
  assert.ok(lines.length > 10 && lines.length < 100, `${lines.length} lines kept across the rotated files`);
  ok(["rm", "rot"]);
  assert.equal(ok(["run", "--rm", "--log-driver", "none", "busybox", "echo", "attached"]), "attached\n");
  ok(["run", "--name", "nolog", "--log-driver", "none", "busybox", "echo", "lost"]);
  const r = d.docker(["logs", "nolog"]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /configured logging driver does not support reading/);
  ok(["rm", "nolog"]);
  const bad = d.docker(["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /no log driver named 'syslog'/);
  const badOpt = d.docker(["run", "--rm", "--log-opt", "max-sise=1k", "busybox", "true"]);
  assert.equal(badOpt.status, 125);
  assert.match(badOpt.stderr, /unknown log opt 'max-sise' for json-file log driver/);
  assert.match(d.docker(["run", "--rm", "--log-opt", "compress=true", "busybox", "true"]).stderr, /compress=true: berth keeps rotated json-file logs uncompressed/);
  // --details: the labels and env the log options name, sorted, before each line; else one space.
  ok(["run", "--name", "det", "--label", "team=a", "--label", "other=x", "-e", "STAGE=dev", "--log-opt", "labels=team", "--log-opt", "env=STAGE", "busybox", "echo", "hi"]);
  assert.equal(ok(["logs", "--details", "det"]), "STAGE=dev,team=a hi\n");
  assert.match(ok(["logs", "--details", "--timestamps", "det"]), /^\d{4}-\d\d-\d\dT[\d:.]+Z STAGE=dev,team=a hi\n$/);
  ok(["run", "--name", "det2", "busybox", "echo", "hi"]);
  assert.equal(ok(["logs", "--details", "det2"]), " hi\n");
  ok(["rm", "det", "det2"]);
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

test("cp both ways, through volumes, on a stopped container, and never through a symlink to the host", () => {
  const host = join(d.dir, "cp");
  mkdirSync(join(host, "secret-dir"), { recursive: true });
  writeFileSync(join(host, "secret-dir", "secret"), "host only\n");
  writeFileSync(join(host, "in.txt"), "into the container\n");
  ok(["run", "-d", "--name", "cpc", "-v", "cpvol:/data", "busybox", "sleep", "1000"]);
  ok(["cp", "cpc:/etc/passwd", join(host, "passwd")]);
  assert.match(readFileSync(join(host, "passwd"), "utf8"), /^root:x:0:0/);
  ok(["cp", "cpc:/etc", join(host, "etc-copy")]);
  assert.ok(existsSync(join(host, "etc-copy", "group")));
  ok(["cp", join(host, "in.txt"), "cpc:/tmp/"]);
  assert.equal(ok(["exec", "cpc", "cat", "/tmp/in.txt"]), "into the container\n");
  ok(["cp", join(host, "in.txt"), "cpc:/data/v.txt"]);
  assert.equal(ok(["run", "--rm", "-v", "cpvol:/v", "busybox", "cat", "/v/v.txt"]), "into the container\n", "written into the volume");
  const missing = d.docker(["cp", "cpc:/nonexistent", host]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Could not find the file \/nonexistent in container/);
  // Symlinks made in the container are resolved inside it, never on the host.
  ok(["exec", "cpc", "ln", "-s", join(host, "secret-dir", "secret"), "/leak"]);
  ok(["exec", "cpc", "ln", "-s", join(host, "secret-dir"), "/into"]);
  // As docker: the link itself is copied out (it points at a host path only on the host side);
  // with -L its target is looked up inside the container, where there is no such file.
  const leak = d.docker(["cp", "cpc:/leak", join(host, "leaked")]);
  assert.equal(leak.status, 0, leak.stderr);
  assert.equal(readlinkSync(join(host, "leaked")), join(host, "secret-dir", "secret"), "copied as a symlink");
  const followed = d.docker(["cp", "-L", "cpc:/leak", join(host, "leaked-L")]);
  assert.ok(followed.status !== 0 || !readFileSync(join(host, "leaked-L"), "utf8").includes("host only"), "a host file was read through a container symlink");
  d.docker(["cp", join(host, "in.txt"), "cpc:/into/planted"]);
  assert.ok(!existsSync(join(host, "secret-dir", "planted")), "a host directory was written through a container symlink");
  ok(["stop", "-t", "0", "cpc"]);
  ok(["cp", join(host, "in.txt"), "cpc:/stopped.txt"]);
  assert.equal(ok(["cp", "cpc:/tmp/in.txt", "-"]).length > 0, true);
  ok(["start", "cpc"]);
  assert.equal(ok(["exec", "cpc", "cat", "/stopped.txt"]), "into the container\n");
  ok(["rm", "-f", "cpc"]);
  ok(["volume", "rm", "cpvol"]);
});

test("diff, commit with --change, history of the new image, export", () => {
  ok(["run", "-d", "--name", "chg", "busybox", "sh", "-c", "echo made > /made.txt; rm /etc/group; mkdir /newdir; sleep 1000"]);
  return until("the changes", () => ok(["diff", "chg"]).includes("/newdir")).then(() => {
    const diff = ok(["diff", "chg"]).trim().split("\n");
    for (const line of ["A /made.txt", "D /etc/group", "C /etc", "A /newdir"]) assert.ok(diff.includes(line), `${line} in ${diff.join(", ")}`);
    assert.ok(!diff.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), `the runtime's mountpoint files are not changes: ${diff.join(", ")}`);
    // A container that changed nothing has no changes (docker keeps those files in its init layer).
    ok(["run", "--name", "nochg", "busybox", "true"]);
    assert.equal(ok(["diff", "nochg"]), "");
    ok(["rm", "nochg"]);
    const id = ok(["commit", "-c", 'CMD ["cat", "/made.txt"]', "-c", "ENV COMMITTED=yes", "-m", "a message", "chg", "committed:1"]).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok(["run", "--rm", "committed:1"]), "made\n");
    assert.equal(ok(["run", "--rm", "committed:1", "sh", "-c", "echo $COMMITTED; test -e /etc/group || echo gone"]), "yes\ngone\n");
    assert.equal(inspect("committed:1", "{{len .RootFS.Layers}}"), "2");
    assert.match(ok(["history", "committed:1"]), /a message/);
    const tar = spawnSync("sh", ["-c", `docker export chg | tar -t`], { env: { ...process.env, DOCKER_HOST: d.host }, encoding: "utf8" });
    assert.equal(tar.status, 0, tar.stderr);
    const names = tar.stdout.split("\n");
    assert.ok(names.includes("made.txt") && names.includes("bin/busybox") && !names.includes("etc/group"), "export is the merged filesystem");
    ok(["rm", "-f", "chg"]);
    ok(["rmi", "committed:1"]);
  });
});

test("containers outlive a killed berthd: logs complete, exits while it was down collected, stop works", async () => {
  ok(["run", "-d", "--name", "counter", "busybox", "sh", "-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.1; done"]);
  ok(["run", "-d", "--name", "quitter", "busybox", "sh", "-c", "sleep 1; exit 3"]);
  ok(["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
  const pids = ["counter", "sleeper"].map((n) => Number(inspect(n, "{{.State.Pid}}")));
  d.crash();
  await new Promise((r) => setTimeout(r, 1500));
  for (const pid of pids) assert.ok(existsSync(`/proc/${pid}`), "containers run without their daemon");
  await d.start();
  assert.equal(inspect("counter", "{{.State.Running}}"), "true");
  assert.equal(inspect("sleeper", "{{.State.Running}} {{.State.Pid}}"), `true ${pids[1]}`);
  assert.equal(inspect("quitter", "{{.State.Status}} {{.State.ExitCode}}"), "exited 3", "an exit while berthd was down is collected");
  assert.equal(ok(["exec", "sleeper", "echo", "alive"]), "alive\n");
  await new Promise((r) => setTimeout(r, 300));
  ok(["stop", "-t", "1", "counter", "sleeper"]);
  const lines = ok(["logs", "counter"]).trim().split("\n").map(Number);
  assert.ok(lines.length > 15, `${lines.length} lines`);
  lines.forEach((n, i) => assert.equal(n, i, "no numbered line is missing"));
  assert.equal(inspect("sleeper", "{{.State.Status}}"), "exited");
  for (const pid of pids) assert.ok(!existsSync(`/proc/${pid}`));
  ok(["rm", "counter", "quitter", "sleeper"]);
});

test("events: create, start, die and oom of a container, with filters and --until", () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  d.docker(["run", "--name", "evt", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c", "x=$(head -c 50000000 /dev/zero | tr '\\0' a)"]);
  const until = Math.floor(Date.now() / 1000) + 1;
  const out = ok(["events", "--since", String(since), "--until", String(until), "--filter", "container=evt", "--format", "{{.Action}}"]);
  const actions = out.trim().split("\n");
  for (const a of ["create", "start", "oom", "die"]) assert.ok(actions.includes(a), `${a} in ${actions.join(",")}`);
  assert.ok(actions.indexOf("start") < actions.indexOf("die"));
  ok(["rm", "evt"]);
});

/** What berthd leaves on the host: mounts under its dirs, cgroups under its parent, shims, fds. */
function footprint(): { mounts: number; cgroups: number; shims: number; fds: number; runDirs: number } {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(d.dir)).length;
  let cgroups = 0;
  for (const h of ["memory", "pids", "cpu", "freezer"]) {
    try { cgroups += readdirSync(`/sys/fs/cgroup/${h}${d.cgroupParent}`, { withFileTypes: true }).filter((e) => e.isDirectory()).length; } catch { /* none */ }
  }
  // This daemon's shims: berth-shim processes holding a file under its directories (the log).
  const shims = spawnSync("pgrep", ["-f", "berth-shim"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)
    .filter((p) => { try { return readdirSync(`/proc/${p}/fd`).some((fd) => { try { return readlinkSync(`/proc/${p}/fd/${fd}`).startsWith(d.dir); } catch { return false; } }); } catch { return false; } }).length;
  const pid = Number(readFileSync(join(d.dir, "berthd.pid"), "utf8"));
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  let runDirs = 0;
  try { runDirs = readdirSync(join(d.dir, "run", "containers")).length; } catch { /* none yet */ }
  return { mounts, cgroups, shims, fds, runDirs };
}

test("no leaks: 100 sequential run --rm and 10 parallel run -d + rm leave nothing behind", async () => {
  ok(["run", "--rm", "busybox", "true"]); // warm up: lazily opened descriptors
  await until("the warm-up's shim to go", () => footprint().shims === 0);
  const before = footprint();
  for (let i = 0; i < 100; i++) ok(["run", "--rm", "busybox", "true"]);
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: join(d.dir, "client") };
  const runOne = (i: number) => new Promise<number>((resolve) => {
    spawn("docker", ["run", "-d", "--name", `par${i}`, "busybox", "sleep", "100"], { env, stdio: "ignore" }).on("exit", (code) => resolve(code ?? -1));
  });
  const codes = await Promise.all(Array.from({ length: 10 }, (_, i) => runOne(i)));
  assert.deepEqual(codes, Array(10).fill(0));
  assert.equal(ok(["ps", "-q"]).trim().split("\n").length, 10);
  const during = footprint();
  assert.equal(during.shims, 10, "one shim per running container (and the count sees them)");
  assert.ok(during.mounts > before.mounts && during.cgroups > before.cgroups, "the footprint sees mounts and cgroups");
  ok(["rm", "-f", ...Array.from({ length: 10 }, (_, i) => `par${i}`)]);
  await until("the removed containers' shims to go", () => footprint().shims === 0);
  const after = footprint();
  assert.deepEqual({ ...after, fds: 0 }, { ...before, fds: 0 });
  assert.ok(after.fds <= before.fds + 2, `berthd fds ${before.fds} → ${after.fds}`);
});
