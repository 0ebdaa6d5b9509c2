/**
 * Hybrid hosts: v1 hierarchies for most controllers plus a cgroup2 tree (the
 * systemd layout puts it at /sys/fs/cgroup/unified) that holds whichever
 * controllers are not bound to v1 — on this project's hosts, hugetlb. crun
 * refuses such hosts; berth uses both: the group exists in every v1 hierarchy
 * and in the cgroup2 tree, a process joins all of them, and each resource goes
 * to the side that owns its controller.
 */
import type { LinuxResources } from "../spec.js";
import { wrap } from "../../errdefs.js";
import type { Cgroup, CgroupManager, CgroupStats, ManagerOptions } from "./types.js";
import { normalizeParent, resolveCgroupPath } from "./cgroup-path.js";
import { CgroupV1Manager, type V1Cgroup } from "./v1-manager.js";
import { CgroupV2Manager, type V2Cgroup } from "./v2-manager.js";

export class HybridCgroupManager implements CgroupManager {
  readonly mode = "hybrid" as const;
  readonly parent: string;
  readonly v1: CgroupV1Manager;
  readonly v2: CgroupV2Manager;

  /** `hierarchies`: v1 controller → mount point; `unifiedRoot`: the cgroup2 mount point. */
  constructor(hierarchies: Record<string, string>, unifiedRoot: string, opts: ManagerOptions = {}) {
    this.parent = normalizeParent(opts.parent ?? "/berth");
    this.v1 = new CgroupV1Manager(hierarchies, { ...opts, parent: this.parent });
    this.v2 = new CgroupV2Manager(unifiedRoot, { ...opts, parent: this.parent });
  }

  resolve(cgroupsPath: string | undefined, id: string): string {
    return resolveCgroupPath(cgroupsPath, id, this.parent);
  }

  async create(path: string, resources?: LinuxResources): Promise<{ cgroup: Cgroup; warnings: string[] }> {
    const g = this.open(path);
    const created1 = await g.v1.makeDirs();
    const { createdLeaf: created2, warnings } = await g.v2.makeDirs();
    try {
      if (resources) warnings.push(...(await g.setResources(resources)));
      return { cgroup: g, warnings };
    } catch (err) {
      if (created1) await g.v1.destroy().catch(() => undefined);
      if (created2) await g.v2.destroy().catch(() => undefined);
      throw wrap(err, `create cgroup ${g.path}`);
    }
  }

  open(path: string): HybridCgroup {
    const p = resolveCgroupPath(path, "", this.parent);
    return new HybridCgroup(p, this.v1.open(p), this.v2.open(p));
  }
}

export class HybridCgroup implements Cgroup {
  constructor(readonly path: string, readonly v1: V1Cgroup, readonly v2: V2Cgroup) {}

  dirs(): Record<string, string> {
    return { ...this.v1.dirs(), ...this.v2.dirs() };
  }

  private has1(c: string): boolean {
    return this.v1.dirs()[c] !== undefined;
  }

  async addProcess(pid: number): Promise<void> {
    await this.v1.addProcess(pid);
    await this.v2.addProcess(pid);
  }

  /**
   * Splits `r` by owner: a controller mounted as v1 gets its fields on v1; one
   * the cgroup2 tree offers (and v1 lacks) goes to v2; one neither has stays on
   * v1, whose check names it in the error. `unified` is v2-only by definition.
   */
  async setResources(r: LinuxResources): Promise<string[]> {
    const on2 = await this.v2.controllers();
    const toV2 = (c1: string, c2 = c1): boolean => !this.has1(c1) && on2.has(c2);
    const a: LinuxResources = {};
    const b: LinuxResources = {};
    if (r.cpu) {
      const { cpus, mems, ...rest } = r.cpu;
      const cpuset = { ...(cpus !== undefined && { cpus }), ...(mems !== undefined && { mems }) };
      const side = (c: string): LinuxResources => (toV2(c) ? b : a);
      if (Object.keys(rest).length) side("cpu").cpu = { ...side("cpu").cpu, ...rest };
      if (Object.keys(cpuset).length) side("cpuset").cpu = { ...side("cpuset").cpu, ...cpuset };
    }
    if (r.memory) (toV2("memory") ? b : a).memory = r.memory;
    if (r.pids) (toV2("pids") ? b : a).pids = r.pids;
    if (r.blockIO) (toV2("blkio", "io") ? b : a).blockIO = r.blockIO;
    if (r.hugepageLimits) (toV2("hugetlb") ? b : a).hugepageLimits = r.hugepageLimits;
    if (r.rdma) (toV2("rdma") ? b : a).rdma = r.rdma;
    if (r.devices) (this.has1("devices") ? a : b).devices = r.devices;
    if (r.network) a.network = r.network;
    if (r.unified) b.unified = r.unified;
    const warnings = await this.v1.setResources(a);
    if (Object.keys(b).length) warnings.push(...(await this.v2.setResources(b)));
    return warnings;
  }

  async stats(): Promise<CgroupStats> {
    const s = await this.v1.stats();
    const on2 = await this.v2.controllers();
    if (!on2.size) return s;
    const s2 = await this.v2.stats();
    if (!this.has1("hugetlb") && on2.has("hugetlb")) s.hugetlb = s2.hugetlb;
    if (!this.has1("memory") && on2.has("memory")) s.memory = s2.memory;
    if (!this.has1("pids") && on2.has("pids")) s.pids = s2.pids;
    if (!this.has1("blkio") && on2.has("io")) s.blkio = s2.blkio;
    if (!this.has1("cpu") && on2.has("cpu")) s.cpu = { ...s2.cpu, perCpuNs: s.cpu.perCpuNs };
    return s;
  }

  pids(): Promise<number[]> {
    return this.v1.pids();
  }

  /** The v1 freezer when mounted, else cgroup2's core freezer. */
  private freezer(): Cgroup {
    return this.has1("freezer") ? this.v1 : this.v2;
  }

  freeze(): Promise<void> { return this.freezer().freeze(); }
  thaw(): Promise<void> { return this.freezer().thaw(); }
  frozen(): Promise<boolean> { return this.freezer().frozen(); }
  killAll(signal: NodeJS.Signals | number): Promise<void> { return this.freezer().killAll(signal); }

  async destroy(): Promise<void> {
    let first: unknown;
    for (const g of [this.v1, this.v2]) {
      try { await g.destroy(); } catch (err) { first ??= err; }
    }
    if (first) throw first;
  }

  private memorySide(): Cgroup {
    return this.has1("memory") ? this.v1 : this.v2;
  }

  oomKillCount(): Promise<number> { return this.memorySide().oomKillCount(); }

  watchOom(onOom: (oomKills: number) => void, opts?: { intervalMs?: number }): { close(): void } {
    return this.memorySide().watchOom(onOom, opts);
  }
}
