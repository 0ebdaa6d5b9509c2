/**
 * OCI bundles for runtime tests: runc's default spec on the cached busybox rootfs (read-only,
 * with a tmpfs on /tmp), each test under its own cgroup parent so cleanup is one rmdir sweep.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readdirSync, rmdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultSpec } from "../../src/runtime/runc/default-spec.js";
import type { Spec } from "../../src/runtime/spec.js";
import { busyboxRootfs } from "./fixtures.js";

export const repo = new URL("../../../", import.meta.url).pathname;
export const berthRunc = process.env.BERTH_RUNC ?? join(repo, "bin/berth-runc");

export function makeBundle(args: string[], edit?: (s: Spec) => void, cgroupParent = `/berth-test-${process.pid}`): { dir: string; spec: Spec; write: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "berth-bundle-"));
  const spec = defaultSpec();
  spec.root = { path: busyboxRootfs(), readonly: true };
  spec.process!.terminal = false;
  spec.process!.args = args;
  spec.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"] });
  spec.linux!.cgroupsPath = `${cgroupParent}/${dir.split("-").pop()}`;
  edit?.(spec);
  const write = (): void => writeFileSync(join(dir, "config.json"), JSON.stringify(spec, null, 1));
  write();
  return { dir, spec, write };
}

export interface RunResult { status: number; stdout: string; stderr: string }

export function runtimeCmd(bin: string, root: string, args: string[], input?: string): RunResult {
  const r = spawnSync(bin, ["--root", root, ...args], { encoding: "utf8", input, timeout: 30000 });
  return { status: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Removes a test's cgroup parent in every hierarchy (children first). */
export function removeCgroupParent(parent: string): void {
  for (const h of readdirSync("/sys/fs/cgroup")) {
    const base = join("/sys/fs/cgroup", h, parent);
    if (!existsSync(base)) continue;
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      try { rmdirSync(d); } catch { /* busy: reported by the leak checks */ }
    };
    walk(base);
  }
}

export function cleanupDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
}
