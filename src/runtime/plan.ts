/**
 * OCI config → berth-shim plan (docs/shim-protocol.md). All policy lives here: which namespaces,
 * which mounts in which order, which devices, which identity. The order of the child steps follows
 * runc's init so that a container looks the same under both runtimes (the differential tests
 * compare them).
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { InvalidArgument } from "../errdefs.js";
import type { Device, Hook, Mount, Process, Spec } from "./spec.js";
import { MS, parseMountOptions, rootPropagation } from "./mount-options.js";
import { encodeField } from "./plan-encoding.js";
import { identityLine } from "./identity.js";
import { seccompPlanLines } from "./seccomp.js";

export type PlanMode = "exec" | "monitor";

/** Monitor-mode stdio owned by the shim (docs/shim-protocol.md "Monitor-mode stdio"). */
export interface ShimIo {
  log?: { path: string; maxSize: number; maxFiles: number };
  stdin?: boolean;
  stdinOnce?: boolean;
  attachSocket?: string;
  controlSocket?: string;
  /** The shim holds the pty master (needs process.terminal). */
  terminalRelay?: boolean;
}

function ioLines(w: PlanWriter, io: ShimIo | undefined, terminal: boolean): void {
  if (!io) return;
  if (io.log) w.add("log", io.log.path, io.log.maxSize, io.log.maxFiles);
  if (io.stdin) w.add("stdin");
  if (io.stdinOnce) w.add("stdin-once");
  if (io.attachSocket) w.add("attach-socket", io.attachSocket);
  if (io.controlSocket) w.add("control-socket", io.controlSocket);
  if (io.terminalRelay && terminal) w.add("terminal-relay");
}

export interface CreatePlanOptions {
  io?: ShimIo;
  bundle: string;
  mode: PlanMode;
  /** Exec fifo path: the process waits on it until `start` (absent: exec at once). */
  fifo?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  exitFile?: string;
  /** Host directories of the container's cgroup, per hierarchy mount point (for `cgroup` mounts). */
  cgroupMounts?: CgroupMountSource[];
  /** The container's id: the OCI state createContainer and startContainer hooks read. */
  id?: string;
}

export interface CgroupMountSource {
  /** Name under /sys/fs/cgroup, e.g. "memory", "cpu", "unified". */
  name: string;
  /** fs type: "cgroup" or "cgroup2" */
  fstype: string;
  /** super options for a fresh mount in a cgroup namespace, e.g. "memory" or "none,name=systemd" */
  options: string;
  /** host directory of the container's group in this hierarchy, for bind mounts */
  dir: string;
}

export interface Plan {
  text: string;
  warnings: string[];
}

const NS_CLONE: Record<string, string> = {
  pid: "pid", network: "net", mount: "mnt", ipc: "ipc", uts: "uts", user: "user", cgroup: "cgroup", time: "time",
};

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** runc's default devices, created in every container (libcontainer/specconv AllowedDevices). */
const DEFAULT_DEVICES: Device[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5 },
  { path: "/dev/full", type: "c", major: 1, minor: 7 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9 },
  { path: "/dev/random", type: "c", major: 1, minor: 8 },
];

class PlanWriter {
  readonly lines: string[] = [];
  add(...fields: (string | number | bigint)[]): void {
    this.lines.push(fields.map((f) => encodeField(String(f))).join(" "));
  }
}

function rlimitLines(w: PlanWriter, process: Process): void {
  (process.rlimits ?? []).forEach((r, i) => {
    const res = RLIMITS[r.type];
    if (res === undefined) throw new InvalidArgument(`process.rlimits[${i}].type: unknown rlimit "${r.type}"`);
    w.add("rlimit", res, BigInt(r.soft), BigInt(r.hard));
  });
}

/** The tail every plan shares: env, args, seccomp, identity, nnp, (wait), exec. */
function processLines(w: PlanWriter, process: Process, spec: Spec, warnings: string[], userns: boolean, waitStart: boolean, field: string, startHooks: () => void = () => {}): void {
  if (!process.args || process.args.length === 0) throw new InvalidArgument(`${field}.args: must not be empty`);
  if (!process.cwd || !isAbsolute(process.cwd)) throw new InvalidArgument(`${field}.cwd: must be an absolute path, got "${process.cwd ?? ""}"`);
  w.add("chdir", process.cwd);
  w.add("umask", process.user.umask ?? 0o022);
  for (const e of process.env ?? []) w.add("env", e);
  for (const a of process.args) w.add("arg", a);
  const seccomp = spec.linux?.seccomp;
  const nnp = process.noNewPrivileges === true;
  if (seccomp && !nnp) w.add("seccomp-load");
  const id = identityLine(process, userns, field);
  warnings.push(...id.warnings);
  w.add(...id.fields);
  if (nnp) w.add("nnp");
  if (seccomp && nnp) w.add("seccomp-load");
  if (waitStart) w.add("wait-start");
  startHooks();
  w.add("exec", process.args[0]!);
}

