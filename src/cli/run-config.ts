/**
 * `berth run` / `berth create` flags → the Docker Engine API's create body (Config + HostConfig).
 * Values are checked for form here (sizes, numbers, key=value); limits are validated by berthd,
 * which answers with docker's messages.
 */
import { RESOURCE_VIEW_ANNOTATION } from "../runtime/spec.js";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { b, bool, l, list, s, str, type FlagSpec, type Parsed } from "./args.js";
import { parseGoDuration } from "../go-duration.js";
import { CliError } from "./errors.js";
import { parsePublish } from "../network/ports.js";

/** --expose values (ports or ranges, with /proto) plus the ports -p publishes. */
function exposed(expose: string[], published: Record<string, object>): Record<string, object> | undefined {
  const out: Record<string, object> = { ...published };
  for (const x of expose) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(x);
    if (!m) throw new CliError(`invalid argument "${x}" for "--expose" flag: expected PORT[-PORT][/PROTO]`);
    for (let q = Number(m[1]); q <= Number(m[2] ?? m[1]); q++) out[`${q}/${m[3] ?? "tcp"}`] = {};
  }
  return Object.keys(out).length ? out : undefined;
}

export const RUN_FLAGS: FlagSpec[] = [
  b("detach", "d"), b("interactive", "i"), b("tty", "t"), b("rm"), s("name"), l("env", "e"), l("env-file"),
  l("volume", "v"), l("tmpfs"), l("mount"), s("workdir", "w"), s("user", "u"), s("entrypoint"), s("hostname", "h"),
  s("domainname"), l("label", "l"), b("read-only"), b("privileged"), l("cap-add"), l("cap-drop"), l("security-opt"),
  s("network", undefined, ["net"]), b("init"), s("restart"), l("ulimit"), s("shm-size"), s("stop-signal"),
  s("stop-timeout"), s("detach-keys"), l("publish", "p"), b("publish-all", "P"), l("expose"), l("add-host"), l("dns"),
  l("dns-search"), l("dns-option"), l("device"), l("group-add"), s("log-driver"), l("log-opt"), s("cgroup-parent"),
  s("ipc"), s("pid"), s("uts"), s("userns"), s("cgroupns"), l("sysctl"), s("platform"), s("pull"), b("quiet", "q"), b("sig-proxy"),
  l("attach", "a"), s("cidfile"), b("oom-kill-disable"), s("oom-score-adj"), l("network-alias"), s("ip"),
  l("annotation"), b("resource-view"), s("mac-address"), l("volumes-from"), l("label-file"),
  s("health-cmd"), s("health-interval"), s("health-timeout"), s("health-start-period"), s("health-start-interval"), s("health-retries"), b("no-healthcheck"),
  // resources (#3)
  s("memory", "m"), s("memory-swap"), s("memory-reservation"), s("memory-swappiness"), s("kernel-memory"),
  s("cpus"), s("cpu-shares", "c"), s("cpu-period"), s("cpu-quota"), s("cpu-rt-period"), s("cpu-rt-runtime"),
  s("cpuset-cpus"), s("cpuset-mems"), s("pids-limit"), s("blkio-weight"), l("blkio-weight-device"),
  l("device-read-bps"), l("device-write-bps"), l("device-read-iops"), l("device-write-iops"),
];

/** The health flags as the create body's Healthcheck (durations in ns), or undefined when none is given. */
export function healthFlags(p: Parsed): Record<string, unknown> | undefined {
  const given = ["health-cmd", "health-interval", "health-timeout", "health-start-period", "health-start-interval", "health-retries"].filter((f) => str(p, f) !== undefined);
  if (bool(p, "no-healthcheck")) {
    if (given.length) throw new CliError("--no-healthcheck conflicts with --health-* options");
    return { Test: ["NONE"] };
  }
  if (!given.length) return undefined;
  const duration = (f: string): number | undefined => {
    const v = str(p, f);
    if (v === undefined) return undefined;
    const ms = parseGoDuration(v);
    if (ms === undefined) throw new CliError(`invalid argument "${v}" for "--${f}" flag: time: invalid duration "${v}"`);
    if (ms !== 0 && ms < 1) throw new CliError(`--${f} cannot be less than 1ms`);
    return Math.round(ms * 1e6);
  };
  const retries = str(p, "health-retries");
  if (retries !== undefined && !/^\d+$/.test(retries)) throw new CliError(`invalid argument "${retries}" for "--health-retries" flag: strconv.ParseInt: parsing "${retries}": invalid syntax`);
  const cmd = str(p, "health-cmd");
  return {
    ...(cmd !== undefined ? { Test: ["CMD-SHELL", cmd] } : {}),
    Interval: duration("health-interval"), Timeout: duration("health-timeout"), StartPeriod: duration("health-start-period"),
    StartInterval: duration("health-start-interval"), Retries: retries !== undefined ? Number(retries) : undefined,
  };
}

