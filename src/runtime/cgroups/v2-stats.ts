/**
 * Reads a v2 group's counters (cpu.stat, memory.*, io.stat, pids.*,
 * hugetlb.*) into the same CgroupStats shape v1 fills.
 */
import { join } from "node:path";
import { readdir } from "node:fs/promises";
import type { CgroupStats } from "./types.js";
import { parseFlatKeyed, readFlatKeyed, readNumber, readOptional } from "./fs-io.js";
import { emptyStats } from "./v1-stats.js";

export async function readV2Stats(d: string): Promise<CgroupStats> {
  const s = emptyStats();
  // cpu.stat's usage/user/system lines exist even without the cpu controller.
  const cpu = await readFlatKeyed(join(d, "cpu.stat"));
  s.cpu = {
    usageNs: (cpu.usage_usec ?? 0) * 1000,
    userNs: (cpu.user_usec ?? 0) * 1000,
    systemNs: (cpu.system_usec ?? 0) * 1000,
    periods: cpu.nr_periods ?? 0,
    throttledPeriods: cpu.nr_throttled ?? 0,
    throttledNs: (cpu.throttled_usec ?? 0) * 1000,
  };
  const current = await readOptional(join(d, "memory.current"));
  if (current !== undefined) {
    const stat = await readFlatKeyed(join(d, "memory.stat"));
    const events = await readFlatKeyed(join(d, "memory.events"));
    s.memory = {
      usage: Number(current),
      limit: await readNumber(join(d, "memory.max")),
      // memory.peak exists since Linux 5.19.
      maxUsage: await readNumber(join(d, "memory.peak")),
      // "max" counts how often usage hit memory.max — v1's failcnt.
      failcnt: events.max ?? 0,
      cache: stat.file ?? 0,
      inactiveFile: stat.inactive_file ?? 0,
      oomKills: events.oom_kill ?? 0,
      // v2 has no under_oom flag; a group sits at the limit while oom > oom_kill.
      underOom: (events.oom ?? 0) > (events.oom_kill ?? 0),
      stats: stat,
    };
  }
  if ((await readOptional(join(d, "pids.current"))) !== undefined) {
    s.pids.current = await readNumber(join(d, "pids.current"));
    s.pids.limit = await readNumber(join(d, "pids.max"));
  }
  s.blkio = parseIoStat(await readOptional(join(d, "io.stat")));
  s.hugetlb = await readV2Hugetlb(d);
  return s;
}

/** io.stat: "maj:min rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device. */
export function parseIoStat(text: string | undefined): CgroupStats["blkio"] {
  const out: CgroupStats["blkio"] = { readBytes: 0, writeBytes: 0, entries: [] };
  const ops: Record<string, string> = { rbytes: "Read", wbytes: "Write", dbytes: "Discard", rios: "ReadIOs", wios: "WriteIOs", dios: "DiscardIOs" };
  for (const line of (text ?? "").split("\n")) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? "");
    if (!m) continue;
    for (const kv of kvs) {
      const [k, v] = kv.split("=");
      const op = ops[k ?? ""];
      if (!op || v === undefined) continue;
      const value = Number(v);
      out.entries.push({ major: Number(m[1]), minor: Number(m[2]), op, value });
      if (op === "Read") out.readBytes += value;
      if (op === "Write") out.writeBytes += value;
    }
  }
  return out;
}

async function readV2Hugetlb(d: string): Promise<CgroupStats["hugetlb"]> {
  const out: CgroupStats["hugetlb"] = {};
  let names: string[] = [];
  try { names = await readdir(d); } catch { return out; }
  for (const n of names) {
    const m = /^hugetlb\.([0-9]+[KMG]B)\.max$/.exec(n);
    if (!m) continue;
    const size = m[1]!;
    out[size] = {
      usage: await readNumber(join(d, `hugetlb.${size}.current`)),
      max: await readNumber(join(d, `hugetlb.${size}.max`)),
      failcnt: parseFlatKeyed(await readOptional(join(d, `hugetlb.${size}.events`))).max ?? 0,
    };
  }
  return out;
}

export async function readV2OomKills(d: string): Promise<number> {
  return (await readFlatKeyed(join(d, "memory.events"))).oom_kill ?? 0;
}
