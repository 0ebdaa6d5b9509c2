/**
 * Value conversions between OCI resources (shaped after cgroup v1) and the
 * files each cgroup version takes. Pure functions: unit-tested without a tree.
 */
import type { DeviceRule, LinuxResources } from "../spec.js";
import { InvalidArgument } from "../../errdefs.js";

/**
 * cpu.shares [2, 262144] → cpu.weight [1, 10000].
 *
 * The formula runc ≥ 1.3.2 and crun ≥ 1.23 use, so a container gets the same
 * weight under berth as under them:
 *
 *   L = log2(shares);  weight = ceil(10 ^ ((L² + 125·L) / 612 − 7/34))
 *
 * It is the quadratic in log-space through (2 → 1), (1024 → 100) and
 * (262144 → 10000): the v1 default 1024 lands on the v2 default 100, which the
 * older linear formula `1 + (shares − 2)·9999/262142` did not (it gave 39).
 * Written as (L − 1)(L + 126) / 612, the same polynomial, so the exact points
 * (L = 1, 10, 18) have no floating-point error before ceil. 0 means "unset".
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = ((l - 1) * (l + 126)) / 612;
  return Math.min(10000, Math.max(1, Math.ceil(10 ** exponent)));
}

/** blkio.weight [10, 1000] → io.weight [1, 10000] (linear, as runc and crun do). */
export function blkioWeightToIoWeight(w: number): number {
  if (w === 0) return 0;
  return Math.round(1 + ((w - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (v1 memsw); v2's memory.swap.max is swap only.
 * Returns the memory.swap.max text, or undefined when swap is not set.
 */
export function swapMaxV2(limit: number | undefined, swap: number | undefined): string | undefined {
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return "max";
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new InvalidArgument(`memory swap ${swap}: a swap limit needs a memory limit (cgroup v2 sets swap as memory+swap minus memory)`);
  }
  if (swap < limit) throw new InvalidArgument(`memory swap ${swap} is lower than the memory limit ${limit} (OCI swap is memory+swap)`);
  return String(swap - limit);
}

/** The text for a byte limit: -1 (or any negative) means no limit. */
export function limitText(n: number, unlimited: string): string {
  return n < 0 ? unlimited : String(Math.trunc(n));
}

/**
 * OCI hugepage pageSize ("2MB", "1GB", "64KB") as the kernel names it in
 * hugetlb.<size>.* files: the same unit letters, so validation is the job.
 */
export function hugepageSizeName(pageSize: string): string {
  const m = /^(\d+)(KB|MB|GB)$/.exec(pageSize);
  if (!m) throw new InvalidArgument(`hugepage pageSize "${pageSize}": expected a size such as 2MB or 1GB`);
  return pageSize;
}

/** A device rule checked and with its defaults: type a|b|c, access letters of "rwm", major/minor (undefined: any). `name` begins each message. */
export function checkDeviceRule(r: DeviceRule, name = "device rule "): { type: "a" | "b" | "c"; access: string; major?: number; minor?: number } {
  const type = r.type ?? "a";
  if (type !== "a" && type !== "b" && type !== "c") throw new InvalidArgument(`${name}type "${type}": must be a, b or c`);
  const access = r.access ?? "rwm";
  if (!/^[rwm]{1,3}$/.test(access)) throw new InvalidArgument(`${name}access "${access}": must be letters from "rwm"`);
  const num = (n: number | undefined, what: string): number | undefined => {
    if (n === undefined || n < 0) return undefined;
    if (!Number.isInteger(n) || n > 0xffffffff) throw new InvalidArgument(`${name}${what} ${n}: not a device number`);
    return n;
  };
  return { type, access, major: num(r.major, "major"), minor: num(r.minor, "minor") };
}

/** One devices.allow/devices.deny line: "<type> <major>:<minor> <access>". */
export function deviceRuleLine(r: DeviceRule): string {
  const c = checkDeviceRule(r);
  return `${c.type} ${c.major ?? "*"}:${c.minor ?? "*"} ${c.access}`;
}

/** A cpuset list such as "0-2,4" → the set of numbers; undefined when malformed. */
export function parseCpuList(s: string): Set<number> | undefined {
  const out = new Set<number>();
  if (s.trim() === "") return out;
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 8192) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

const isWildcard = (r: DeviceRule): boolean =>
  (r.type ?? "a") === "a" && (r.major === undefined || r.major < 0) && (r.minor === undefined || r.minor < 0);

/**
 * True when the rules leave every device allowed — nothing to enforce. That is
 * the case with no rules at all, or when the last rule touching all devices is
 * an allow of "rwm" and no rule after it denies anything.
 */
export function devicesAllowAll(rules: DeviceRule[] | undefined): boolean {
  if (!rules || rules.length === 0) return true;
  let lastWild = -1;
  rules.forEach((r, i) => { if (isWildcard(r)) lastWild = i; });
  if (lastWild < 0) return rules.every((r) => r.allow);
  const w = rules[lastWild]!;
  const full = [...(w.access ?? "rwm")].sort().join("") === "mrw";
  return w.allow && full && rules.slice(lastWild + 1).every((r) => r.allow);
}

/** Names the controllers a resources object needs, so missing ones are caught before writing. */
export function requestedControllers(r: LinuxResources, version: 1 | 2): Set<string> {
  const need = new Set<string>();
  const c = r.cpu;
  if (c && (c.shares || c.quota !== undefined || c.period || c.burst !== undefined || c.realtimePeriod || c.realtimeRuntime || c.idle !== undefined)) need.add("cpu");
  if (c && (c.cpus || c.mems)) need.add("cpuset");
  const m = r.memory;
  if (m && (m.limit !== undefined || m.reservation !== undefined || m.swap !== undefined || m.swappiness !== undefined || m.disableOOMKiller !== undefined)) need.add("memory");
  if (r.pids) need.add("pids");
  const b = r.blockIO;
  if (b && (b.weight || b.leafWeight || b.weightDevice?.length || b.throttleReadBpsDevice?.length || b.throttleWriteBpsDevice?.length || b.throttleReadIOPSDevice?.length || b.throttleWriteIOPSDevice?.length)) need.add(version === 1 ? "blkio" : "io");
  if (r.hugepageLimits?.length) need.add("hugetlb");
  if (r.rdma && Object.keys(r.rdma).length) need.add("rdma");
  if (version === 1 && r.devices?.length) need.add("devices");
  if (version === 1 && r.network?.classID !== undefined) need.add("net_cls");
  if (version === 1 && r.network?.priorities?.length) need.add("net_prio");
  return need;
}

/** rdma.max lines: "<device> hca_handle=N hca_object=M" (same on v1 and v2). */
export function rdmaLines(rdma: LinuxResources["rdma"]): string[] {
  const out: string[] = [];
  for (const [dev, l] of Object.entries(rdma ?? {})) {
    const parts = [dev];
    if (l.hcaHandles !== undefined) parts.push(`hca_handle=${l.hcaHandles}`);
    if (l.hcaObjects !== undefined) parts.push(`hca_object=${l.hcaObjects}`);
    if (parts.length > 1) out.push(parts.join(" "));
  }
  return out;
}

export const KERNEL_MEMORY_WARNING = "memory.kernel (kernel memory limit) is deprecated and ignored: Linux 5.16 removed kmem limits and runc ignores it too";
export const KERNEL_TCP_WARNING = "memory.kernelTCP (kernel TCP buffer limit) is deprecated";
