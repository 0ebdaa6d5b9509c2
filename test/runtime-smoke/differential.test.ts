/**
 * berth-runc against runc: each bundle exercises one feature and prints what a process can observe
 * (ids, capabilities, mounts, devices, limits, exit status). Both runtimes run the same bundle; the
 * outputs and exit statuses must be equal.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, existsSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Spec } from "../../src/runtime/spec.js";
import { berthRunc, cleanupDir, makeBundle, removeCgroupParent, runtimeCmd } from "../helpers/bundle.js";

const RUNC = "/usr/sbin/runc";
const parent = `/berth-diff-${process.pid}`;
const roots = mkdtempSync(join(tmpdir(), "berth-diff-roots-"));
const netns = `berth-diff-${process.pid}`;
after(() => {
  cleanupDir(roots);
  removeCgroupParent(parent);
  spawnSync("ip", ["netns", "del", netns]);
});

const CAPS = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"];
const MOUNTS = "awk '{print $5, $6, $9}' /proc/self/mountinfo | sort";

/** expect: what both must print, where an empty output would make the comparison vacuous. */
interface Case { name: string; args: string[]; edit?: (s: Spec, bundle: string) => void; expect?: RegExp }

const sh = (script: string): string[] => ["sh", "-c", script];

const cases: Case[] = [
  { name: "pid 1, hostname, uid", args: sh("echo $$; hostname; id") },
  { name: "default capabilities and no_new_privs", args: sh("grep -E '^(Cap|NoNewPrivs)' /proc/self/status") },
  { name: "custom capability sets", args: sh("grep -E '^Cap' /proc/self/status"), edit: (s) => { s.process!.capabilities = { bounding: CAPS, effective: CAPS.slice(0, 2), permitted: CAPS, inheritable: [] }; } },
  { name: "no_new_privs off", args: sh("grep NoNewPrivs /proc/self/status"), edit: (s) => { s.process!.noNewPrivileges = false; } },
  { name: "user, group and additional gids", args: sh("id"), edit: (s) => { s.process!.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] }; } },
  { name: "umask", args: sh("umask"), edit: (s) => { s.process!.user.umask = 0o27; } },
  { name: "cwd", args: sh("pwd"), edit: (s) => { s.process!.cwd = "/tmp"; } },
  { name: "environment", args: sh("env | sort"), edit: (s) => { s.process!.env = ["PATH=/bin:/usr/bin", "A=1", "B=two words"]; } },
  { name: "rlimits", args: sh("ulimit -n; ulimit -Hn; ulimit -s"), edit: (s) => { s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 512, hard: 1024 }, { type: "RLIMIT_STACK", soft: 4194304, hard: 4194304 }]; } },
  { name: "read-only root", args: sh("touch /x 2>/dev/null; echo $?; touch /tmp/x; echo $?") },
  { name: "masked paths", args: sh("head -c1 /proc/kcore | wc -c; ls /sys/firmware | wc -l") },
  { name: "mount table", args: sh(MOUNTS) },
  { name: "device nodes", args: sh("ls -l /dev | awk '{print $1, $3, $4, $5, $6, $NF}'") },
  { name: "sysctl in a new network namespace", args: sh("cat /proc/sys/net/ipv4/ip_forward"), edit: (s) => { s.linux!.sysctl = { "net.ipv4.ip_forward": "1" }; } },
  { name: "tmpfs with options", args: sh("grep ' /mnt/t ' /proc/self/mountinfo | awk '{print $6, $NF}'"), edit: (s) => { s.mounts!.push({ destination: "/mnt/t", type: "tmpfs", source: "tmpfs", options: ["nosuid", "noexec", "size=1m", "mode=700"] }); } },
  {
    name: "read-only bind mount", args: sh("cat /mnt/b/f; touch /mnt/b/g 2>/dev/null; echo $?"),
    edit: (s, b) => { mkdirSync(join(b, "shared")); writeFileSync(join(b, "shared/f"), "from host\n"); s.mounts!.push({ destination: "/mnt/b", type: "bind", source: "shared", options: ["rbind", "ro"] }); },
  },
  { name: "linux.devices", args: sh("ls -l /dev/fuse | awk '{print $1, $3, $5, $6}'"), edit: (s) => { s.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o640, uid: 0, gid: 0 }]; s.linux!.resources!.devices!.push({ allow: true, type: "c", major: 10, minor: 229, access: "rwm" }); } },
  { name: "exit status", args: sh("exit 3") },
  { name: "killed by a signal", args: sh("kill -9 $$") },
  { name: "missing executable", args: ["/does-not-exist"] },
  { name: "file that is not executable", args: ["/etc/passwd"] },
  { name: "invalid config: empty args", args: [], edit: (s) => { s.process!.args = []; } },
  { name: "seccomp errno", args: sh("mkdir /tmp/d 2>&1; echo $?"), edit: (s) => { s.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] }; } },
  { name: "seccomp kill", args: sh("uname -a >/dev/null; echo unreachable"), edit: (s) => { s.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["uname"], action: "SCMP_ACT_KILL_PROCESS" }] }; } },
  {
    name: "user namespace with mappings", args: sh("id; cat /proc/self/uid_map /proc/self/gid_map"),
    edit: (s) => { s.linux!.namespaces!.push({ type: "user" }); s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }]; s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }]; s.mounts = s.mounts!.filter((m) => m.type !== "cgroup" && m.destination !== "/sys"); },
  },
  { name: "join a network namespace by path", args: sh("ip -o link | awk '{print $2}'"), edit: (s) => { s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: `/var/run/netns/${netns}` } : n)); } },
  { name: "uts namespace hostname", args: sh("hostname; hostname other; hostname"), edit: (s) => { s.hostname = "diff-host"; s.process!.capabilities = { bounding: ["CAP_SYS_ADMIN"], effective: ["CAP_SYS_ADMIN"], permitted: ["CAP_SYS_ADMIN"] }; } },
  {
    name: "prestart hook gets the state", args: sh("cat /tmp/none 2>/dev/null; echo ran"),
    edit: (s, b) => {
      const hook = join(b, "hook.sh");
      writeFileSync(hook, `#!/bin/sh\ncat > ${b}/state-$$.json\n`);
      chmodSync(hook, 0o755);
      s.hooks = { prestart: [{ path: hook }] };
    },
  },
  {
    // Before pivot_root, in the container's namespaces: the path is the runtime's, the rootfs is at its host path.
    name: "createContainer hook", expect: /^"status":"creating"\n"pid":1\nsame-uts\n$/, args: sh(`grep -o '"status":"[a-z]*"' /run/cc; grep -o '"pid":[0-9]*' /run/cc; [ "$(cat /run/ns)" = "$(readlink /proc/self/ns/uts)" ] && echo same-uts`),
    edit: (s) => {
      s.mounts!.push({ destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
      s.hooks = { createContainer: [{ path: "/bin/sh", args: ["sh", "-c", `cat > ${s.root!.path}/run/cc; readlink /proc/self/ns/uts > ${s.root!.path}/run/ns`] }] };
    },
  },
  {
    name: "startContainer hook", expect: /^"status":"created"\n"pid":1\nfrom-hook\n$/, args: sh(`grep -o '"status":"[a-z]*"' /run/sc; grep -o '"pid":[0-9]*' /run/sc; cat /run/env`),
    edit: (s) => {
      s.mounts!.push({ destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
      s.hooks = { startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "cat > /run/sc; echo $HOOKVAR > /run/env"], env: ["HOOKVAR=from-hook"] }] };
    },
  },
  { name: "a failing createContainer hook fails create", args: sh("echo unreachable"), edit: (s) => { s.hooks = { createContainer: [{ path: "/bin/false" }] }; } },
  { name: "a createContainer hook past its timeout fails create", args: sh("echo unreachable"), edit: (s) => { s.hooks = { createContainer: [{ path: "/bin/sleep", args: ["sleep", "5"], timeout: 1 }] }; } },
];

