/**
 * OCI linux.resources → cgroup v2 files (kernel Documentation/admin-guide/
 * cgroup-v2.rst; runtime-spec config-linux.md "Unified"). As on v1, only the
 * fields present are written, so the same function does live updates.
 */
import { join } from "node:path";
import type { LinuxResources, ThrottleDevice } from "../spec.js";
import { FailedPrecondition, InvalidArgument, NotImplemented } from "../../errdefs.js";
import { exists, readNumber, readOptional, writeCgroupFile } from "./fs-io.js";
import { attachDeviceFilter, deviceFilterProgram, type DeviceFilterAttach } from "./device-filter.js";
import {
  KERNEL_MEMORY_WARNING, KERNEL_TCP_WARNING, blkioWeightToIoWeight, devicesAllowAll, hugepageSizeName, limitText,
  rdmaLines, requestedControllers, sharesToWeight, swapMaxV2,
} from "./convert.js";

/**
 * Writes `r` into the group dir `d`. `available` is the set of controllers
 * enabled for this group (its cgroup.controllers).
 */
export async function applyV2Resources(d: string, r: LinuxResources, available: Set<string>, attachDevices: DeviceFilterAttach = attachDeviceFilter): Promise<string[]> {
  const warnings: string[] = [];
  for (const c of requestedControllers(r, 2)) {
    if (!available.has(c)) {
      throw new FailedPrecondition(`resources need the ${c} controller, which cgroup v2 does not provide for ${d} (cgroup.controllers: ${[...available].join(" ") || "none"})`);
    }
  }
  if (r.devices) {
    // v2 has no devices controller: an eBPF program attached to the group decides (device-filter.ts).
    // Allow-all rules need none (one attached earlier, by a live update, is detached).
    const program = deviceFilterProgram(r.devices); // validates the rules either way
    const attached = devicesAllowAll(r.devices) ? null : program;
    try {
      await attachDevices(d, attached);
    } catch (e) {
      throw new FailedPrecondition(`device rules on cgroup v2: attach an eBPF device program to ${d}: ${(e as Error).message}`, { cause: e });
    }
  }
  const unified = r.unified ?? {};
  if (r.cpu) await applyCpu(d, r.cpu, unified);
  if (r.memory) await applyMemory(d, r.memory, unified, available, warnings);
  if (r.pids) await writeCgroupFile(join(d, "pids.max"), r.pids.limit > 0 ? String(r.pids.limit) : "max");
  if (r.blockIO) await applyIo(d, r.blockIO, warnings);
  for (const h of r.hugepageLimits ?? []) {
    const size = hugepageSizeName(h.pageSize);
    await writeCgroupFile(join(d, `hugetlb.${size}.max`), limitText(h.limit, "max"));
    const rsvd = join(d, `hugetlb.${size}.rsvd.max`);
    if (await exists(rsvd)) await writeCgroupFile(rsvd, limitText(h.limit, "max"));
  }
  for (const line of rdmaLines(r.rdma)) await writeCgroupFile(join(d, "rdma.max"), line);
  if (r.network && (r.network.classID !== undefined || r.network.priorities?.length)) {
    warnings.push("network classID/priorities ignored: cgroup v2 has no net_cls/net_prio (use eBPF or nftables socket cgroup matching)");
  }
  for (const [key, value] of Object.entries(unified)) await writeUnified(d, key, value);
  return warnings;
}

async function applyCpu(d: string, cpu: NonNullable<LinuxResources["cpu"]>, unified: Record<string, string>): Promise<void> {
  if (cpu.realtimePeriod || cpu.realtimeRuntime) {
    throw new NotImplemented("cpu.realtimePeriod/realtimeRuntime: cgroup v2 has no realtime CPU budget (no cpu.rt_* files)");
  }
  if (cpu.shares && unified["cpu.weight"] === undefined) {
    await writeCgroupFile(join(d, "cpu.weight"), String(sharesToWeight(cpu.shares)));
  }
  if ((cpu.quota !== undefined || cpu.period) && unified["cpu.max"] === undefined) {
    // cpu.max holds "quota period" together; keep whichever half is not given.
    const [curQuota = "max", curPeriod = "100000"] = ((await readOptional(join(d, "cpu.max"))) ?? "").split(/\s+/).filter(Boolean);
    const quota = cpu.quota === undefined ? curQuota : cpu.quota > 0 ? String(cpu.quota) : "max";
    const period = cpu.period ? String(cpu.period) : curPeriod;
    await writeCgroupFile(join(d, "cpu.max"), `${quota} ${period}`);
  }
  if (cpu.burst !== undefined) await writeCgroupFile(join(d, "cpu.max.burst"), String(cpu.burst));
  if (cpu.idle !== undefined) await writeCgroupFile(join(d, "cpu.idle"), String(cpu.idle));
  if (cpu.cpus) await writeCgroupFile(join(d, "cpuset.cpus"), cpu.cpus);
  if (cpu.mems) await writeCgroupFile(join(d, "cpuset.mems"), cpu.mems);
}