/**
 * createContainer/startContainer hooks, run by the container process (native/shim/hooks.c) with
 * the OCI state on stdin; its pid is the process's own in the container's namespace, as runc's.
 */
function hookLines(w: PlanWriter, hooks: Hook[] | undefined, stage: "createContainer" | "startContainer", state: { ociVersion: string; id: string; bundle: string; annotations?: Record<string, string> }): void {
  const status = stage === "createContainer" ? "creating" : "created";
  (hooks ?? []).forEach((h, i) => {
    const field = `hooks.${stage}[${i}]`;
    if (!h.path || !isAbsolute(h.path)) throw new InvalidArgument(`${field}.path: must be an absolute path, got "${h.path ?? ""}"`);
    if (h.timeout !== undefined && (!Number.isInteger(h.timeout) || h.timeout <= 0)) throw new InvalidArgument(`${field}.timeout: must be a positive number of seconds`);
    for (const a of h.args ?? []) w.add("hook-arg", a);
    for (const e of h.env ?? []) w.add("hook-env", e);
    const head = `{"ociVersion":${JSON.stringify(state.ociVersion)},"id":${JSON.stringify(state.id)},"status":"${status}","pid":`;
    const tail = `,"bundle":${JSON.stringify(state.bundle)},"annotations":${JSON.stringify(state.annotations ?? {})}}`;
    w.add("hook", stage, h.timeout ?? 0, head, tail, h.path);
  });
}

function bindKind(src: string): "dir" | "file" {
  try {
    return statSync(src).isDirectory() ? "dir" : "file";
  } catch {
    return "dir";
  }
}

function mountLines(w: PlanWriter, m: Mount, i: number, bundle: string, cgroupMounts: CgroupMountSource[] | undefined, cgroupns: boolean): void {
  const field = `mounts[${i}]`;
  if (!m.destination) throw new InvalidArgument(`${field}.destination: must be set`);
  const dst = m.destination.startsWith("/") ? m.destination : `/${m.destination}`;
  const o = parseMountOptions(m.options, `${field}.options`);
  const isBind = m.type === "bind" || (o.flags & MS.BIND) !== 0;
  if (m.type === "cgroup" && !isBind) {
    cgroupLines(w, dst, o.flags, cgroupMounts ?? [], cgroupns);
  } else if (isBind) {
    if (!m.source) throw new InvalidArgument(`${field}.source: a bind mount needs a source`);
    const src = isAbsolute(m.source) ? m.source : resolve(bundle, m.source);
    if (!existsSync(src)) throw new InvalidArgument(`${field}.source: ${src} does not exist`);
    const flags = o.flags | MS.BIND;
    w.add("mount", src, dst, "-", flags & (MS.BIND | MS.REC), o.data.join(",") || "-", bindKind(src));
    // A bind ignores every flag but MS_REC; the others need a remount of the new mount.
    const rest = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (rest !== 0) w.add("remount", dst, rest | MS.BIND, "-");
  } else {
    w.add("mount", m.source ?? m.type ?? "none", dst, m.type ?? "-", o.flags, o.data.join(",") || "-", "dir");
  }
  for (const p of o.propagation) w.add("propagate", dst, p);
}

/** The spec's `cgroup` mount: a tmpfs holding one mount per hierarchy, as runc builds it. */
function cgroupLines(w: PlanWriter, dst: string, flags: number, sources: CgroupMountSource[], cgroupns: boolean): void {
  const unified = sources.length === 1 && sources[0]!.fstype === "cgroup2" && sources[0]!.name === "";
  if (unified) {
    const s = sources[0]!;
    if (cgroupns) w.add("mount", "cgroup2", dst, "cgroup2", flags, "-", "dir");
    else w.add("mount", s.dir, dst, "-", MS.BIND | MS.REC, "-", "dir"), w.add("remount", dst, (flags & ~MS.REC) | MS.BIND, "-");
    return;
  }
  const base = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  w.add("mount", "tmpfs", dst, "tmpfs", base, "mode=755", "dir");
  // On a hybrid host runc mounts the v1 hierarchies only; the cgroup2 "unified" mount stays out.
  for (const s of sources) {
    if (!s.name || s.fstype === "cgroup2") continue;
    const sub = `${dst}/${s.name}`;
    if (cgroupns) {
      w.add("mount", s.fstype, sub, s.fstype, flags & ~MS.REC, s.fstype === "cgroup2" ? "-" : s.options, "dir");
    } else {
      w.add("mount", s.dir, sub, "-", MS.BIND | MS.REC, "-", "dir");
      w.add("remount", sub, (flags & ~MS.REC) | MS.BIND, "-");
    }
  }
  // runc leaves the tmpfs itself writable (only the hierarchies are read-only); so do we.
}