function runBoth(c: Case): { runc: { status: number; stdout: string }; berth: { status: number; stdout: string; stderr: string } } {
  const b = makeBundle(c.args, undefined, parent);
  c.edit?.(b.spec, b.dir);
  b.write();
  try {
    const r1 = runtimeCmd(RUNC, join(roots, "runc"), ["run", "--bundle", b.dir, `r-${process.pid}`]);
    const r2 = runtimeCmd(berthRunc, join(roots, "berth"), ["run", "--bundle", b.dir, `b-${process.pid}`]);
    return { runc: r1, berth: r2 };
  } finally {
    runtimeCmd(RUNC, join(roots, "runc"), ["delete", "-f", `r-${process.pid}`]);
    runtimeCmd(berthRunc, join(roots, "berth"), ["delete", "-f", `b-${process.pid}`]);
    cleanupDir(b.dir);
  }
}

test("berth-runc and runc give the same results", async (t) => {
  assert.ok(existsSync(RUNC), "runc is missing: apt-get install runc");
  execFileSync("ip", ["netns", "add", netns]);
  assert.ok(cases.length >= 25, "at least 25 bundles");
  for (const c of cases) {
    await t.test(c.name, () => {
      const { runc, berth } = runBoth(c);
      assert.equal(berth.stdout, runc.stdout, `stdout differs (berth stderr: ${berth.stderr})`);
      if (c.expect) assert.match(berth.stdout, c.expect);
      if (runc.status === 0) assert.equal(berth.status, 0, `berth failed: ${berth.stderr}`);
      else assert.notEqual(berth.status, 0, "berth succeeded where runc failed");
      if (runc.status > 1) assert.equal(berth.status, runc.status);
    });
  }
});