async function applyMemory(
  d: string, m: NonNullable<LinuxResources["memory"]>, unified: Record<string, string>, available: Set<string>, warnings: string[],
): Promise<void> {
  if (m.kernel !== undefined && m.kernel !== 0) warnings.push(KERNEL_MEMORY_WARNING);
  if (m.kernelTCP !== undefined && m.kernelTCP !== 0) warnings.push(`${KERNEL_TCP_WARNING} and cgroup v2 has no separate TCP limit (it is part of memory.max); ignored`);
  if (m.swappiness !== undefined && m.swappiness >= 0) warnings.push("memory.swappiness ignored: cgroup v2 has no per-group swappiness");
  if (m.disableOOMKiller) warnings.push("memory.disableOOMKiller ignored: cgroup v2 cannot disable the OOM killer for a group");
  if (!available.has("memory")) return;
  const swap = swapMaxV2(m.limit, m.swap);
  if (m.limit !== undefined && m.limit !== 0) {
    if (m.checkBeforeUpdate && m.limit > 0) {
      const usage = await readNumber(join(d, "memory.current"));
      if (usage > m.limit) throw new FailedPrecondition(`memory limit ${m.limit} is below current usage ${usage} (checkBeforeUpdate)`);
    }
    await writeCgroupFile(join(d, "memory.max"), limitText(m.limit, "max"));
    // With a limit, an OOM kill takes the whole container (all its tasks) rather
    // than one process, leaving no half-dead container; Kubernetes and systemd
    // (OOMPolicy=kill) do the same. A `unified` value still overrides it.
    const group = join(d, "memory.oom.group");
    if (m.limit > 0 && unified["memory.oom.group"] === undefined && (await exists(group))) await writeCgroupFile(group, "1");
  }
  if (swap !== undefined) {
    const f = join(d, "memory.swap.max");
    if (await exists(f)) await writeCgroupFile(f, swap);
    else warnings.push("memory swap limit ignored: memory.swap.max is missing (the kernel has no swap accounting)");
  }
  if (m.reservation !== undefined) await writeCgroupFile(join(d, "memory.low"), limitText(m.reservation, "max"));
}

async function applyIo(d: string, b: NonNullable<LinuxResources["blockIO"]>, warnings: string[]): Promise<void> {
  // io.weight belongs to the io.cost controller; with the BFQ scheduler the
  // knob is io.bfq.weight, which takes the v1 blkio range (1–1000) unchanged.
  const hasIoWeight = await exists(join(d, "io.weight"));
  const file = hasIoWeight ? "io.weight" : "io.bfq.weight";
  const conv = (w: number): number => (hasIoWeight ? blkioWeightToIoWeight(w) : w);
  if (b.weight) await writeCgroupFile(join(d, file), hasIoWeight ? `default ${conv(b.weight)}` : String(b.weight));
  if (b.leafWeight) warnings.push("blockIO.leafWeight ignored: cgroup v2 has no leaf weight");
  for (const wd of b.weightDevice ?? []) {
    if (wd.weight) await writeCgroupFile(join(d, file), `${wd.major}:${wd.minor} ${conv(wd.weight)}`);
  }
  const max = async (key: string, list: ThrottleDevice[] | undefined): Promise<void> => {
    // One "maj:min key=value" line per write; the kernel merges keys per device.
    for (const t of list ?? []) await writeCgroupFile(join(d, "io.max"), `${t.major}:${t.minor} ${key}=${t.rate > 0 ? t.rate : "max"}`);
  };
  await max("rbps", b.throttleReadBpsDevice);
  await max("wbps", b.throttleWriteBpsDevice);
  await max("riops", b.throttleReadIOPSDevice);
  await max("wiops", b.throttleWriteIOPSDevice);
}

/**
 * runtime-spec "Unified": each key is a file name in the group directory. A
 * key must be a plain interface file name ("controller.knob"): no "/", no
 * "..", and never the files that move processes or change the tree's shape.
 */
export async function writeUnified(d: string, key: string, value: string): Promise<void> {
  if (!/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(key) || key.includes("..")) {
    throw new InvalidArgument(`unified key "${key}": must be a cgroup interface file name like "memory.high" (no "/" or "..")`);
  }
  const forbidden = ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.type", "cgroup.kill"];
  if (forbidden.includes(key)) throw new InvalidArgument(`unified key "${key}": berth manages this file itself`);
  if (!(await exists(join(d, key)))) {
    throw new FailedPrecondition(`unified key "${key}": ${join(d, key)} does not exist (controller "${key.split(".")[0]}" not enabled for this group?)`);
  }
  await writeCgroupFile(join(d, key), value);
}
