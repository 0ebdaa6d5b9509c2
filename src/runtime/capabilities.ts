/** Linux capability names ↔ bits (capability.h), masks for the plan, docker's default set. */
import { readFileSync } from "node:fs";
import { InvalidArgument } from "../errdefs.js";

export const CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
  "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
  "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
  "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

export const ALL_CAPS: readonly string[] = CAPABILITIES;

/** The 14 capabilities docker grants a container by default. */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

let lastCap: number | undefined;
function kernelLastCap(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
    } catch {
      lastCap = CAPABILITIES.length - 1;
    }
  }
  return lastCap;
}

/** A mask of the named capabilities. Unknown names are errors; names this kernel lacks are dropped with a warning, as runc does. */
export function capMask(names: string[], field: string): { mask: bigint; warnings: string[] } {
  let mask = 0n;
  const warnings: string[] = [];
  names.forEach((n, i) => {
    const bit = CAPABILITIES.indexOf(n as (typeof CAPABILITIES)[number]);
    if (bit < 0) throw new InvalidArgument(`${field}[${i}]: unknown capability "${n}"`);
    if (bit > kernelLastCap()) {
      warnings.push(`${field}: ${n} is not supported by this kernel and was ignored`);
      return;
    }
    mask |= 1n << BigInt(bit);
  });
  return { mask, warnings };
}
