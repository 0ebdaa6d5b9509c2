/**
 * A private berthd for one test file: its own data-root, exec-root, socket and cgroup parent, the
 * docker CLI as its client, the busybox image imported from the local fixture, and its own default
 * bridge interface. stop() removes its containers, stops the daemon by its pid, and removes its
 * mounts, cgroups, bridges, isolation rules and directory, and puts net.ipv4.ip_forward back as
 * it found it (the CNI bridge plugin turns forwarding on, as dockerd does).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** The bridge interfaces of a daemon's networks, read from its data root. */
function bridgesOf(dataRoot: string): string[] {
  const d = join(dataRoot, "network");
  if (!existsSync(d)) return [];
  return readdirSync(d).flatMap((f) => {
    try { return [JSON.parse(readFileSync(join(d, f), "utf8")).Options["com.docker.network.bridge.name"] as string].filter(Boolean); } catch { return []; }
  });
}

/** Deletes a bridge interface and every iptables rule that names it (filter and nat tables). */
export function removeBridge(br: string): void {
  spawnSync("ip", ["link", "del", br]);
  for (const table of ["filter", "nat"]) {
    const rules = spawnSync("iptables", ["-w", "5", "-t", table, "-S"], { encoding: "utf8" }).stdout.split("\n");
    for (const r of rules) {
      if (!r.startsWith("-A ") || !r.split(" ").includes(br)) continue;
      spawnSync("sh", ["-c", `iptables -w 5 -t ${table} ${r.replace(/^-A /, "-D ")}`]);
    }
  }
}

/**
 * berth's isolation chains and the portmap plugin's shared chains, once no rule in them is left
 * (no berth bridge and no published port on this host): removed with the jumps to them.
 */
export function removeEmptyChains(): void {
  const rulesIn = (table: string, chain: string): number =>
    spawnSync("iptables", ["-w", "5", "-t", table, "-S", chain], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.startsWith("-A")).length;
  const drop = (table: string, jumps: [string, string][], chains: string[]): void => {
    for (const [from, to] of jumps) {
      for (const r of spawnSync("iptables", ["-w", "5", "-t", table, "-S", from], { encoding: "utf8" }).stdout.split("\n")) {
        if (r.startsWith("-A ") && r.includes(`-j ${to}`)) spawnSync("sh", ["-c", `iptables -w 5 -t ${table} ${r.replace(/^-A /, "-D ")}`]);
      }
    }
    for (const c of chains) { spawnSync("iptables", ["-w", "5", "-t", table, "-F", c]); spawnSync("iptables", ["-w", "5", "-t", table, "-X", c]); }
  };
  if (rulesIn("filter", "BERTH-ISOLATION-1") === 0 && rulesIn("filter", "BERTH-ISOLATION-2") === 0) {
    drop("filter", [["FORWARD", "BERTH-ISOLATION-1"]], ["BERTH-ISOLATION-1", "BERTH-ISOLATION-2"]);
  }
  if (rulesIn("nat", "CNI-HOSTPORT-DNAT") === 0) {
    drop("nat", [["PREROUTING", "CNI-HOSTPORT-DNAT"], ["OUTPUT", "CNI-HOSTPORT-DNAT"], ["POSTROUTING", "CNI-HOSTPORT-MASQ"]], ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]);
  }
}

export async function startBerthd(opts: { importBusybox?: boolean; daemonArgs?: string[] } = {}): Promise<PrivateBerthd> {
  const dir = mkdtempSync(join(tmpdir(), "berth-berthd-"));
  const bridge = `bt${process.pid}`.slice(0, 15);
  const ipForward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
  const sock = join(dir, "berth.sock");
  const host = `unix://${sock}`;
  const cgroupParent = `/berth-test-d${process.pid}`;
  // DOCKER_BUILDKIT=0: the docker CLI's classic builder protocol (POST /build), which berthd serves.
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, "client"), DOCKER_BUILDKIT: "0" } as Record<string, string>;
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
      "-H", host, "--pidfile", join(dir, "berthd.pid"), "--cgroup-parent", cgroupParent, "--bridge", bridge, ...(opts.daemonArgs ?? [])], { stdio: ["ignore", log, log], detached: true });
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
    // An lxcfs this daemon's runtime started for --resource-view outlives berthd by design; it is
    // this test's to stop (it unmounts itself on SIGTERM).
    try {
      const lx = Number(readFileSync(join(dir, "run", "runtime", ".lxcfs.pid"), "utf8").trim());
      if (lx > 0) {
        try { process.kill(lx, "SIGTERM"); } catch { /* gone */ }
        for (let i = 0; i < 100 && alive(lx); i++) sleepMs(20);
        try { process.kill(lx, "SIGKILL"); } catch { /* gone */ }
      }
    } catch { /* none started */ }
    sleepMs(100);
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((m): m is string => !!m && m.startsWith(dir));
    for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
    removeCgroupParent(cgroupParent);
    for (const br of new Set([bridge, ...bridgesOf(join(dir, "data"))])) removeBridge(br);
    removeEmptyChains();
    writeFileSync("/proc/sys/net/ipv4/ip_forward", ipForward);
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
