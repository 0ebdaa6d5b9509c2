/**
 * OCI linux.resources → cgroup v1 files (kernel Documentation/admin-guide/
 * cgroup-v1/*.rst). Used on create and for live updates alike: only the
 * fields present are written, so an update changes just what it names.
 */
import { join } from "node:path";
import type { DeviceRule, LinuxResources, ThrottleDevice } from "../spec.js";
import { FailedPrecondition, InvalidArgument } from "../../errdefs.js";
import { exists, readNumber, writeCgroupFile } from "./fs-io.js";
import {
  KERNEL_MEMORY_WARNING, KERNEL_TCP_WARNING, deviceRuleLine, hugepageSizeName, limitText, rdmaLines, requestedControllers,
} from "./convert.js";

/** Controller → this group's directory in that controller's hierarchy. */
export type V1Dirs = Record<string, string>;

export async function applyV1Resources(dirs: V1Dirs, r: LinuxResources): Promise<string[]> {
  const warnings: string[] = [];
  if (r.unified && Object.keys(r.unified).length) {
    throw new InvalidArgument(`resources.unified (${Object.keys(r.unified).join(", ")}) needs cgroup v2, but this group has only v1 hierarchies`);
  }
  for (const c of requestedControllers(r, 1)) {
    if (!dirs[c]) throw new FailedPrecondition(`resources need the ${c} controller, which is not mounted as a cgroup v1 hierarchy on this host`);
  }
  if (r.cpu) await applyCpuset(dirs, r.cpu);
  if (r.cpu) await applyCpu(dirs, r.cpu);
  if (r.memory) await applyMemory(dirs.memory, r.memory, warnings);
  if (r.pids) await writeCgroupFile(join(dirs.pids!, "pids.max"), r.pids.limit > 0 ? String(r.pids.limit) : "max");
  if (r.blockIO) await applyBlkio(dirs.blkio, r.blockIO, warnings);
  for (const h of r.hugepageLimits ?? []) {
    const size = hugepageSizeName(h.pageSize);
    await writeCgroupFile(join(dirs.hugetlb!, `hugetlb.${size}.limit_in_bytes`), limitText(h.limit, "-1"));
    // Reservations (kernel ≥ 5.7) would otherwise let a task reserve past the limit.
    const rsvd = join(dirs.hugetlb!, `hugetlb.${size}.rsvd.limit_in_bytes`);
    if (await exists(rsvd)) await writeCgroupFile(rsvd, limitText(h.limit, "-1"));
  }
  if (r.devices?.length) await applyDevices(dirs.devices!, r.devices);
  if (r.network?.classID !== undefined) await writeCgroupFile(join(dirs.net_cls!, "net_cls.classid"), String(r.network.classID));
  for (const p of r.network?.priorities ?? []) {
    await writeCgroupFile(join(dirs.net_prio!, "net_prio.ifpriomap"), `${p.name} ${p.priority}`);
  }
  for (const line of rdmaLines(r.rdma)) await writeCgroupFile(join(dirs.rdma!, "rdma.max"), line);
  return warnings;
}

async function applyCpuset(dirs: V1Dirs, cpu: NonNullable<LinuxResources["cpu"]>): Promise<void> {
  if (cpu.cpus) await writeCgroupFile(join(dirs.cpuset!, "cpuset.cpus"), cpu.cpus);
  if (cpu.mems) await writeCgroupFile(join(dirs.cpuset!, "cpuset.mems"), cpu.mems);
}

