/**
 * docker run/create/update resource flags → OCI LinuxResources (+ rlimits for
 * --ulimit and the /dev/shm size), validated before anything is created. Error
 * texts are docker's where docker has one (its CLI flag parsing, then its
 * daemon's verifyPlatformContainerResources), so scripts matching them work.
 */
import { readFileSync } from "node:fs";
import type { LinuxResources, Rlimit, ThrottleDevice } from "../runtime/spec.js";
import { InvalidArgument } from "../errdefs.js";
import { parseCpuList } from "../runtime/cgroups/convert.js";

export { parseCpuList };
import { blockDeviceNumbers, parseDeviceRate, parseWeightDevice } from "./resource-flags-devices.js";

export interface ResourceFlags {
  /** --cpus: number of CPUs, decimal ("1.5") or rational ("3/2"). */
  cpus?: string | number;
  /** -c, --cpu-shares */
  cpuShares?: string | number;
  cpuPeriod?: string | number;
  cpuQuota?: string | number;
  cpusetCpus?: string;
  cpusetMems?: string;
  /** -m, --memory (docker size syntax). */
  memory?: string | number;
  /** --memory-swap: memory+swap; "-1" for unlimited swap. */
  memorySwap?: string | number;
  memoryReservation?: string | number;
  memorySwappiness?: string | number;
  oomKillDisable?: boolean;
  kernelMemory?: string | number;
  pidsLimit?: string | number;
  blkioWeight?: string | number;
  /** --blkio-weight-device PATH:WEIGHT, repeatable. */
  blkioWeightDevice?: string[];
  /** --device-read-bps PATH:RATE[unit], repeatable; likewise the three below. */
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
  /** --ulimit NAME=SOFT[:HARD], repeatable. */
  ulimit?: string[];
  shmSize?: string | number;
}

/** What validation reads from the host; tests pass their own. */
export interface HostInfo {
  /** /sys/devices/system/cpu/online, e.g. "0-1". */
  onlineCpus: string;
  /** /sys/devices/system/node/online, e.g. "0". */
  onlineMems: string;
  /** stat(2) of a device path → its numbers; throws for a missing or non-block path. */
  blockDevice: (path: string) => { major: number; minor: number };
}

export interface ResourceFlagsResult {
  resources: LinuxResources;
  rlimits: Rlimit[];
  /** Bytes for /dev/shm, when --shm-size was given. */
  shmSize?: number;
  warnings: string[];
}

/** Docker's floor for -m and --memory-reservation (linuxMinMemory). */
export const MIN_MEMORY = 6 * 1024 * 1024;
const CPU_PERIOD = 100000;

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * Docker's size syntax (go-units RAMInBytes): a decimal number, an optional
 * space, an optional unit letter b/k/m/g/t/p, optional "i" and "b"; case does
 * not matter and units are binary ("64m" = "64MiB" = 67108864).
 */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i)?(b)?$/i.exec(s.trim());
  if (!m || (m[3] && !m[2])) throw new InvalidArgument(`invalid size: '${s}'`);
  return Math.trunc(Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]!);
}

export function readHostInfo(): HostInfo {
  const read = (p: string, dflt: string): string => { try { return readFileSync(p, "utf8").trim(); } catch { return dflt; } };
  return {
    onlineCpus: read("/sys/devices/system/cpu/online", "0"),
    onlineMems: read("/sys/devices/system/node/online", "0"),
    blockDevice: blockDeviceNumbers,
  };
}

/** "invalid argument "v" for "flag" flag: why" — the wording of docker's CLI. */
export function flagError(flag: string, value: string | number, why: string): InvalidArgument {
  return new InvalidArgument(`invalid argument "${value}" for "${flag}" flag: ${why}`);
}