/**
 * One --mount: docker's comma-separated key=value list (type bind|volume|tmpfs, source/src,
 * target/destination/dst, readonly/ro, bind-propagation, volume-nocopy, volume-label, volume-opt,
 * tmpfs-size, tmpfs-mode) as the API's Mount.
 */
export function mountFlag(spec: string): Record<string, unknown> {
  const bad = (why: string): CliError => new CliError(`invalid argument "${spec}" for "--mount" flag: ${why}`);
  const m: Record<string, any> = { Type: "volume" };
  const on = (v: string | undefined, k: string): boolean => {
    if (v === undefined || v === "" || v === "1" || v === "true") return true;
    if (v === "0" || v === "false") return false;
    throw bad(`invalid value for ${k}: ${v}`);
  };
  for (const field of spec.split(",")) {
    const i = field.indexOf("=");
    const k = (i < 0 ? field : field.slice(0, i)).trim().toLowerCase(), v = i < 0 ? undefined : field.slice(i + 1);
    const need = (): string => { if (v === undefined || v === "") throw bad(`invalid field '${field}' must be a key=value pair`); return v; };
    switch (k) {
      case "type": m.Type = need(); if (!["bind", "volume", "tmpfs"].includes(m.Type)) throw bad(`invalid mount type: ${m.Type}`); break;
      case "source": case "src": m.Source = need(); break;
      case "target": case "destination": case "dst": m.Target = need(); break;
      case "readonly": case "ro": m.ReadOnly = on(v, k); break;
      case "bind-propagation": m.BindOptions = { ...m.BindOptions, Propagation: need() }; break;
      case "volume-nocopy": m.VolumeOptions = { ...m.VolumeOptions, NoCopy: on(v, k) }; break;
      case "volume-label": { const [lk, ...lv] = need().split("="); m.VolumeOptions = { ...m.VolumeOptions, Labels: { ...m.VolumeOptions?.Labels, [lk!]: lv.join("=") } }; break; }
      case "volume-driver": m.VolumeOptions = { ...m.VolumeOptions, DriverConfig: { ...m.VolumeOptions?.DriverConfig, Name: need() } }; break;
      case "volume-opt": { const [ok, ...ov] = need().split("="); m.VolumeOptions = { ...m.VolumeOptions, DriverConfig: { ...m.VolumeOptions?.DriverConfig, Options: { ...m.VolumeOptions?.DriverConfig?.Options, [ok!]: ov.join("=") } } }; break; }
      case "tmpfs-size": m.TmpfsOptions = { ...m.TmpfsOptions, SizeBytes: sizeFlag("--mount tmpfs-size", need()) }; break;
      case "tmpfs-mode": { const mode = parseInt(need(), 8); if (Number.isNaN(mode)) throw bad(`invalid tmpfs-mode ${v}`); m.TmpfsOptions = { ...m.TmpfsOptions, Mode: mode }; break; }
      case "consistency": break; // a Docker Desktop setting; nothing to do on Linux
      default: throw bad(`unexpected key '${k}' in '${field}'`);
    }
  }
  if (!m.Target) throw bad("target is required");
  if (m.Type === "bind" && !m.Source) throw bad("source is required when specifying bind mounts");
  if (m.Type === "tmpfs" && m.Source) throw bad("source must not be specified for tmpfs mounts");
  return m;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's RAMInBytes: "64m", "1.5g", "512MiB", plain bytes. */
export function sizeFlag(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtpb])?(?:i?b)?$/i.exec(v.trim());
  if (!m) throw new CliError(`invalid argument "${v}" for "${flag}" flag: invalid size: '${v}'`);
  return Math.trunc(Number(m[1]) * UNITS[(m[2] ?? "").toLowerCase()]!);
}

