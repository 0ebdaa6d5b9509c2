/**
 * The PATH:VALUE device flags of docker run (--blkio-weight-device,
 * --device-{read,write}-{bps,iops}) and the stat(2) that turns a path into
 * the major:minor numbers cgroups want. Messages are docker's (opts/weightdevice.go,
 * opts/throttledevice.go) where it has them.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgument, NotFound } from "../errdefs.js";
import { flagError, parseSize } from "./resource-flags.js";

export function parseWeightDevice(v: string): { path: string; weight: number } {
  const flag = "--blkio-weight-device";
  const i = v.lastIndexOf(":");
  if (i < 0) throw flagError(flag, v, `bad format: ${v}`);
  const path = v.slice(0, i);
  if (!path.startsWith("/dev/")) throw flagError(flag, v, `bad format for device path: ${v}`);
  const w = v.slice(i + 1);
  const weight = /^\d+$/.test(w) ? Number(w) : NaN;
  if (!Number.isInteger(weight) || (weight > 0 && (weight < 10 || weight > 1000)) || weight > 65535) {
    throw flagError(flag, v, `invalid weight for device: ${v}`);
  }
  return { path, weight };
}

export function parseDeviceRate(flag: string, v: string, iops: boolean): { path: string; rate: number } {
  const i = v.lastIndexOf(":");
  if (i < 0) throw flagError(flag, v, `bad format: ${v}`);
  const path = v.slice(0, i);
  if (!path.startsWith("/dev/")) throw flagError(flag, v, `bad format for device path: ${v}`);
  const r = v.slice(i + 1);
  const bad = iops
    ? `invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`
    : `invalid rate for device: ${v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`;
  let rate: number;
  try {
    rate = iops ? (/^\d+$/.test(r) ? Number(r) : NaN) : parseSize(r);
  } catch {
    throw flagError(flag, v, bad);
  }
  if (!Number.isSafeInteger(rate) || rate < 0) throw flagError(flag, v, bad);
  return { path, rate };
}

/**
 * Major and minor of a block device node (a bigint stat: dev_t has 64 bits).
 */
export function blockDeviceNumbers(path: string): { major: number; minor: number } {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new NotFound(`${path}: no such file or directory`, { cause: err });
    throw new InvalidArgument(`${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isBlockDevice()) throw new InvalidArgument(`${path} is not a block device`);
  return devNumbers(st.rdev);
}

/** dev_t → major, minor: major is bits 8–19 and 32–43, minor bits 0–7 and 20–31 (glibc's gnu_dev_major/minor). */
function devNumbers(dev: bigint): { major: number; minor: number } {
  return { major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)), minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)) };
}

/** A device docker's --device / HostConfig.Devices puts in a container. */
export interface ContainerDevice { path: string; type: "c" | "b"; major: number; minor: number; fileMode: number; permissions: string }

/**
 * HostConfig.Devices → the device nodes to make and allow: each PathOnHost a character or block
 * device (or a directory, whose devices are all added under PathInContainer, as docker does);
 * CgroupPermissions letters from "rwm". Errors are docker's: "error gathering device information
 * while adding custom device …".
 */
export function hostDevices(list: { PathOnHost?: string; PathInContainer?: string; CgroupPermissions?: string }[] | null | undefined, skip: ReadonlySet<string> = new Set()): ContainerDevice[] {
  const out: ContainerDevice[] = [];
  for (const d of list ?? []) {
    const host = d.PathOnHost ?? "";
    const inside = d.PathInContainer || host;
    const perms = d.CgroupPermissions || "rwm";
    if (!/^[rwm]{1,3}$/.test(perms)) throw new InvalidArgument(`invalid device mode: ${perms}`);
    if (!host.startsWith("/") || !inside.startsWith("/")) throw new InvalidArgument(`invalid device path: ${host}:${inside}`);
    const add = (hostPath: string, ctrPath: string, required: boolean): void => {
      let st;
      try {
        st = statSync(hostPath, { bigint: true });
      } catch (err) {
        throw new InvalidArgument(`error gathering device information while adding custom device "${hostPath}": ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (err as Error).message}`, { cause: err });
      }
      if (st.isDirectory()) {
        for (const name of readdirSync(hostPath).sort()) if (!skip.has(name)) add(join(hostPath, name), join(ctrPath, name), false);
        return;
      }
      if (!st.isCharacterDevice() && !st.isBlockDevice()) {
        if (required) throw new InvalidArgument(`error gathering device information while adding custom device "${hostPath}": not a device node`);
        return;
      }
      out.push({ path: ctrPath, type: st.isBlockDevice() ? "b" : "c", ...devNumbers(st.rdev), fileMode: Number(st.mode & 0o777n), permissions: perms });
    };
    add(host, inside, true);
  }
  return out;
}

/** What --privileged adds: every device of the host's /dev, as runc's HostDevices finds them. */
export function privilegedDevices(): ContainerDevice[] {
  return hostDevices([{ PathOnHost: "/dev", PathInContainer: "/dev", CgroupPermissions: "rwm" }], PRIVILEGED_SKIP);
}
// The container gets its own of these (devpts, shm, mqueue, the fd and ptmx links, the console).
const PRIVILEGED_SKIP = new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev", "console", "ptmx"]);