async function applyCpu(dirs: V1Dirs, cpu: NonNullable<LinuxResources["cpu"]>): Promise<void> {
  const d = dirs.cpu;
  if (!d) return;
  if (cpu.shares) await writeCgroupFile(join(d, "cpu.shares"), String(cpu.shares));
  const quota = cpu.quota === undefined ? undefined : cpu.quota > 0 ? String(cpu.quota) : "-1";
  if (cpu.period) {
    try {
      await writeCgroupFile(join(d, "cpu.cfs_period_us"), String(cpu.period));
    } catch (err) {
      // A shorter period can be refused while the old quota exceeds what the
      // parent allows per period; lowering the quota first makes it valid.
      if (quota === undefined) throw err;
      await writeCgroupFile(join(d, "cpu.cfs_quota_us"), quota);
      await writeCgroupFile(join(d, "cpu.cfs_period_us"), String(cpu.period));
    }
  }
  if (quota !== undefined) await writeCgroupFile(join(d, "cpu.cfs_quota_us"), quota);
  if (cpu.burst !== undefined) await writeCgroupFile(join(d, "cpu.cfs_burst_us"), String(cpu.burst));
  // rt_period before rt_runtime: the runtime is checked against the period.
  if (cpu.realtimePeriod) await writeCgroupFile(join(d, "cpu.rt_period_us"), String(cpu.realtimePeriod));
  if (cpu.realtimeRuntime) await writeCgroupFile(join(d, "cpu.rt_runtime_us"), String(cpu.realtimeRuntime));
  if (cpu.idle !== undefined) await writeCgroupFile(join(d, "cpu.idle"), String(cpu.idle));
}

async function applyMemory(d: string | undefined, m: NonNullable<LinuxResources["memory"]>, warnings: string[]): Promise<void> {
  if (m.kernel !== undefined && m.kernel !== 0) warnings.push(KERNEL_MEMORY_WARNING);
  if (m.kernelTCP !== undefined && m.kernelTCP !== 0) {
    const f = d && join(d, "memory.kmem.tcp.limit_in_bytes");
    if (f && (await exists(f))) {
      try {
        await writeCgroupFile(f, limitText(m.kernelTCP, "-1"));
        warnings.push(`${KERNEL_TCP_WARNING}; set memory.kmem.tcp.limit_in_bytes anyway`);
      } catch (err) {
        warnings.push(`${KERNEL_TCP_WARNING} and the kernel refused it (${(err as Error).message}); ignored`);
      }
    } else {
      warnings.push(`${KERNEL_TCP_WARNING} and this kernel has no memory.kmem.tcp.limit_in_bytes; ignored`);
    }
  }
  if (!d) return;
  if (m.swap !== undefined && m.swap > 0 && m.limit !== undefined && m.limit > 0 && m.swap < m.limit) {
    throw new InvalidArgument(`memory swap ${m.swap} is lower than the memory limit ${m.limit} (OCI swap is memory+swap)`);
  }
  if (m.checkBeforeUpdate && m.limit !== undefined && m.limit > 0) {
    const usage = await readNumber(join(d, "memory.usage_in_bytes"));
    if (usage > m.limit) throw new FailedPrecondition(`memory limit ${m.limit} is below current usage ${usage} (checkBeforeUpdate)`);
  }
  await applyMemoryLimits(d, m.limit, m.swap, warnings);
  if (m.reservation !== undefined) await writeCgroupFile(join(d, "memory.soft_limit_in_bytes"), limitText(m.reservation, "-1"));
  if (m.swappiness !== undefined && m.swappiness >= 0) {
    if (m.swappiness > 100) throw new InvalidArgument(`memory swappiness ${m.swappiness}: valid range is 0-100`);
    await writeCgroupFile(join(d, "memory.swappiness"), String(m.swappiness));
  }
  if (m.disableOOMKiller !== undefined) await writeCgroupFile(join(d, "memory.oom_control"), m.disableOOMKiller ? "1" : "0");
  if (m.useHierarchy !== undefined) {
    try {
      await writeCgroupFile(join(d, "memory.use_hierarchy"), m.useHierarchy ? "1" : "0");
    } catch (err) {
      // Since Linux 5.x the hierarchy is always on and writing 0 is refused.
      warnings.push(`memory.useHierarchy=${m.useHierarchy} not applied: ${(err as Error).message}`);
    }
  }
}

/**
 * The kernel keeps memory.limit_in_bytes ≤ memory.memsw.limit_in_bytes at
 * every moment and refuses (EINVAL) a write that would break it. So when the
 * memsw limit grows (or becomes unlimited) it is written first, and when it
 * shrinks the memory limit is lowered first.
 */