function int(flag: string, v: string | number): number {
  const s = String(v).trim();
  if (!/^[+-]?\d+$/.test(s)) throw flagError(flag, v, `strconv.ParseInt: parsing "${s}": invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw flagError(flag, v, `strconv.ParseInt: parsing "${s}": value out of range`);
  return n;
}

function size(flag: string, v: string | number): number {
  if (typeof v === "number") return v;
  try { return parseSize(v); } catch (err) { throw flagError(flag, v, (err as Error).message); }
}

function parseCpus(v: string | number): number {
  const s = String(v).trim();
  const frac = /^(\d+)\/(\d+)$/.exec(s);
  const n = frac ? Number(frac[1]) / Number(frac[2]) : /^\d+(\.\d+)?$|^\.\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n)) throw flagError("--cpus", v, `failed to parse ${s} as a rational number`);
  return n;
}

export function resourcesFromFlags(flags: ResourceFlags, hostInfo?: Partial<HostInfo>): ResourceFlagsResult {
  const host: HostInfo = { ...readHostInfo(), ...hostInfo };
  const warnings: string[] = [];
  const resources: LinuxResources = {};
  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  const memory: NonNullable<LinuxResources["memory"]> = {};

  // --- CPU ---------------------------------------------------------------
  const online = parseCpuList(host.onlineCpus) ?? new Set([0]);
  const ncpu = online.size;
  const period = flags.cpuPeriod !== undefined ? int("--cpu-period", flags.cpuPeriod) : 0;
  const quota = flags.cpuQuota !== undefined ? int("--cpu-quota", flags.cpuQuota) : 0;
  if (flags.cpus !== undefined) {
    const n = parseCpus(flags.cpus);
    // The kernel's smallest quota is 1 ms of a 100 ms period: 0.01 CPU.
    if (n < 0.01 || n > ncpu) throw new InvalidArgument(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
    if (period) throw new InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    if (quota) throw new InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    cpu.period = CPU_PERIOD;
    cpu.quota = Math.round(n * CPU_PERIOD);
  }
  if (period) {
    if (period < 1000 || period > 1000000) throw new InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
    cpu.period = period;
  }
  if (quota) {
    if (quota > 0 && quota < 1000) throw new InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    cpu.quota = quota < 0 ? -1 : quota;
  }
  if (flags.cpuShares !== undefined) {
    let shares = int("-c, --cpu-shares", flags.cpuShares);
    if (shares < 0) throw new InvalidArgument("shares: invalid argument");
    if (shares > 0 && shares < 2) { warnings.push(`Changing requested CPUShares of ${shares} to minimum allowed of 2`); shares = 2; }
    if (shares > 262144) { warnings.push(`Changing requested CPUShares of ${shares} to maximum allowed of 262144`); shares = 262144; }
    if (shares) cpu.shares = shares;
  }
  if (flags.cpusetCpus !== undefined && flags.cpusetCpus !== "") {
    const want = parseCpuList(flags.cpusetCpus);
    if (!want) throw new InvalidArgument(`Invalid value ${flags.cpusetCpus} for cpuset cpus`);
    if ([...want].some((c) => !online.has(c))) {
      throw new InvalidArgument(`Requested CPUs are not available - requested ${flags.cpusetCpus}, available: ${host.onlineCpus}`);
    }
    cpu.cpus = flags.cpusetCpus;
  }
  if (flags.cpusetMems !== undefined && flags.cpusetMems !== "") {
    const want = parseCpuList(flags.cpusetMems);
    if (!want) throw new InvalidArgument(`Invalid value ${flags.cpusetMems} for cpuset mems`);
    const mems = parseCpuList(host.onlineMems) ?? new Set([0]);
    if ([...want].some((m) => !mems.has(m))) {
      throw new InvalidArgument(`Requested memory nodes are not available - requested ${flags.cpusetMems}, available: ${host.onlineMems}`);
    }
    cpu.mems = flags.cpusetMems;
  }

  // --- memory ------------------------------------------------------------
  const mem = flags.memory !== undefined ? size("-m, --memory", flags.memory) : 0;
  if (mem !== 0) {
    if (mem < MIN_MEMORY) throw new InvalidArgument("Minimum memory limit allowed is 6MB");
    memory.limit = mem;
  }
  let swap = 0;
  if (flags.memorySwap !== undefined && String(flags.memorySwap).trim() !== "") {
    swap = String(flags.memorySwap).trim() === "-1" ? -1 : size("--memory-swap", flags.memorySwap);
  }
  if (swap > 0) {
    if (mem === 0) throw new InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage");
    if (swap < mem) throw new InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage");
    memory.swap = swap;
  } else if (swap === -1) {
    memory.swap = -1;
  } else if (mem > 0) {
    // docker: with -m alone the container may use as much swap as memory.
    memory.swap = mem * 2;
  }
  if (flags.memoryReservation !== undefined) {
    const resv = size("--memory-reservation", flags.memoryReservation);
    if (resv !== 0) {
      if (resv < MIN_MEMORY) throw new InvalidArgument("Minimum memory reservation allowed is 6MB");
      if (mem > 0 && mem < resv) throw new InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage");
      memory.reservation = resv;
    }
  }
  if (flags.memorySwappiness !== undefined) {
    const sw = int("--memory-swappiness", flags.memorySwappiness);
    if (sw !== -1 && (sw < 0 || sw > 100)) throw new InvalidArgument(`Invalid value: ${sw}, valid memory swappiness range is 0-100`);
    if (sw !== -1) memory.swappiness = sw;
  }
  if (flags.oomKillDisable) {
    if (mem === 0) {
      throw new InvalidArgument("--oom-kill-disable requires -m/--memory: without a memory limit, a container with the OOM killer disabled can exhaust the host's memory");
    }
    memory.disableOOMKiller = true;
  }
  if (flags.kernelMemory !== undefined && size("--kernel-memory", flags.kernelMemory) !== 0) {
    warnings.push("Specifying a kernel memory limit is deprecated and will be removed in a future release; --kernel-memory is ignored (Linux 5.16+ has no kernel memory limit)");
  }

  // --- pids, block I/O ---------------------------------------------------
  if (flags.pidsLimit !== undefined) {
    const p = int("--pids-limit", flags.pidsLimit);
    // docker: 0 and -1 (any value ≤ 0) mean unlimited.
    resources.pids = { limit: p > 0 ? p : -1 };
  }
  const blockIO: NonNullable<LinuxResources["blockIO"]> = {};
  if (flags.blkioWeight !== undefined) {
    const w = int("--blkio-weight", flags.blkioWeight);
    if (w !== 0 && (w < 10 || w > 1000)) throw new InvalidArgument("Range of blkio weight is from 10 to 1000");
    if (w) blockIO.weight = w;
  }
  for (const v of flags.blkioWeightDevice ?? []) {
    const { path, weight } = parseWeightDevice(v);
    (blockIO.weightDevice ??= []).push({ ...host.blockDevice(path), weight });
  }
  const throttle = (flag: string, list: string[] | undefined, iops: boolean): ThrottleDevice[] | undefined => {
    if (!list?.length) return undefined;
    return list.map((v) => {
      const { path, rate } = parseDeviceRate(flag, v, iops);
      return { ...host.blockDevice(path), rate };
    });
  };
  const rb = throttle("--device-read-bps", flags.deviceReadBps, false);
  const wb = throttle("--device-write-bps", flags.deviceWriteBps, false);
  const ri = throttle("--device-read-iops", flags.deviceReadIops, true);
  const wi = throttle("--device-write-iops", flags.deviceWriteIops, true);
  if (rb) blockIO.throttleReadBpsDevice = rb;
  if (wb) blockIO.throttleWriteBpsDevice = wb;
  if (ri) blockIO.throttleReadIOPSDevice = ri;
  if (wi) blockIO.throttleWriteIOPSDevice = wi;

  // --- ulimits, shm --------------------------------------------------------
  const byType = new Map<string, Rlimit>();
  for (const v of flags.ulimit ?? []) {
    const r = parseUlimit(v);
    byType.set(r.type, r); // a later --ulimit of the same name wins, as in docker
  }
  let shmSize: number | undefined;
  if (flags.shmSize !== undefined && String(flags.shmSize).trim() !== "") {
    if (String(flags.shmSize).trim().startsWith("-")) throw new InvalidArgument("SHM size can not be less than 0");
    shmSize = size("--shm-size", flags.shmSize) || undefined;
  }

  if (Object.keys(cpu).length) resources.cpu = cpu;
  if (Object.keys(memory).length) resources.memory = memory;
  if (Object.keys(blockIO).length) resources.blockIO = blockIO;
  return { resources, rlimits: [...byType.values()], ...(shmSize !== undefined && { shmSize }), warnings };
}

/** docker's --ulimit names (go-units ulimit.go) → RLIMIT_* */
const ULIMITS = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];

/**
 * NAME=SOFT[:HARD]. -1 means unlimited and is kept as -1 in the Rlimit: the
 * shim reads it as a signed 64-bit value, which is RLIM_INFINITY as rlim_t
 * (JSON numbers cannot carry 2^64−1 exactly).
 */
export function parseUlimit(v: string): Rlimit {
  const eq = v.indexOf("=");
  if (eq < 0) throw flagError("--ulimit", v, `invalid ulimit argument: ${v}`);
  const name = v.slice(0, eq);
  if (!ULIMITS.includes(name)) throw flagError("--ulimit", v, `invalid ulimit type: ${name}`);
  const [softS, hardS, extra] = v.slice(eq + 1).split(":");
  if (extra !== undefined) throw flagError("--ulimit", v, `too many limit value arguments - ${v.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``);
  const num = (s: string | undefined): number => {
    if (s === undefined || !/^-?\d+$/.test(s)) throw flagError("--ulimit", v, `strconv.ParseInt: parsing "${s ?? ""}": invalid syntax`);
    return Number(s);
  };
  const soft = num(softS);
  const hard = hardS === undefined ? soft : num(hardS);
  const cmp = (x: number): number => (x === -1 ? Infinity : x);
  if (cmp(soft) > cmp(hard)) throw flagError("--ulimit", v, `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { type: `RLIMIT_${name.toUpperCase()}`, soft, hard };
}