export function buildCreatePlan(spec: Spec, opts: CreatePlanOptions): Plan {
  const warnings: string[] = [];
  const w = new PlanWriter();
  const process = spec.process;
  if (!process) throw new InvalidArgument("process: must be set to create a container");
  if (!spec.root?.path) throw new InvalidArgument("root.path: must be set");
  const rootfs = resolve(opts.bundle, spec.root.path);
  if (!existsSync(rootfs)) throw new InvalidArgument(`root.path: ${rootfs} does not exist`);
  // As runc: the rootfs must be named by its real path, so no symlink redirects it later.
  if (realpathSync(rootfs) !== rootfs) throw new InvalidArgument(`root.path: ${rootfs} is a symlink (or contains one)`);
  const linux = spec.linux ?? {};
  const nss = linux.namespaces ?? [];
  const created = new Set<string>();
  const seen = new Set<string>();
  const joins: [string, string][] = [];
  nss.forEach((ns, i) => {
    const c = NS_CLONE[ns.type];
    if (!c) throw new InvalidArgument(`linux.namespaces[${i}].type: unknown namespace "${ns.type}"`);
    if (seen.has(ns.type)) throw new InvalidArgument(`linux.namespaces[${i}]: duplicate namespace "${ns.type}"`);
    seen.add(ns.type);
    if (ns.path) joins.push([ns.path, ns.type]);
    else created.add(c);
  });
  if (!seen.has("mount")) throw new InvalidArgument("linux.namespaces: a mount namespace is required");
  const userns = created.has("user");
  if (userns && !(linux.uidMappings?.length && linux.gidMappings?.length)) {
    throw new InvalidArgument("linux.uidMappings: a new user namespace needs uid and gid mappings");
  }
  if ((spec.hostname || spec.domainname) && !seen.has("uts")) {
    throw new InvalidArgument("hostname: setting it needs a private UTS namespace");
  }

  w.add("mode", opts.mode);
  if (opts.exitFile) w.add("exitfile", opts.exitFile);
  if (opts.preserveFds) w.add("preserve-fds", opts.preserveFds);
  if (opts.fifo) w.add("fifo", opts.fifo);
  if (opts.consoleSocket) w.add("console-socket", opts.consoleSocket);
  ioLines(w, opts.io, process.terminal === true);
  // Join the user namespace first: the other namespaces belong to it.
  joins.sort((a, b) => (a[1] === "user" ? -1 : b[1] === "user" ? 1 : 0));
  for (const [p, t] of joins) w.add("join", p, t);
  if (created.size) w.add("clone", [...created].join(","));
  for (const [clock, off] of Object.entries(linux.timeOffsets ?? {})) {
    if (!created.has("time")) throw new InvalidArgument("linux.timeOffsets: needs a new time namespace");
    w.add("timens", clock, off.secs ?? 0, off.nanosecs ?? 0);
  }
  if (linux.seccomp) for (const l of seccompPlanLines(linux.seccomp)) w.lines.push(l);

  w.add("child");
  // Where the child waits for the runtime's go (its cgroup placement, id maps, runtime hooks).
  // Placement waits out an RCU grace period in the kernel (cgroups/fs-io.ts, moveProcess), so the
  // child builds its mounts meanwhile — unless something it does first needs the go: a user
  // namespace (no privilege before the maps), a cgroup namespace (unshared once placed), or
  // prestart/createRuntime hooks (they run on the host before any of the container's setup).
  // Devices are made after it, so mknod is checked against the container's device rules.
  const waitFirst = userns || created.has("cgroup") || !!spec.hooks?.prestart?.length || !!spec.hooks?.createRuntime?.length;
  if (waitFirst) w.add("wait-parent");
  w.add("setsid");
  if (created.has("net")) w.add("link-up", "lo");
  w.add("propagate-host", "/", rootPropagation(linux.rootfsPropagation));
  w.add("root", rootfs);
  w.add("mount", rootfs, "/", "-", MS.BIND | MS.REC, "-", "dir");
  (spec.mounts ?? []).forEach((m, i) => mountLines(w, m, i, opts.bundle, opts.cgroupMounts, created.has("cgroup")));
  if (!waitFirst) w.add("wait-parent");
  deviceLines(w, linux.devices ?? [], userns);
  w.add("symlink", "pts/ptmx", "/dev/ptmx");
  for (const [t, l] of [["/proc/self/fd", "/dev/fd"], ["/proc/self/fd/0", "/dev/stdin"], ["/proc/self/fd/1", "/dev/stdout"], ["/proc/self/fd/2", "/dev/stderr"]]) w.add("symlink", t!, l!);
  if (existsSync("/proc/kcore")) w.add("symlink", "/proc/kcore", "/dev/core");
  const hookState = { ociVersion: spec.ociVersion ?? "1.2.0", id: opts.id ?? "", bundle: opts.bundle, annotations: spec.annotations };
  hookLines(w, spec.hooks?.createContainer, "createContainer", hookState);
  w.add(opts.noPivot ? "chroot" : "pivot");
  if (process.terminal) {
    if (!opts.consoleSocket && !opts.io?.terminalRelay) throw new InvalidArgument("process.terminal: a terminal needs --console-socket");
    w.add("terminal", process.consoleSize?.height ?? 0, process.consoleSize?.width ?? 0);
  }
  if (spec.hostname) w.add("hostname", spec.hostname);
  if (spec.domainname) w.add("domainname", spec.domainname);
  if (process.apparmorProfile) {
    if (apparmorEnabled()) w.add("apparmor", process.apparmorProfile);
    else warnings.push(`process.apparmorProfile "${process.apparmorProfile}" ignored: AppArmor is not enabled on this host`);
  }
  if (process.selinuxLabel) warnings.push(`process.selinuxLabel ignored: SELinux is not enabled on this host`);
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) w.add("sysctl", k, v);
  for (const p of linux.readonlyPaths ?? []) w.add("readonly", p);
  for (const p of linux.maskedPaths ?? []) w.add("mask", p);
  if (spec.root.readonly) w.add("remount", "/", MS.BIND | MS.RDONLY, "-");
  rlimitLines(w, process);
  if (process.oomScoreAdj !== undefined) w.add("oom-score-adj", process.oomScoreAdj);
  processLines(w, process, spec, warnings, userns, opts.fifo !== undefined, "process", () => hookLines(w, spec.hooks?.startContainer, "startContainer", hookState));
  return { text: w.lines.join("\n") + "\n", warnings };
}

