/**
 * berth-runc's lifecycle as containerd drives it (create → start → exec → pause → kill → delete),
 * the seeds' demonstrations of isolation, and clean failure: a create that fails leaves nothing.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { berthRunc, cleanupDir, makeBundle, removeCgroupParent, runtimeCmd } from "../helpers/bundle.js";

const parent = `/berth-life-${process.pid}`;
const root = mkdtempSync(join(tmpdir(), "berth-life-root-"));
const rc = (...args: string[]) => runtimeCmd(berthRunc, root, args);
after(() => {
  for (const id of rc("list", "-q").stdout.split("\n").filter(Boolean)) rc("delete", "-f", id);
  cleanupDir(root);
  removeCgroupParent(parent);
});

const state = (id: string): Record<string, any> => JSON.parse(rc("state", id).stdout);

test("create, start, exec, ps, pause, resume, kill, delete", (t) => {
  const b = makeBundle(["sleep", "1000"], undefined, parent);
  t.after(() => cleanupDir(b.dir));
  const pidFile = join(b.dir, "pid");
  let r = rc("create", "--bundle", b.dir, "--pid-file", pidFile, "c1");
  assert.equal(r.status, 0, r.stderr);
  const s = state("c1");
  assert.equal(s.status, "created");
  assert.equal(s.pid, Number(readFileSync(pidFile, "utf8")));
  assert.equal(rc("create", "--bundle", b.dir, "c1").status, 1, "a second create with the same id fails");
  assert.equal(rc("start", "c1").status, 0);
  assert.equal(state("c1").status, "running");
  r = rc("exec", "--env", "X=42", "--cwd", "/tmp", "c1", "sh", "-c", "echo $X $(pwd) $$");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^42 \/tmp \d+\n$/);
  r = rc("exec", "--user", "1000:1000", "c1", "id", "-u");
  assert.equal(r.stdout.trim(), "1000");
  assert.equal(rc("exec", "c1", "sh", "-c", "exit 7").status, 7, "exec returns the process's status");
  const pids = JSON.parse(rc("ps", "--format", "json", "c1").stdout) as number[];
  assert.deepEqual(pids, [s.pid]);
  assert.equal(rc("pause", "c1").status, 0);
  assert.equal(state("c1").status, "paused");
  assert.match(rc("exec", "c1", "true").stderr, /paused/);
  assert.equal(rc("resume", "c1").status, 0);
  assert.equal(state("c1").status, "running");
  assert.match(rc("delete", "c1").stderr, /not stopped: it is running/);
  assert.equal(rc("kill", "c1", "KILL").status, 0);
  for (let i = 0; i < 100 && state("c1").status !== "stopped"; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  assert.equal(state("c1").status, "stopped");
  assert.equal(rc("delete", "c1").status, 0);
  assert.equal(rc("state", "c1").status, 1);
  assert.ok(!existsSync(join(root, "c1")));
});

test("delete --force stops a running container and removes its cgroup", (t) => {
  const b = makeBundle(["sleep", "1000"], undefined, parent);
  t.after(() => cleanupDir(b.dir));
  assert.equal(rc("run", "--detach", "--bundle", b.dir, "c2").status, 0);
  const cg = `/sys/fs/cgroup/memory${b.spec.linux!.cgroupsPath}`;
  assert.ok(existsSync(cg));
  assert.equal(rc("delete", "--force", "c2").status, 0);
  assert.ok(!existsSync(cg), "cgroup removed");
  assert.deepEqual(rc("list", "-q").stdout.split("\n").filter((x) => x === "c2"), []);
});

test("a failed create names the step and leaves no state, cgroup or process", (t) => {
  const b = makeBundle(["true"], (s) => { s.mounts!.push({ destination: "/mnt", type: "bind", source: "/nonexistent-source", options: ["rbind"] }); }, parent);
  t.after(() => cleanupDir(b.dir));
  const r = rc("create", "--bundle", b.dir, "c3");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /create c3: mounts\[\d+\]\.source: \/nonexistent-source does not exist/);
  assert.ok(!existsSync(join(root, "c3")));
  const b2 = makeBundle(["true"], (s) => { s.mounts!.push({ destination: "/mnt/x", type: "tmpfs", source: "tmpfs", options: ["bogus-option"] }); }, parent);
  t.after(() => cleanupDir(b2.dir));
  const r2 = rc("create", "--bundle", b2.dir, "c4");
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /^berth-runc: create c4: mount "tmpfs" on \/mnt\/x \(type tmpfs\): invalid argument$/m);
  assert.ok(!existsSync(join(root, "c4")));
  assert.ok(!existsSync(`/sys/fs/cgroup/memory${b2.spec.linux!.cgroupsPath}`));
  const bad = rc("create", "--bundle", "/nonexistent-bundle", "c5");
  assert.match(bad.stderr, /config\.json: no such file/);
});

test("the seeds' demonstrations: PID 1, own process list, own hostname, only lo, own namespaces", (t) => {
  const b = makeBundle(["sh", "-c", "echo $$; ps -o pid= | tr -d ' ' | sort -n | tr '\\n' ',';echo; hostname x && hostname; ip -o link | awk '{print $2}'; for n in pid net uts ipc mnt; do readlink /proc/self/ns/$n; done"], undefined, parent);
  b.spec.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
  b.spec.process!.capabilities!.effective!.push("CAP_SYS_ADMIN");
  b.spec.process!.capabilities!.permitted!.push("CAP_SYS_ADMIN");
  b.write();
  t.after(() => cleanupDir(b.dir));
  const before = hostname();
  const r = rc("run", "--bundle", b.dir, "c6");
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines[0], "1", "echo $$ prints 1");
  const pids = lines[1]!.split(",").filter(Boolean).map(Number);
  assert.equal(pids[0], 1);
  assert.ok(pids.every((p) => p < 50), `ps shows only the container's own processes: ${lines[1]}`);
  assert.equal(lines[2], "x");
  assert.equal(hostname(), before, "the host's hostname is unchanged");
  assert.equal(lines[3], "lo:");
  for (const [i, n] of ["pid", "net", "uts", "ipc", "mnt"].entries()) {
    assert.notEqual(lines[4 + i], readlinkSync(`/proc/self/ns/${n}`), `${n} namespace differs from the host's`);
  }
  assert.deepEqual(readdirSync(root).filter((x) => x === "c6"), [], "run removes the container");
});

test("200 create/start/delete cycles in process leave no cgroup, mount or state directory", async (t) => {
  const { Runtime } = await import("../../src/runtime/runtime.js");
  const { detectCgroupManager } = await import("../../src/runtime/cgroups/index.js");
  const cycleParent = `${parent}-cycles`;
  const b = makeBundle(["true"], (s) => { s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 32 }, cpu: { quota: 50000, period: 100000 } }; }, cycleParent);
  const libRoot = mkdtempSync(join(tmpdir(), "berth-life-cycles-"));
  t.after(() => { cleanupDir(b.dir); cleanupDir(libRoot); removeCgroupParent(cycleParent); });
  const rt = new Runtime({ root: libRoot, cgroups: detectCgroupManager({ parent: cycleParent }) });
  const mountsBefore = readFileSync("/proc/self/mountinfo", "utf8").split("\n").length;
  for (let i = 0; i < 200; i++) {
    const id = `cycle${i}`;
    const { shim } = await rt.create(id, { bundle: b.dir, mode: "monitor", stdio: ["ignore", "ignore", "ignore"] });
    shim.ref(); // the runtime lets its shims go; this test waits for each
    const exited = new Promise((r) => shim.once("exit", r));
    await rt.start(id);
    await exited;
    await rt.delete(id);
  }
  const left: string[] = [];
  for (const h of readdirSync("/sys/fs/cgroup")) {
    const dir = join("/sys/fs/cgroup", h, cycleParent);
    if (existsSync(dir)) left.push(...readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${h}/${e.name}`));
  }
  assert.deepEqual(left, [], "no container cgroup is left");
  assert.deepEqual(readdirSync(libRoot), [], "no state directory is left");
  assert.equal(readFileSync("/proc/self/mountinfo", "utf8").split("\n").length, mountsBefore, "no mount is left");
});
