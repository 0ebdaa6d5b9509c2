/**
 * docker's container configuration + the image's config → an OCI runtime spec, with docker's
 * defaults (daemon/oci_linux.go's behaviour): default mounts, masked and read-only paths, the 14
 * default capabilities, the device cgroup allow-list, the default seccomp profile, and the
 * Entrypoint/Cmd/Env/WorkingDir/User merge rules.
 */
import { hostname as osHostname } from "node:os";
import { InvalidArgument } from "../errdefs.js";
import type { DeviceRule, LinuxResources, Mount, Namespace, Rlimit, Spec } from "../runtime/spec.js";
import { DOCKER_DEFAULT_CAPS, ALL_CAPS } from "../runtime/capabilities.js";
import { defaultSeccompProfile } from "../runtime/seccomp-default.js";
import { dockerSeccompProfile } from "./seccomp-profile.js";
import type { ExecUser } from "./user-lookup.js";

/** The parts of docker's Config used here (structurally compatible with the API types). */
export interface DockerConfigLike {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  Tty?: boolean;
  OpenStdin?: boolean;
}

export interface DockerHostConfigLike {
  /** OCI annotations for the runtime (docker API 1.43+); org.berth.resource-view asks for lxcfs's view. */
  Annotations?: Record<string, string> | null;
  ReadonlyRootfs?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged?: boolean;
  SecurityOpt?: string[] | null;
  Init?: boolean | null;
  ShmSize?: number;
  OomScoreAdj?: number;
  Sysctls?: Record<string, string> | null;
  NetworkMode?: string;
  PidMode?: string;
  IpcMode?: string;
  /** "private" (a cgroup namespace: the container's group is its /) or "host" (docker's default on cgroup v1). */
  CgroupnsMode?: string;
  UTSMode?: string;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
}

export interface ImageRunConfig {
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

export interface SpecInputs {
  id: string;
  config: DockerConfigLike;
  host: DockerHostConfigLike;
  image: ImageRunConfig;
  rootfs: string;
  user: ExecUser;
  /** Extra mounts made by the engine: /etc/hosts etc., volumes, binds, tmpfs. */
  mounts: Mount[];
  resources: LinuxResources;
  rlimits: Rlimit[];
  devices?: { path: string; type: "c" | "b"; major: number; minor: number; fileMode: number; permissions: string }[];
  cgroupsPath: string;
  /** Path of the reaping init binary on the host, when Init is set. */
  initPath?: string;
  /** Network namespace to join (a bridge attachment); none → a new empty one. */
  netnsPath?: string;
  /** Namespace files of other containers to join (--pid/--ipc container:<x>). */
  joinPaths?: { pid?: string; ipc?: string };
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export const DOCKER_MASKED_PATHS = [
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];
export const DOCKER_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** docker's device cgroup defaults: mknod of anything, and use of the harmless nodes. */
const DEFAULT_DEVICE_RULES: DeviceRule[] = [
  { allow: false, access: "rwm" },
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  ...[[1, 3], [1, 8], [1, 7], [5, 0], [1, 5], [1, 9], [5, 1], [5, 2], [10, 200]].map(([major, minor]) => ({ allow: true, type: "c", major, minor, access: "rwm" })),
  { allow: true, type: "c", major: 136, access: "rwm" },
];

/** Entrypoint and Cmd as docker merges them: a new Entrypoint drops the image's Cmd. */
export function commandLine(config: DockerConfigLike, image: ImageRunConfig): string[] {
  const entrypoint = config.Entrypoint != null ? config.Entrypoint.filter((x, i) => !(i === 0 && x === "" && config.Entrypoint!.length === 1)) : image.Entrypoint ?? [];
  const cmd = config.Cmd != null && config.Cmd.length > 0 ? config.Cmd : config.Entrypoint != null ? [] : image.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new InvalidArgument("no command specified");
  return args;
}

export function mergeEnv(image: string[] | null | undefined, config: string[] | null | undefined, extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...(image ?? []), ...(config ?? []), ...extra]) {
    const k = e.includes("=") ? e.slice(0, e.indexOf("=")) : e;
    out.set(k, e.includes("=") ? e : `${e}=`);
  }
  if (!out.has("PATH")) out.set("PATH", `PATH=${DEFAULT_PATH}`);
  return [...out.values()];
}

