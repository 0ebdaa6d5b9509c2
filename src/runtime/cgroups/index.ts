/**
 * berth's cgroup module: one interface (CgroupManager / Cgroup, see types.ts),
 * three implementations chosen once by detection.
 *
 *   const mgr = detectCgroupManager();               // v1, v2 or hybrid
 *   const path = mgr.resolve(spec.linux?.cgroupsPath, id);
 *   const { cgroup, warnings } = await mgr.create(path, spec.linux?.resources);
 *   await cgroup.addProcess(pid);
 *   …
 *   await cgroup.killAll("SIGKILL"); await cgroup.destroy();
 */
import { detectCgroupSetup, type CgroupSetup } from "./detect.js";
import { CgroupV1Manager } from "./v1-manager.js";
import { CgroupV2Manager } from "./v2-manager.js";
import { HybridCgroupManager } from "./hybrid-manager.js";
import type { CgroupManager, ManagerOptions } from "./types.js";

export type { Cgroup, CgroupManager, CgroupMode, CgroupStats, ManagerOptions } from "./types.js";
export { detectCgroupSetup, parseMountinfo, V1_CONTROLLERS, type CgroupSetup } from "./detect.js";
export { CgroupV1Manager, V1Cgroup } from "./v1-manager.js";
export { CgroupV2Manager, V2Cgroup } from "./v2-manager.js";
export { HybridCgroupManager, HybridCgroup } from "./hybrid-manager.js";
export { resolveCgroupPath } from "./cgroup-path.js";
export { sharesToWeight, blkioWeightToIoWeight, swapMaxV2, devicesAllowAll } from "./convert.js";

export interface DetectOptions extends ManagerOptions {
  /** cgroup mount root (default /sys/fs/cgroup). */
  root?: string;
  /** Mount table text to use instead of /proc/self/mountinfo (tests with fake trees). */
  mountinfo?: string;
}

const setups = new Map<string, CgroupSetup>();

/**
 * Detects the host's setup (cached per root for the life of the process; a
 * given `mountinfo` bypasses the cache) and returns the matching manager.
 */
export function detectCgroupManager(opts: DetectOptions = {}): CgroupManager {
  const root = opts.root ?? "/sys/fs/cgroup";
  let setup = opts.mountinfo === undefined ? setups.get(root) : undefined;
  if (!setup) {
    setup = detectCgroupSetup({ root, mountinfo: opts.mountinfo });
    if (opts.mountinfo === undefined) setups.set(root, setup);
  }
  return managerFor(setup, opts);
}

export function managerFor(setup: CgroupSetup, opts: ManagerOptions = {}): CgroupManager {
  switch (setup.mode) {
    case "v1": return new CgroupV1Manager(setup.v1, opts);
    case "v2": return new CgroupV2Manager(setup.unified!, opts);
    case "hybrid": return new HybridCgroupManager(setup.v1, setup.unified!, opts);
  }
}
