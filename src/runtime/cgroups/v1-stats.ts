/**
 * Reads a v1 group's counters into CgroupStats. Files of controllers the host
 * lacks read as zero, so stats never fail on a partial setup.
 */
import { join } from "node:path";
import { readdir } from "node:fs/promises";
import type { CgroupStats } from "./types.js";
import type { V1Dirs } from "./v1-resources.js";
import { parseFlatKeyed, readFlatKeyed, readNumber, readOptional } from "./fs-io.js";

/** USER_HZ: cpuacct.stat counts in clock ticks, 100 per second on every Linux ABI. */
const NS_PER_TICK = 1e9 / 100;

export function emptyStats(): CgroupStats {
  return {
    cpu: { usageNs: 0, userNs: 0, systemNs: 0, throttledPeriods: 0, throttledNs: 0, periods: 0 },
    memory: { usage: 0, limit: 0, maxUsage: 0, cache: 0, inactiveFile: 0, failcnt: 0, oomKills: 0, underOom: false, stats: {} },
    pids: { current: 0, limit: 0 },
    blkio: { readBytes: 0, writeBytes: 0, entries: [] },
    hugetlb: {},
  };
}

export async function readV1Stats(dirs: V1Dirs): Promise<CgroupStats> {
  const s = emptyStats();
  const acct = dirs.cpuacct;
  if (acct) {
    s.cpu.usageNs = await readNumber(join(acct, "cpuacct.usage"));
    const percpu = await readOptional(join(acct, "cpuacct.usage_percpu"));
    if (percpu) s.cpu.perCpuNs = percpu.split(/\s+/).map(Number);
    // usage_user/usage_sys (Linux 4.7+) are in ns; cpuacct.stat only in ticks.
    const user = await readOptional(join(acct, "cpuacct.usage_user"));
    const sys = await readOptional(join(acct, "cpuacct.usage_sys"));
    if (user !== undefined && sys !== undefined) {
      s.cpu.userNs = Number(user);
      s.cpu.systemNs = Number(sys);
    } else {
      const st = await readFlatKeyed(join(acct, "cpuacct.stat"));
      s.cpu.userNs = (st.user ?? 0) * NS_PER_TICK;
      s.cpu.systemNs = (st.system ?? 0) * NS_PER_TICK;
    }
  }
  if (dirs.cpu) {
    const st = await readFlatKeyed(join(dirs.cpu, "cpu.stat"));
    s.cpu.periods = st.nr_periods ?? 0;
    s.cpu.throttledPeriods = st.nr_throttled ?? 0;
    s.cpu.throttledNs = st.throttled_time ?? 0;
  }
  const mem = dirs.memory;
  if (mem) {
    const stat = await readFlatKeyed(join(mem, "memory.stat"));
    const oom = await readFlatKeyed(join(mem, "memory.oom_control"));
    s.memory = {
      usage: await readNumber(join(mem, "memory.usage_in_bytes")),
      limit: await readNumber(join(mem, "memory.limit_in_bytes")),
      maxUsage: await readNumber(join(mem, "memory.max_usage_in_bytes")),
      failcnt: await readNumber(join(mem, "memory.failcnt")),
      // total_* include descendants; docker's "cache" and its usage-minus-
      // inactive_file figure read these.
      cache: stat.total_cache ?? stat.cache ?? 0,
      inactiveFile: stat.total_inactive_file ?? stat.inactive_file ?? 0,
      oomKills: oom.oom_kill ?? 0,
      underOom: (oom.under_oom ?? 0) === 1,
      stats: stat,
    };
  }
  if (dirs.pids) {
    s.pids.current = await readNumber(join(dirs.pids, "pids.current"));
    s.pids.limit = await readNumber(join(dirs.pids, "pids.max"));
  }
  if (dirs.blkio) {
    // The _recursive variant includes child groups; older kernels lack it.
    const rec = await readOptional(join(dirs.blkio, "blkio.throttle.io_service_bytes_recursive"));
    const text = rec ?? (await readOptional(join(dirs.blkio, "blkio.throttle.io_service_bytes")));
    s.blkio = parseBlkioServiceBytes(text);
  }
  if (dirs.hugetlb) s.hugetlb = await readV1Hugetlb(dirs.hugetlb);
  return s;
}

/** Lines "major:minor Op value" plus a "Total value" line (skipped). */
export function parseBlkioServiceBytes(text: string | undefined): CgroupStats["blkio"] {
  const out: CgroupStats["blkio"] = { readBytes: 0, writeBytes: 0, entries: [] };
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (!m) continue;
    const e = { major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) };
    out.entries.push(e);
    if (e.op === "Read") out.readBytes += e.value;
    if (e.op === "Write") out.writeBytes += e.value;
  }
  return out;
}

async function readV1Hugetlb(d: string): Promise<CgroupStats["hugetlb"]> {
  const out: CgroupStats["hugetlb"] = {};
  let names: string[] = [];
  try { names = await readdir(d); } catch { return out; }
  for (const n of names) {
    const m = /^hugetlb\.([0-9]+[KMG]B)\.limit_in_bytes$/.exec(n);
    if (!m) continue;
    const size = m[1]!;
    out[size] = {
      usage: await readNumber(join(d, `hugetlb.${size}.usage_in_bytes`)),
      max: await readNumber(join(d, `hugetlb.${size}.limit_in_bytes`)),
      failcnt: await readNumber(join(d, `hugetlb.${size}.failcnt`)),
    };
  }
  return out;
}

/** v1 OOM kill count: oom_kill (4.13+), else 1 while under_oom. */
export async function readV1OomKills(memDir: string | undefined): Promise<number> {
  if (!memDir) return 0;
  const oom = parseFlatKeyed(await readOptional(join(memDir, "memory.oom_control")));
  if (oom.oom_kill !== undefined) return oom.oom_kill;
  return oom.under_oom === 1 ? 1 : 0;
}