function capabilities(host: DockerHostConfigLike): string[] {
  if (host.Privileged) return [...ALL_CAPS];
  const norm = (c: string): string => (c.toUpperCase().startsWith("CAP_") ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
  const drop = (host.CapDrop ?? []).map(norm);
  const add = (host.CapAdd ?? []).map(norm);
  let caps = add.includes("CAP_ALL") ? [...ALL_CAPS] : [...new Set([...DOCKER_DEFAULT_CAPS, ...add])];
  if (drop.includes("CAP_ALL")) caps = add.filter((c) => c !== "CAP_ALL");
  return caps.filter((c) => !drop.includes(c) || add.includes(c));
}

function securityOpts(host: DockerHostConfigLike): { nnp: boolean; seccomp: "default" | "unconfined" | string; apparmor?: string } {
  const out: { nnp: boolean; seccomp: "default" | "unconfined" | string; apparmor?: string } = { nnp: false, seccomp: "default" };
  for (const o of host.SecurityOpt ?? []) {
    const [k, v] = o.includes("=") ? [o.slice(0, o.indexOf("=")), o.slice(o.indexOf("=") + 1)] : o.split(":", 2);
    if (k === "no-new-privileges") out.nnp = v === undefined || v === "true" || v === "";
    else if (k === "seccomp" && v === "unconfined") out.seccomp = "unconfined";
    else if (k === "seccomp" && v === "builtin") out.seccomp = "default";
    // A profile's JSON (docker's CLI, and berth's, read the file and send its content).
    else if (k === "seccomp" && v?.trimStart().startsWith("{")) out.seccomp = v;
    else if (k === "apparmor") out.apparmor = v;
    else if (k === "label") continue;
    else throw new InvalidArgument(`invalid --security-opt: "${o}"`);
  }
  return out;
}

/**
 * The container's namespaces. `container:<x>` modes (pid, ipc) join another container's, whose
 * namespace files the engine resolved (joinPaths); `host` modes create none.
 */
function namespaces(host: DockerHostConfigLike, netnsPath: string | undefined, joinPaths: { pid?: string; ipc?: string } = {}): Namespace[] {
  const ns: Namespace[] = [{ type: "mount" }];
  if (joinPaths.pid) ns.push({ type: "pid", path: joinPaths.pid });
  else if (host.PidMode !== "host") ns.push({ type: "pid" });
  if (joinPaths.ipc) ns.push({ type: "ipc", path: joinPaths.ipc });
  else if (host.IpcMode !== "host") ns.push({ type: "ipc" });
  if (host.UTSMode !== "host") ns.push({ type: "uts" });
  if (host.CgroupnsMode === "private") ns.push({ type: "cgroup" });
  const net = host.NetworkMode ?? "default";
  if (net !== "host") ns.push(netnsPath ? { type: "network", path: netnsPath } : { type: "network" });
  return ns;
}

export function buildContainerSpec(i: SpecInputs): Spec {
  const { config, host } = i;
  const sec = securityOpts(host);
  const caps = capabilities(host);
  // --uts host: the host's UTS namespace, so its name (the runtime may not set one there).
  const utsHost = host.UTSMode === "host";
  const hostname = utsHost ? osHostname() : config.Hostname || i.id.slice(0, 12);
  const args = commandLine(config, i.image);
  if (host.Init && i.initPath) args.unshift("/sbin/berth-init", "--");
  const env = mergeEnv(i.image.Env, config.Env, [`HOSTNAME=${hostname}`, ...(config.Tty ? ["TERM=xterm"] : [])]);
  const shm = host.ShmSize && host.ShmSize > 0 ? host.ShmSize : 64 * 1024 * 1024;
  const privileged = host.Privileged === true;
  const mounts: Mount[] = [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"] },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${shm}`] },
    ...(host.Init && i.initPath ? [{ destination: "/sbin/berth-init", type: "bind", source: i.initPath, options: ["rbind", "ro"] }] : []),
    ...i.mounts,
  ];
  const resources: LinuxResources = { ...i.resources, devices: privileged ? [{ allow: true, access: "rwm" }] : [...DEFAULT_DEVICE_RULES, ...(i.resources.devices ?? [])] };
  const spec: Spec = {
    ociVersion: "1.2.0",
    process: {
      terminal: config.Tty === true,
      user: { uid: i.user.uid, gid: i.user.gid, additionalGids: i.user.additionalGids },
      args,
      env,
      cwd: config.WorkingDir || i.image.WorkingDir || "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: i.rlimits,
      noNewPrivileges: sec.nnp,
      ...(host.OomScoreAdj ? { oomScoreAdj: host.OomScoreAdj } : {}),
      ...(sec.apparmor && sec.apparmor !== "unconfined" ? { apparmorProfile: sec.apparmor } : {}),
    },
    root: { path: i.rootfs, readonly: host.ReadonlyRootfs === true },
    ...(host.Annotations && Object.keys(host.Annotations).length ? { annotations: { ...host.Annotations } } : {}),
    ...(utsHost ? {} : { hostname, ...(config.Domainname ? { domainname: config.Domainname } : {}) }),
    mounts,
    linux: {
      namespaces: namespaces(host, i.netnsPath, i.joinPaths),
      cgroupsPath: i.cgroupsPath,
      resources,
      ...(host.Sysctls && Object.keys(host.Sysctls).length ? { sysctl: { ...host.Sysctls } } : {}),
      ...(privileged ? {} : { maskedPaths: host.MaskedPaths ?? DOCKER_MASKED_PATHS, readonlyPaths: host.ReadonlyPaths ?? DOCKER_READONLY_PATHS }),
      ...(privileged || sec.seccomp === "unconfined" ? {} : { seccomp: sec.seccomp === "default" ? defaultSeccompProfile(caps) : dockerSeccompProfile(sec.seccomp, caps) }),
      ...(i.devices?.length ? { devices: i.devices.map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: 0, gid: 0 })) } : {}),
    },
  };
  if (i.devices?.length) {
    spec.linux!.resources!.devices!.push(...i.devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions })));
  }
  return spec;
}
