/**
 * The resource view (`--resource-view`; the annotation `org.berth.resource-view=true` for any
 * runtime caller): inside the container, /proc/meminfo, cpuinfo, stat, uptime, loadavg,
 * diskstats, swaps and /sys/devices/system/cpu/online describe the container's own limits —
 * what `top`, `free`-like tools reading /proc, and nginx's `worker_processes auto` see — instead of
 * the host's. The files come from lxcfs (Debian's lxcfs, a FUSE filesystem that answers each
 * reader from its cgroups) and are bind-mounted over the container's.
 *
 * berth uses an lxcfs that is already mounted on the host (Debian's service mounts
 * /var/lib/lxcfs); without one it starts its own on <runtime root>/.lxcfs with --enable-cfs
 * (CPU quotas count in cpuinfo, stat and cpu/online) and -l (loadavg). Like the containers that
 * use it, that lxcfs outlives berthd; nothing stops it but its owner (tests stop theirs).
 *
 * What lxcfs cannot change is sched_getaffinity(2), which `nproc`, Go's GOMAXPROCS and most thread
 * pools ask. So, as LXD does for limits.cpu, a container with a CPU quota and no cpuset of its own
 * is also confined to ceil(quota) CPUs (which ones depends on its id, to spread containers):
 * its throughput is the quota either way, and every way of counting CPUs agrees. sysinfo(2)
 * (busybox `free`) stays the host's.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FailedPrecondition } from "../errdefs.js";
import { parseCpuList } from "./cgroups/convert.js";
import { parseMountinfo } from "./cgroups/detect.js";
import { RESOURCE_VIEW_ANNOTATION, type Mount, type Spec } from "./spec.js";

export { RESOURCE_VIEW_ANNOTATION };

const FILES = ["proc/meminfo", "proc/cpuinfo", "proc/stat", "proc/uptime", "proc/loadavg", "proc/diskstats", "proc/swaps", "sys/devices/system/cpu/online"];

export function wantsResourceView(annotations: Record<string, string> | undefined): boolean {
  const v = annotations?.[RESOURCE_VIEW_ANNOTATION];
  return v !== undefined && v !== "false" && v !== "0" && v !== "";
}

function lxcfsMounts(): string[] {
  return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8")).filter((m) => m.fsType === "fuse.lxcfs").map((m) => m.mountPoint);
}

let starting: Promise<string> | undefined;

/** An lxcfs mountpoint: one already mounted, or one berth starts under `root`. */
export function ensureLxcfs(root: string): Promise<string> {
  const mounted = lxcfsMounts().find((m) => existsSync(join(m, "proc/meminfo")));
  if (mounted) return Promise.resolve(mounted);
  starting ??= startLxcfs(root).finally(() => { starting = undefined; });
  return starting;
}

async function startLxcfs(root: string): Promise<string> {
  const bin = ["/usr/bin/lxcfs", "/usr/local/bin/lxcfs"].find((p) => existsSync(p));
  if (!bin) throw new FailedPrecondition("--resource-view needs lxcfs, which is not installed (Debian: apt-get install lxcfs)");
  if (!existsSync("/dev/fuse")) throw new FailedPrecondition("--resource-view needs lxcfs, which needs /dev/fuse (modprobe fuse)");
  const mnt = join(root, ".lxcfs");
  mkdirSync(mnt, { recursive: true, mode: 0o755 });
  const log = openSync(join(root, ".lxcfs.log"), "a");
  const child = spawn(bin, ["--enable-cfs", "-l", "-p", join(root, ".lxcfs.pid"), mnt], { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  let exited: number | null | undefined;
  child.once("exit", (code) => { exited = code; });
  const deadline = Date.now() + 10_000;
  while (!lxcfsMounts().includes(mnt) || !existsSync(join(mnt, "proc/meminfo"))) {
    if (exited !== undefined || Date.now() > deadline) {
      const tail = (() => { try { return readFileSync(join(root, ".lxcfs.log"), "utf8").trim().split("\n").slice(-1)[0] ?? ""; } catch { return ""; } })();
      throw new FailedPrecondition(`--resource-view: lxcfs did not mount ${mnt}${exited !== undefined ? ` (exit ${exited})` : ""}${tail ? `: ${tail}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return mnt;
}

/** Bind mounts of lxcfs's files over the container's (after its /proc and /sys, so last). */
export function resourceViewMounts(lxcfs: string): Mount[] {
  return FILES.filter((f) => existsSync(join(lxcfs, f))).map((f) => ({ destination: `/${f}`, type: "bind", source: join(lxcfs, f), options: ["rbind", "rprivate"] }));
}

/** The CPUs a container with this quota sees and runs on: ceil(quota/period) of the online ones. */
export function resourceViewCpus(spec: Spec, id: string, online: number[]): string | undefined {
  const cpu = spec.linux?.resources?.cpu;
  if (!cpu?.quota || cpu.quota <= 0 || cpu.cpus || online.length === 0) return undefined;
  const n = Math.min(online.length, Math.max(1, Math.ceil(cpu.quota / (cpu.period || 100_000))));
  if (n === online.length) return undefined;
  let start = 0;
  for (const ch of id) start = (start * 31 + ch.charCodeAt(0)) % online.length;
  return Array.from({ length: n }, (_, i) => online[(start + i) % online.length]!).sort((a, b) => a - b).join(",");
}

/** /sys/devices/system/cpu/online as numbers ("0-3,6" → [0,1,2,3,6]). */
export function onlineCpus(): number[] {
  let text = "0";
  try { text = readFileSync("/sys/devices/system/cpu/online", "utf8").trim(); } catch { /* assume one */ }
  return [...(parseCpuList(text) ?? [0])];
}
