/**
 * docker's HostConfig resource fields (numbers, as the API carries them) → OCI resources. They go
 * through the same validation as the CLI's flags (resource-flags.ts), so `docker run -m 1m` and
 * `berth run -m 1m` fail with the same message, whichever client sent it.
 */
import type { LinuxResources, Rlimit } from "../runtime/spec.js";
import { resourcesFromFlags, type ResourceFlags } from "./resource-flags.js";

export interface HostConfigResources {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  BlkioWeightDevice?: { Path: string; Weight: number }[] | null;
  BlkioDeviceReadBps?: { Path: string; Rate: number }[] | null;
  BlkioDeviceWriteBps?: { Path: string; Rate: number }[] | null;
  BlkioDeviceReadIOps?: { Path: string; Rate: number }[] | null;
  BlkioDeviceWriteIOps?: { Path: string; Rate: number }[] | null;
  OomKillDisable?: boolean | null;
  KernelMemory?: number;
  Ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  ShmSize?: number;
}

const set = (v: number | undefined | null): boolean => v !== undefined && v !== null && v !== 0;

export function resourcesFromHostConfig(hc: HostConfigResources): { resources: LinuxResources; rlimits: Rlimit[]; shmSize?: number; warnings: string[] } {
  const f: ResourceFlags = {};
  if (set(hc.Memory)) f.memory = hc.Memory!;
  if (set(hc.MemorySwap)) f.memorySwap = hc.MemorySwap!;
  if (set(hc.MemoryReservation)) f.memoryReservation = hc.MemoryReservation!;
  // -1 is "not set" for swappiness in docker's API.
  if (hc.MemorySwappiness !== undefined && hc.MemorySwappiness !== null && hc.MemorySwappiness >= 0) f.memorySwappiness = hc.MemorySwappiness;
  if (set(hc.NanoCpus)) f.cpus = hc.NanoCpus! / 1e9;
  if (set(hc.CpuShares)) f.cpuShares = hc.CpuShares!;
  if (set(hc.CpuPeriod)) f.cpuPeriod = hc.CpuPeriod!;
  if (set(hc.CpuQuota)) f.cpuQuota = hc.CpuQuota!;
  if (hc.CpusetCpus) f.cpusetCpus = hc.CpusetCpus;
  if (hc.CpusetMems) f.cpusetMems = hc.CpusetMems;
  if (set(hc.PidsLimit)) f.pidsLimit = hc.PidsLimit!;
  if (set(hc.BlkioWeight)) f.blkioWeight = hc.BlkioWeight!;
  if (hc.BlkioWeightDevice?.length) f.blkioWeightDevice = hc.BlkioWeightDevice.map((d) => `${d.Path}:${d.Weight}`);
  if (hc.BlkioDeviceReadBps?.length) f.deviceReadBps = hc.BlkioDeviceReadBps.map((d) => `${d.Path}:${d.Rate}`);
  if (hc.BlkioDeviceWriteBps?.length) f.deviceWriteBps = hc.BlkioDeviceWriteBps.map((d) => `${d.Path}:${d.Rate}`);
  if (hc.BlkioDeviceReadIOps?.length) f.deviceReadIops = hc.BlkioDeviceReadIOps.map((d) => `${d.Path}:${d.Rate}`);
  if (hc.BlkioDeviceWriteIOps?.length) f.deviceWriteIops = hc.BlkioDeviceWriteIOps.map((d) => `${d.Path}:${d.Rate}`);
  if (hc.OomKillDisable) f.oomKillDisable = true;
  if (set(hc.KernelMemory)) f.kernelMemory = hc.KernelMemory!;
  if (hc.Ulimits?.length) f.ulimit = hc.Ulimits.map((u) => `${u.Name}=${u.Soft}:${u.Hard}`);
  if (set(hc.ShmSize)) f.shmSize = hc.ShmSize!;
  return resourcesFromFlags(f);
}