function deviceLines(w: PlanWriter, devices: Device[], userns: boolean): void {
  const all = [...DEFAULT_DEVICES.filter((d) => !devices.some((x) => x.path === d.path)), ...devices];
  all.forEach((d, i) => {
    if (!d.path.startsWith("/dev/")) throw new InvalidArgument(`linux.devices[${i}].path: must be under /dev, got "${d.path}"`);
    if (userns) {
      // mknod is not allowed in a user namespace: bind the host's node instead, as runc does.
      w.add("mount", d.path, d.path, "-", MS.BIND, "-", "file");
      return;
    }
    const t = d.type === "u" ? "c" : d.type;
    if (t !== "c" && t !== "b" && t !== "p") throw new InvalidArgument(`linux.devices[${i}].type: unknown type "${d.type}"`);
    w.add("mknod", d.path, t, d.major ?? 0, d.minor ?? 0, d.fileMode ?? 0o666, d.uid ?? 0, d.gid ?? 0);
  });
}

function apparmorEnabled(): boolean {
  try {
    return statSync("/sys/kernel/security/apparmor").isDirectory();
  } catch {
    return false;
  }
}

export interface ExecPlanOptions {
  mode: PlanMode;
  io?: ShimIo;
  /** Namespace files of the target, in join order (user first). */
  joins: [string, string][];
  consoleSocket?: string;
  preserveFds?: number;
  exitFile?: string;
  /** The container's spec: its seccomp filter and apparmor profile apply to exec'd processes too. */
  spec: Spec;
}

export function buildExecPlan(process: Process, opts: ExecPlanOptions): Plan {
  const warnings: string[] = [];
  const w = new PlanWriter();
  w.add("mode", opts.mode);
  if (opts.exitFile) w.add("exitfile", opts.exitFile);
  if (opts.preserveFds) w.add("preserve-fds", opts.preserveFds);
  if (opts.consoleSocket) w.add("console-socket", opts.consoleSocket);
  ioLines(w, opts.io, process.terminal === true);
  for (const [p, t] of opts.joins) w.add("join", p, t);
  const seccomp = opts.spec.linux?.seccomp;
  if (seccomp) for (const l of seccompPlanLines(seccomp)) w.lines.push(l);
  w.add("child");
  w.add("wait-parent");
  w.add("setsid");
  if (process.terminal) {
    if (!opts.consoleSocket && !opts.io?.terminalRelay) throw new InvalidArgument("process.terminal: a terminal needs --console-socket");
    w.add("terminal", process.consoleSize?.height ?? 0, process.consoleSize?.width ?? 0);
  }
  const profile = process.apparmorProfile;
  if (profile && apparmorEnabled()) w.add("apparmor", profile);
  rlimitLines(w, process);
  const userns = opts.joins.some(([, t]) => t === "user");
  processLines(w, process, opts.spec, warnings, userns, false, "process");
  return { text: w.lines.join("\n") + "\n", warnings };
}