function intFlag(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v.trim())) throw new CliError(`invalid argument "${v}" for "${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** --cpus: decimal or rational ("1.5", "3/2") → NanoCpus. */
function nanoCpus(v: string): number {
  const r = /^(\d+)\/(\d+)$/.exec(v);
  const n = r ? Number(r[1]) / Number(r[2]) : Number(v);
  if (!Number.isFinite(n) || v.trim() === "" || n < 0) throw new CliError(`invalid argument "${v}" for "--cpus" flag: failed to parse ${v} as a rational number`);
  return Math.round(n * 1e9);
}

/** `seccomp=<file>`: the file's JSON goes to the daemon, as docker's CLI sends it. */
function seccompFile(opt: string): string {
  const m = /^seccomp[=:](.+)$/.exec(opt);
  if (!m || m[1] === "unconfined" || m[1] === "builtin" || m[1]!.trimStart().startsWith("{")) return opt;
  try {
    return `seccomp=${readFileSync(m[1]!, "utf8")}`;
  } catch (e) {
    throw new CliError(`opening seccomp profile (${m[1]}) failed: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

function annotations(given: Record<string, string>, resourceView: boolean): Record<string, string> | undefined {
  const all = resourceView ? { ...given, [RESOURCE_VIEW_ANNOTATION]: "true" } : given;
  return Object.keys(all).length ? all : undefined;
}

function keyValues(flag: string, items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid argument "${it}" for "${flag}" flag: expected key=value`);
    out[it.slice(0, eq)] = it.slice(eq + 1);
  }
  return out;
}

/** The lines of --env-file / --label-file files: blank lines and # comments left out. */
function fileLines(files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    let text: string;
    try { text = readFileSync(f, "utf8"); } catch (e) { throw new CliError(`open ${f}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`); }
    for (const line of text.split("\n")) { const t = line.trim(); if (t && !t.startsWith("#")) out.push(t); }
  }
  return out;
}

/** --env-file lines and -e: `K=V`, or `K` alone taking the value from our environment. */
export function envList(p: Parsed): string[] {
  const out: string[] = [];
  for (const e of [...fileLines(list(p, "env-file")), ...list(p, "env")]) {
    if (e.startsWith("=") || e === "") throw new CliError(`invalid environment variable: ${e}`);
    if (e.includes("=")) out.push(e);
    else if (process.env[e] !== undefined) out.push(`${e}=${process.env[e]}`);
  }
  return out;
}

function throttle(flag: string, items: string[], size: boolean): { Path: string; Rate: number }[] {
  return items.map((it) => {
    const i = it.lastIndexOf(":");
    if (i <= 0) throw new CliError(`invalid argument "${it}" for "--${flag}" flag: bad format, expected DEVICE:RATE`);
    return { Path: it.slice(0, i), Rate: size ? sizeFlag(`--${flag}`, it.slice(i + 1)) : intFlag(`--${flag}`, it.slice(i + 1)) };
  });
}

function restartPolicy(v: string | undefined): { Name: string; MaximumRetryCount?: number } | undefined {
  if (v === undefined) return undefined;
  const [name, count] = v.split(":");
  if (!["no", "always", "unless-stopped", "on-failure"].includes(name!)) throw new CliError(`invalid restart policy '${v}'`);
  if (count !== undefined && name !== "on-failure") throw new CliError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  return { Name: name!, ...(count !== undefined ? { MaximumRetryCount: intFlag("--restart", count) } : {}) };
}

function binds(items: string[]): string[] {
  return items.map((v) => {
    const parts = v.split(":");
    // A relative host path is the user's: make it absolute (names without a slash are volumes).
    if (parts.length >= 2 && (parts[0]!.startsWith(".") || parts[0]!.startsWith("~"))) parts[0] = resolve(parts[0]!.replace(/^~/, process.env.HOME ?? "~"));
    return parts.join(":");
  });
}

/** The resource flags (#3) as HostConfig fields: shared by run/create and update. */
export function resourceFields(p: Parsed): Record<string, unknown> {
  const n = (f: string): string | undefined => str(p, f);
  const res: Record<string, unknown> = {};
  if (n("memory") !== undefined) res.Memory = sizeFlag("--memory", n("memory")!);
  if (n("memory-swap") !== undefined) res.MemorySwap = n("memory-swap") === "-1" ? -1 : sizeFlag("--memory-swap", n("memory-swap")!);
  if (n("memory-reservation") !== undefined) res.MemoryReservation = sizeFlag("--memory-reservation", n("memory-reservation")!);
  if (n("memory-swappiness") !== undefined) res.MemorySwappiness = intFlag("--memory-swappiness", n("memory-swappiness")!);
  if (n("kernel-memory") !== undefined) res.KernelMemory = sizeFlag("--kernel-memory", n("kernel-memory")!);
  if (n("cpus") !== undefined) res.NanoCpus = nanoCpus(n("cpus")!);
  if (n("cpu-shares") !== undefined) res.CpuShares = intFlag("--cpu-shares", n("cpu-shares")!);
  if (n("cpu-period") !== undefined) res.CpuPeriod = intFlag("--cpu-period", n("cpu-period")!);
  if (n("cpu-quota") !== undefined) res.CpuQuota = intFlag("--cpu-quota", n("cpu-quota")!);
  if (n("cpu-rt-period") !== undefined) res.CpuRealtimePeriod = intFlag("--cpu-rt-period", n("cpu-rt-period")!);
  if (n("cpu-rt-runtime") !== undefined) res.CpuRealtimeRuntime = intFlag("--cpu-rt-runtime", n("cpu-rt-runtime")!);
  if (n("cpuset-cpus") !== undefined) res.CpusetCpus = n("cpuset-cpus");
  if (n("cpuset-mems") !== undefined) res.CpusetMems = n("cpuset-mems");
  if (n("pids-limit") !== undefined) res.PidsLimit = intFlag("--pids-limit", n("pids-limit")!);
  if (n("blkio-weight") !== undefined) res.BlkioWeight = intFlag("--blkio-weight", n("blkio-weight")!);
  if (list(p, "blkio-weight-device").length) {
    res.BlkioWeightDevice = list(p, "blkio-weight-device").map((it) => {
      const i = it.lastIndexOf(":");
      if (i <= 0) throw new CliError(`invalid argument "${it}" for "--blkio-weight-device" flag: bad format, expected DEVICE:WEIGHT`);
      return { Path: it.slice(0, i), Weight: intFlag("--blkio-weight-device", it.slice(i + 1)) };
    });
  }
  if (list(p, "device-read-bps").length) res.BlkioDeviceReadBps = throttle("device-read-bps", list(p, "device-read-bps"), true);
  if (list(p, "device-write-bps").length) res.BlkioDeviceWriteBps = throttle("device-write-bps", list(p, "device-write-bps"), true);
  if (list(p, "device-read-iops").length) res.BlkioDeviceReadIOps = throttle("device-read-iops", list(p, "device-read-iops"), false);
  if (list(p, "device-write-iops").length) res.BlkioDeviceWriteIOps = throttle("device-write-iops", list(p, "device-write-iops"), false);
  if (bool(p, "oom-kill-disable")) res.OomKillDisable = true;
  return res;
}

/** The resource flags `update` takes (a subset of run's), plus --restart. */
export const RESOURCE_FLAG_NAMES = ["memory", "memory-swap", "memory-reservation", "memory-swappiness", "kernel-memory", "cpus", "cpu-shares",
  "cpu-period", "cpu-quota", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight",
  "blkio-weight-device", "device-read-bps", "device-write-bps", "device-read-iops", "device-write-iops"];

export function restartFlag(p: Parsed): { Name: string; MaximumRetryCount?: number } | undefined {
  return restartPolicy(str(p, "restart"));
}

/** The image and command of `run IMAGE [COMMAND] [ARG...]` and the create body. */
export function createBody(p: Parsed): { name?: string; image: string; body: Record<string, unknown> } {
  const [image, ...cmd] = p.args;
  if (!image) throw new CliError(`"berth run" requires at least 1 argument.\nSee 'berth run --help'.`);
  const n = (f: string): string | undefined => str(p, f);
  const tty = bool(p, "tty");
  const interactive = bool(p, "interactive");
  const detach = bool(p, "detach");
  const entrypoint = n("entrypoint");
  const restart = restartFlag(p);
  if (bool(p, "rm") && restart && restart.Name !== "no") throw new CliError("Conflicting options: --restart and --rm");
  const volumes = list(p, "volume");
  const anon = volumes.filter((v) => !v.includes(":"));
  const tmpfs: Record<string, string> = {};
  for (const t of list(p, "tmpfs")) { const [dst, opts] = t.split(/:(.*)/s); tmpfs[dst!] = opts ?? ""; }
  let published: ReturnType<typeof parsePublish>;
  try { published = parsePublish(list(p, "publish")); } catch (e) { throw new CliError(`invalid argument for "-p, --publish" flag: ${(e as Error).message}`); }
  const res = resourceFields(p);
  const ulimits = list(p, "ulimit").map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m) throw new CliError(`invalid argument "${u}" for "--ulimit" flag: invalid ulimit argument: ${u}`);
    return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
  });
  const devices = list(p, "device").map((d) => {
    const [host, cont, perms] = d.split(":");
    return { PathOnHost: host, PathInContainer: cont || host, CgroupPermissions: perms || "rwm" };
  });
  const hostConfig: Record<string, unknown> = {
    ...res,
    Binds: binds(volumes.filter((v) => v.includes(":"))),
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    Mounts: list(p, "mount").length ? list(p, "mount").map(mountFlag) : undefined,
    AutoRemove: bool(p, "rm"),
    ReadonlyRootfs: bool(p, "read-only"),
    Privileged: bool(p, "privileged"),
    CapAdd: list(p, "cap-add"), CapDrop: list(p, "cap-drop"), SecurityOpt: list(p, "security-opt").map(seccompFile), VolumesFrom: list(p, "volumes-from"),
    NetworkMode: n("network") ?? "default",
    Init: bool(p, "init") || undefined,
    RestartPolicy: restart,
    Ulimits: ulimits,
    ShmSize: n("shm-size") !== undefined ? sizeFlag("--shm-size", n("shm-size")!) : undefined,
    ExtraHosts: list(p, "add-host"), Dns: list(p, "dns"), DnsSearch: list(p, "dns-search"), DnsOptions: list(p, "dns-option"),
    Devices: devices, GroupAdd: list(p, "group-add"),
    LogConfig: { Type: n("log-driver") ?? "json-file", Config: keyValues("--log-opt", list(p, "log-opt")) },
    // --resource-view is berth's; it travels as the runtime annotation the docker CLI can set too.
    Annotations: annotations(keyValues("--annotation", list(p, "annotation")), bool(p, "resource-view")),
    CgroupParent: n("cgroup-parent"),
    IpcMode: n("ipc"), PidMode: n("pid"), UTSMode: n("uts"), UsernsMode: n("userns"), CgroupnsMode: n("cgroupns"),
    Sysctls: keyValues("--sysctl", list(p, "sysctl")),
    OomScoreAdj: n("oom-score-adj") !== undefined ? intFlag("--oom-score-adj", n("oom-score-adj")!) : undefined,
    PortBindings: Object.keys(published.bindings).length ? published.bindings : undefined,
    PublishAllPorts: bool(p, "publish-all"),
  };
  const attachAll = !detach;
  const body: Record<string, unknown> = {
    Image: image,
    Cmd: cmd.length ? cmd : undefined,
    Entrypoint: entrypoint === undefined ? undefined : entrypoint === "" ? [""] : [entrypoint],
    Env: envList(p),
    WorkingDir: n("workdir") ?? "",
    User: n("user") ?? "",
    Hostname: n("hostname") ?? "",
    Domainname: n("domainname") ?? "",
    Labels: keyValues("--label", [...fileLines(list(p, "label-file")), ...list(p, "label")].map((x) => (x.includes("=") ? x : `${x}=`))),
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && !detach,
    AttachStdin: interactive && !detach,
    AttachStdout: attachAll,
    AttachStderr: attachAll,
    StopSignal: n("stop-signal"),
    Healthcheck: healthFlags(p),
    StopTimeout: n("stop-timeout") !== undefined ? intFlag("--stop-timeout", n("stop-timeout")!) : undefined,
    Volumes: anon.length ? Object.fromEntries(anon.map((v) => [v, {}])) : undefined,
    ExposedPorts: exposed(list(p, "expose"), published.exposed),
    HostConfig: hostConfig,
  };
  const aliases = list(p, "network-alias");
  const ip = n("ip");
  const mac = n("mac-address");
  if (aliases.length || ip || mac) {
    body.NetworkingConfig = { EndpointsConfig: { [n("network") ?? "default"]: { ...(aliases.length ? { Aliases: aliases } : {}), ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}), ...(mac ? { MacAddress: mac } : {}) } } };
  }
  return { name: n("name"), image, body };
}
