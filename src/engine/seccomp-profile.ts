/**
 * A docker seccomp profile (`--security-opt seccomp=<file>`: the client sends the file's JSON) →
 * the OCI linux.seccomp the runtime compiles. docker's format adds to OCI's: `archMap` (the host's
 * architecture and its sub-architectures), rules that apply only `includes`/`excludes` capabilities
 * or architectures, and the older single `name`. Rules are chosen for this container's
 * capabilities and this host's architecture, as dockerd does.
 */
import { InvalidArgument } from "../errdefs.js";
import type { Seccomp, SeccompSyscall } from "../runtime/spec.js";

interface DockerRule extends Partial<SeccompSyscall> {
  name?: string;
  includes?: { caps?: string[]; arches?: string[] };
  excludes?: { caps?: string[]; arches?: string[] };
}

interface DockerProfile {
  defaultAction?: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  flags?: string[];
  listenerPath?: string;
  syscalls?: DockerRule[];
}

const HOST_ARCH: Record<string, { scmp: string; name: string }> = {
  x64: { scmp: "SCMP_ARCH_X86_64", name: "amd64" }, arm64: { scmp: "SCMP_ARCH_AARCH64", name: "arm64" },
  ia32: { scmp: "SCMP_ARCH_X86", name: "386" }, arm: { scmp: "SCMP_ARCH_ARM", name: "arm" },
  ppc64: { scmp: "SCMP_ARCH_PPC64LE", name: "ppc64le" }, s390x: { scmp: "SCMP_ARCH_S390X", name: "s390x" },
};

export function dockerSeccompProfile(json: string, caps: string[], arch = process.arch): Seccomp {
  let p: DockerProfile;
  try {
    p = JSON.parse(json) as DockerProfile;
  } catch (e) {
    throw new InvalidArgument(`--security-opt seccomp: the profile is not valid JSON: ${(e as Error).message}`);
  }
  if (!p || typeof p !== "object" || typeof p.defaultAction !== "string") throw new InvalidArgument("--security-opt seccomp: the profile needs a defaultAction");
  const host = HOST_ARCH[arch];
  const has = (c: string): boolean => caps.includes(c.startsWith("CAP_") ? c : `CAP_${c}`);
  const onArch = (arches: string[]): boolean => !!host && arches.includes(host.name);
  let architectures = p.architectures ?? [];
  if (p.archMap?.length) {
    const m = p.archMap.find((a) => a.architecture === host?.scmp);
    architectures = m ? [m.architecture, ...(m.subArchitectures ?? [])] : [];
  }
  const syscalls: SeccompSyscall[] = [];
  for (const [i, r] of (p.syscalls ?? []).entries()) {
    const names = r.names?.length ? r.names : r.name ? [r.name] : [];
    if (!names.length || typeof r.action !== "string") throw new InvalidArgument(`--security-opt seccomp: syscalls[${i}] needs names and an action`);
    const inc = r.includes ?? {}, exc = r.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every(has)) continue;
    if (inc.arches?.length && !onArch(inc.arches)) continue;
    if (exc.caps?.length && exc.caps.some(has)) continue;
    if (exc.arches?.length && onArch(exc.arches)) continue;
    syscalls.push({ names, action: r.action, ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}), ...(r.args?.length ? { args: r.args } : {}) });
  }
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    ...(architectures.length ? { architectures } : {}),
    ...(p.flags?.length ? { flags: p.flags } : {}),
    ...(p.listenerPath ? { listenerPath: p.listenerPath } : {}),
    syscalls,
  };
}
