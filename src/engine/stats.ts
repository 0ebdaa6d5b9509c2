/**
 * docker's stats JSON from the container's cgroup (#3's CgroupStats) and its network namespace,
 * and `top` from the cgroup's pids. The docker CLI computes CPU % as
 * (container usage delta / system usage delta) × online CPUs × 100, so system_cpu_usage must be
 * the host's total CPU time in nanoseconds (/proc/stat, in USER_HZ ticks of 10 ms).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { CgroupStats } from "../runtime/cgroups/types.js";

export function systemCpuNs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const ticks = line.split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0);
  return ticks * 1e7;
}

export function networkStats(pid: number): Record<string, Record<string, number>> | undefined {
  if (!pid) return undefined;
  let text: string;
  try { text = readFileSync(`/proc/${pid}/net/dev`, "utf8"); } catch { return undefined; }
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === "lo") continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! };
  }
  return Object.keys(out).length ? out : undefined;
}

export interface StatsSample { stats: CgroupStats; system: number; read: string }

export function dockerStats(id: string, name: string, pid: number, cur: StatsSample, prev: StatsSample | undefined): Record<string, unknown> {
  const cpu = (s: StatsSample | undefined) => s ? {
    cpu_usage: { total_usage: s.stats.cpu.usageNs, percpu_usage: s.stats.cpu.perCpuNs, usage_in_kernelmode: s.stats.cpu.systemNs, usage_in_usermode: s.stats.cpu.userNs },
    system_cpu_usage: s.system, online_cpus: availableParallelism(),
    throttling_data: { periods: s.stats.cpu.periods, throttled_periods: s.stats.cpu.throttledPeriods, throttled_time: s.stats.cpu.throttledNs },
  } : { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  const m = cur.stats.memory;
  const out: Record<string, unknown> = {
    read: cur.read, preread: prev?.read ?? "0001-01-01T00:00:00Z",
    pids_stats: { current: cur.stats.pids.current, ...(cur.stats.pids.limit >= 0 ? { limit: cur.stats.pids.limit } : {}) },
    blkio_stats: { io_service_bytes_recursive: cur.stats.blkio.entries.map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value })), io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0, storage_stats: {},
    cpu_stats: cpu(cur), precpu_stats: cpu(prev),
    memory_stats: {
      usage: m.usage, ...(m.maxUsage ? { max_usage: m.maxUsage } : {}),
      // docker's CLI subtracts total_inactive_file (v1) or inactive_file (v2) from usage.
      // Unsigned in docker's schema: "no limit" entries (-1 here) are left out, or clients fail to decode.
      stats: { ...Object.fromEntries(Object.entries(m.stats).filter(([, v]) => v >= 0)), total_inactive_file: m.inactiveFile, inactive_file: m.inactiveFile },
      ...(m.failcnt ? { failcnt: m.failcnt } : {}),
      limit: m.limit > 0 ? m.limit : totalMemory(),
    },
    name, id,
  };
  const net = networkStats(pid);
  if (net) out.networks = net;
  return out;
}

function totalMemory(): number {
  const m = /^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** `docker top`: ps output restricted to the container's pids. */
export function top(pids: number[], psArgs = "-ef"): { Titles: string[]; Processes: string[][] } {
  const out = execFileSync("ps", psArgs.split(/\s+/).filter(Boolean), { encoding: "utf8" }).split("\n").filter(Boolean);
  const titles = out[0]!.trim().split(/\s+/);
  const pidCol = titles.indexOf("PID");
  const procs: string[][] = [];
  for (const line of out.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (pidCol < 0 || !pids.includes(Number(f[pidCol]))) continue;
    // The last column (CMD/COMMAND) may contain spaces.
    procs.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(" ")]);
  }
  return { Titles: titles, Processes: procs };
}
