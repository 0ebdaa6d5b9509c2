/**
 * OCI bundles for runtime tests: runc's default spec on the cached busybox rootfs (read-only,
 * with a tmpfs on /tmp), each test under its own cgroup parent so cleanup is one rmdir sweep.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, readdirSync, rmdirSync, existsSync } from "node:fs";
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

/**
 * Runs a runtime command with stdout/stderr going to files, not pipes: a created container
 * inherits the runtime's stdio (as with runc), and a pipe it holds open would keep the caller
 * waiting until the container exits.
 */
export function runtimeCmd(bin: string, root: string, args: string[], input?: string): RunResult {
  const dir = mkdtempSync(join(tmpdir(), "berth-cmd-"));
  try {
    const out = openSync(join(dir, "out"), "w+");
    const err = openSync(join(dir, "err"), "w+");
    const r = spawnSync(bin, ["--root", root, ...args], { input, stdio: ["pipe", out, err], timeout: 60000 });
    closeSync(out);
    closeSync(err);
    return { status: r.status ?? (r.signal ? 128 : -1), stdout: readFileSync(join(dir, "out"), "utf8"), stderr: readFileSync(join(dir, "err"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
