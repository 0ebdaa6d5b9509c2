/**
 * A private berthd for one test file: its own data-root, exec-root, socket and cgroup parent, the
 * docker CLI as its client, the busybox image imported from the local fixture. stop() removes its
 * containers, stops the daemon by its pid, and removes its mounts, cgroups and directory.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeCgroupParent, repo } from "./bundle.js";
import { busyboxRootfs } from "./fixtures.js";

export interface CmdResult { status: number; stdout: string; stderr: string }

export interface PrivateBerthd {
  dir: string;
  host: string;
  cgroupParent: string;
  docker: (args: string[], input?: string | Buffer) => CmdResult;
  /** bin/berth with -H pointing at this daemon. */
  berth: (args: string[], input?: string | Buffer) => CmdResult;
  /** Starts berthd (again) on the same directories: containers outlive a stopped daemon. */
  start: () => Promise<void>;
  /** SIGKILL to the daemon only. */
  crash: () => void;
  stop: () => void;
}

export const berthdEntry = join(repo, "dist/src/daemon/main.js");
export const berthBin = join(repo, "bin/berth");

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export async function startBerthd(opts: { importBusybox?: boolean } = {}): Promise<PrivateBerthd> {
  const dir = mkdtempSync(join(tmpdir(), "berth-berthd-"));
  const sock = join(dir, "berth.sock");
  const host = `unix://${sock}`;
  const cgroupParent = `/berth-test-d${process.pid}`;
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, "client") } as Record<string, string>;
  let child: ChildProcess | undefined;

  const docker: PrivateBerthd["docker"] = (args, input) => {
    const r = spawnSync("docker", args, { input, env, encoding: "utf8", timeout: 60000, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const berth: PrivateBerthd["berth"] = (args, input) => {
    const r = spawnSync(berthBin, ["-H", host, ...args], { input, encoding: "utf8", timeout: 60000, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const start = async (): Promise<void> => {
    const log = openSync(join(dir, "berthd.log"), "a");
    child = spawn(process.execPath, [berthdEntry, "--data-root", join(dir, "data"), "--exec-root", join(dir, "run"),
      "-H", host, "--pidfile", join(dir, "berthd.pid"), "--cgroup-parent", cgroupParent], { stdio: ["ignore", log, log], detached: true });
    child.unref();
    for (let i = 0; i < 100; i++) {
      if (docker(["version", "--format", "{{.Server.APIVersion}}"]).status === 0) return;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`private berthd did not start:\n${readFileSync(join(dir, "berthd.log"), "utf8").split("\n").slice(-8).join("\n")}`);
  };
  const crash = (): void => {
    const pid = child?.pid;
    if (!pid) return;
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    for (let i = 0; i < 50 && alive(pid); i++) sleepMs(20);
  };
  const stop = (): void => {
    if (child?.pid && alive(child.pid)) {
      const ids = docker(["ps", "-aq"]).stdout.split("\n").filter(Boolean);
      if (ids.length) docker(["rm", "-f", ...ids]);
      try { process.kill(child.pid, "SIGTERM"); } catch { /* gone */ }
      for (let i = 0; i < 100 && alive(child.pid); i++) sleepMs(20);
      try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ }
    }
    // Anything still in our cgroups (a shim of a test that failed half-way) is ours to kill.
    for (const h of ["pids", "memory", "cpu,cpuacct", "freezer"]) {
      try {
        for (const p of spawnSync("find", [`/sys/fs/cgroup/${h}${cgroupParent}`, "-name", "cgroup.procs"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) {
          for (const pid of readFileSync(p, "utf8").split("\n").filter(Boolean)) { try { process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ } }
        }
      } catch { /* no such hierarchy */ }
    }
    sleepMs(100);
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((m): m is string => !!m && m.startsWith(dir));
    for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
    removeCgroupParent(cgroupParent);
    spawnSync("rm", ["-rf", dir]);
  };

  try {
    await start();
    if (opts.importBusybox !== false) {
      const tar = spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
      const r = docker(["import", "-", "busybox:latest"], tar.stdout);
      if (r.status !== 0) throw new Error(`docker import busybox: ${r.stderr}`);
    }
  } catch (e) {
    stop();
    throw e;
  }
  return { dir, host, cgroupParent, docker, berth, start, crash, stop };
}