async function applyMemoryLimits(d: string, limit: number | undefined, swap: number | undefined, warnings: string[]): Promise<void> {
  const limitFile = join(d, "memory.limit_in_bytes");
  const swFile = join(d, "memory.memsw.limit_in_bytes");
  const wantSwap = swap !== undefined && swap !== 0;
  const hasSwapAccounting = wantSwap && (await exists(swFile));
  if (wantSwap && !hasSwapAccounting) {
    warnings.push("memory swap limit ignored: the kernel has no swap accounting (memory.memsw.limit_in_bytes is missing; boot with swapaccount=1)");
  }
  const limText = limit === undefined || limit === 0 ? undefined : limitText(limit, "-1");
  const swText = hasSwapAccounting ? limitText(swap!, "-1") : undefined;
  if (limText !== undefined && swText !== undefined) {
    const current = await readNumber(swFile);
    const growing = swap! < 0 || (current !== -1 && swap! >= current);
    if (growing) {
      await writeCgroupFile(swFile, swText);
      await writeCgroupFile(limitFile, limText);
    } else {
      await writeCgroupFile(limitFile, limText);
      await writeCgroupFile(swFile, swText);
    }
  } else if (limText !== undefined) {
    await writeCgroupFile(limitFile, limText);
  } else if (swText !== undefined) {
    await writeCgroupFile(swFile, swText);
  }
}

async function applyBlkio(d: string | undefined, b: NonNullable<LinuxResources["blockIO"]>, warnings: string[]): Promise<void> {
  if (!d) return;
  // CFQ's blkio.weight went away with the legacy block layer (Linux 5.0); with
  // BFQ the same knob is blkio.bfq.weight. Use whichever this kernel has.
  const cfq = await exists(join(d, "blkio.weight"));
  const prefix = cfq ? "blkio." : "blkio.bfq.";
  if (b.weight) await writeCgroupFile(join(d, `${prefix}weight`), String(b.weight));
  if (b.leafWeight) {
    if (await exists(join(d, "blkio.leaf_weight"))) await writeCgroupFile(join(d, "blkio.leaf_weight"), String(b.leafWeight));
    else warnings.push("blockIO.leafWeight ignored: this kernel has no blkio.leaf_weight (CFQ only)");
  }
  for (const wd of b.weightDevice ?? []) {
    if (wd.weight) await writeCgroupFile(join(d, `${prefix}weight_device`), `${wd.major}:${wd.minor} ${wd.weight}`);
    if (wd.leafWeight) {
      if (await exists(join(d, "blkio.leaf_weight_device"))) await writeCgroupFile(join(d, "blkio.leaf_weight_device"), `${wd.major}:${wd.minor} ${wd.leafWeight}`);
      else warnings.push("blockIO.weightDevice leafWeight ignored: this kernel has no blkio.leaf_weight_device (CFQ only)");
    }
  }
  const throttle = async (file: string, list: ThrottleDevice[] | undefined): Promise<void> => {
    // One device per write; a rate of 0 removes that device's limit.
    for (const t of list ?? []) await writeCgroupFile(join(d, file), `${t.major}:${t.minor} ${t.rate}`);
  };
  await throttle("blkio.throttle.read_bps_device", b.throttleReadBpsDevice);
  await throttle("blkio.throttle.write_bps_device", b.throttleWriteBpsDevice);
  await throttle("blkio.throttle.read_iops_device", b.throttleReadIOPSDevice);
  await throttle("blkio.throttle.write_iops_device", b.throttleWriteIOPSDevice);
}

/**
 * Device rules apply in order. When the list does not start with an
 * all-devices rule, berth first writes "a" to devices.allow so the rules
 * apply on top of allow-all (the OCI default) and a live update starts from a
 * known state instead of the previous rule set. A first rule that denies all
 * ("a" to devices.deny, as runc and docker's default spec do) resets the group
 * to deny-all and clears its exceptions.
 */
async function applyDevices(d: string, rules: DeviceRule[]): Promise<void> {
  const first = rules[0]!;
  const firstIsWildcard = (first.type ?? "a") === "a" && (first.major ?? -1) < 0 && (first.minor ?? -1) < 0;
  if (!firstIsWildcard) await writeCgroupFile(join(d, "devices.allow"), "a *:* rwm");
  for (const r of rules) {
    await writeCgroupFile(join(d, r.allow ? "devices.allow" : "devices.deny"), deviceRuleLine(r));
  }
}
