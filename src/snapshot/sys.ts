/**
 * The native addon (native/addon/*.c): syscalls Node lacks. Loaded lazily so a
 * module that only reads tar streams works before `make -C native` has run.
 * Errors thrown by the addon look like Node's fs errors (code "EPERM", errno,
 * syscall, path).
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { FailedPrecondition } from "../errdefs.js";

export interface Addon {
  /** Runs a short-lived program (posix_spawn on a thread-pool thread; Node's spawn forks the whole process): input on its stdin. */
  run(path: string, argv: string[], env: string[], input: string): Promise<{ status: number; signal: number; stdout: string; stderr: string }>;
  /** A new network namespace bound at path (an existing file), lo up; the calling thread returns to its own. */
  makeNetns(path: string): void;
  /** Loads a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to a cgroup2 directory, detaching the device programs attached there before (null: only detach them). */
  attachDeviceFilter(cgroupDir: string, insns: Buffer | null): void;
  /** How many device programs are attached to a cgroup2 directory. */
  deviceFilterCount(cgroupDir: string): number;
  mknod(path: string | Buffer, mode: number, major: number, minor: number): void;
  /** utimensat(AT_SYMLINK_NOFOLLOW): sets a symlink's own times, nanosecond precision. */
  lutimens(path: string | Buffer, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  /** futimens(2): an open file's times, nanosecond precision. */
  futimens(fd: number, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  statfsType(path: string | Buffer): number;
  lsetxattr(path: string | Buffer, name: string, value: Buffer, flags?: number): void;
  /** Throws with code ENODATA when the attribute is absent. */
  lgetxattr(path: string | Buffer, name: string): Buffer;
  llistxattr(path: string | Buffer): string[];
  lremovexattr(path: string | Buffer, name: string): void;
  /** mount(2); with `cwd`, relative paths in `data` resolve against it (on a private-cwd thread). */
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null, cwd?: string): void;
  umount2(target: string, flags: number): void;
  constants: {
    MS_RDONLY: number; MS_NOSUID: number; MS_NODEV: number; MS_NOEXEC: number; MS_REMOUNT: number;
    MS_BIND: number; MS_REC: number; MS_PRIVATE: number; MS_SLAVE: number; MS_SHARED: number;
    MNT_FORCE: number; MNT_DETACH: number; UMOUNT_NOFOLLOW: number;
  };
}

// dist/src/snapshot/sys.js → <repo>/native/build/berth.node
const ADDON_PATH = fileURLToPath(new URL("../../../native/build/berth.node", import.meta.url));

let cached: Addon | undefined;

export function addon(): Addon {
  if (cached) return cached;
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (err) {
    throw new FailedPrecondition(`native addon ${ADDON_PATH} cannot be loaded (run \`make -C native\`): ${(err as Error).message}`, { cause: err });
  }
  return cached;
}

/** True when err is an fs/addon error with this errno code. */
export function hasCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
