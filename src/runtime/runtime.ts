/**
 * berth's OCI runtime as a library: create, start, state, kill, delete, exec, pause, resume,
 * update, ps. berth-runc (runc/) is a thin command line over it, and the engine calls it in
 * process. Lifecycle moves are checked against one transition table (lifecycle.ts).
 */
import { constants, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { FailedPrecondition, InvalidArgument, NotFound, wrap } from "../errdefs.js";
import { writeFileAtomic } from "../fsutil.js";
import { ensureLxcfs, onlineCpus, resourceViewCpus, resourceViewMounts, wantsResourceView } from "./resource-view.js";
import { secureJoin } from "../secure-join.js";
import { detectCgroupManager } from "./cgroups/index.js";
import type { Cgroup, CgroupManager } from "./cgroups/types.js";
import { cgroupMountSources } from "./cgroup-mounts.js";
import { runHooks } from "./hooks.js";
import { checkTransition, type Status } from "./lifecycle.js";
import { buildCreatePlan, buildExecPlan, type PlanMode, type ShimIo } from "./plan.js";
import { runShim, type ShimResult } from "./shim.js";
import type { DeviceRule, LinuxResources, Process, Spec, State } from "./spec.js";
import { StateStore, isAlive, ociState, procStartTime, validateId, type SavedState } from "./state.js";

export interface RuntimeOptions {
  /** State root (runc --root). */
  root: string;
  cgroups?: CgroupManager;
  /** Called with every warning (deprecated fields, skipped syscalls, …). */
  warn?: (msg: string) => void;
}

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  stdio?: ("inherit" | "ignore" | number)[];
  /** exec (default): the container is reparented to the caller's subreaper, as with runc.
   *  monitor: berth-shim stays as its parent and records the exit status in exitFile. */
  mode?: PlanMode;
  exitFile?: string;
  /** false: no exec fifo, the process starts at once (runc run). */
  waitForStart?: boolean;
  spec?: Spec;
  /** Monitor mode: stdio owned by the shim (logs, attach and control sockets). */
  io?: ShimIo;
}

export interface ExecOptions {
  consoleSocket?: string;
  pidFile?: string;
  detach?: boolean;
  preserveFds?: number;
  stdio?: ("inherit" | "ignore" | number)[];
  exitFile?: string;
  io?: ShimIo;
  /** monitor: the shim stays as the process's parent (default: monitor unless detach). */
  mode?: PlanMode;
  /** Runs after the process exists and before it runs (attach to its sockets here). */
  onPid?: (pid: number) => Promise<void> | void;
}

const NS_FILES: [string, string][] = [
  ["user", "user"], ["ipc", "ipc"], ["uts", "uts"], ["net", "network"], ["pid", "pid"],
  ["cgroup", "cgroup"], ["time", "time"], ["mnt", "mount"],
];

function inode(p: string): number | undefined {
  try {
    return statSync(p).ino;
  } catch {
    return undefined;
  }
}

/**
 * The device cgroup must let the container use the nodes every container gets (runc appends the
 * same list after the spec's own rules), or creating /dev/null in it fails.
 */
const ALLOWED_DEVICES: DeviceRule[] = [
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  ...[[1, 3], [1, 8], [1, 7], [5, 0], [1, 5], [1, 9], [5, 1], [5, 2], [10, 200]].map(([major, minor]) => ({ allow: true, type: "c", major, minor, access: "rwm" })),
  { allow: true, type: "c", major: 136, access: "rwm" },
];

/**
 * The container process waits in open(O_WRONLY) on the exec fifo; a reader releases it, and it
 * writes one byte before it execs. The fifo is opened O_RDWR|O_NONBLOCK — it never blocks and
 * never reads EOF while we hold it — and read on the event loop, while the process is watched:
 * a process that died before opening the fifo must not hold a thread-pool thread in open(2)
 * forever (four of them stall every file operation of berthd). True when the byte came.
 */
export function releaseFifo(fifo: string, s: SavedState): Promise<boolean> {
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  return new Promise((resolvePromise) => {
    const sock = new Socket({ fd, readable: true, writable: false });
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearInterval(watch);
      sock.destroy();
      resolvePromise(ok);
    };
    sock.once("data", () => finish(true));
    sock.once("error", () => finish(false));
    const watch = setInterval(() => { if (!isAlive(s)) finish(false); }, 20);
  });
}

/**
 * The spec's device rules, then ALLOWED_DEVICES — less those already allowed after the spec's last
 * deny rule, where appending them again changes nothing (docker's spec lists the same defaults;
 * each rule is a cgroupfs write).
 */
export function withDefaultDevices(r: LinuxResources | undefined): LinuxResources | undefined {
  if (!r?.devices) return r;
  const key = (d: DeviceRule): string => `${d.allow}:${d.type ?? "a"}:${d.major ?? -1}:${d.minor ?? -1}:${d.access ?? "rwm"}`;
  let lastDeny = -1;
  r.devices.forEach((d, i) => { if (!d.allow) lastDeny = i; });
  const allowed = new Set(r.devices.slice(lastDeny + 1).map(key));
  return { ...r, devices: [...r.devices, ...ALLOWED_DEVICES.filter((d) => !allowed.has(key(d)))] };
}

export function loadBundleSpec(bundle: string): Spec {
  const p = join(bundle, "config.json");
  let text: string;
  try {
    text = readFileSync(p, "utf8");
  } catch (e) {
    throw new NotFound(`${p}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  try {
    return JSON.parse(text) as Spec;
  } catch (e) {
    throw new InvalidArgument(`${p}: invalid JSON: ${(e as Error).message}`);
  }
}

/** runc sets HOME from the user's passwd entry when the process env lacks it. */
export function withHome(proc: Process, rootfs: string): Process {
  if ((proc.env ?? []).some((e) => e.startsWith("HOME="))) return proc;
  let home = "/";
  try {
    for (const line of readFileSync(secureJoin(rootfs, "/etc/passwd"), "utf8").split("\n")) {
      const f = line.split(":");
      if (f.length >= 6 && Number(f[2]) === proc.user.uid) { home = f[5] || "/"; break; }
    }
  } catch { /* no passwd: "/" */ }
  return { ...proc, env: [...(proc.env ?? []), `HOME=${home}`] };
}

export class Runtime {
  readonly store: StateStore;
  private cgroupManager?: CgroupManager;

  constructor(private readonly opts: RuntimeOptions) {
    this.store = new StateStore(opts.root);
    this.cgroupManager = opts.cgroups;
  }

  get cgroups(): CgroupManager {
    this.cgroupManager ??= detectCgroupManager();
    return this.cgroupManager;
  }

  private warn(msg: string): void {
    this.opts.warn?.(msg);
  }

  status(s: SavedState): Status {
    if (!isAlive(s)) return "stopped";
    try {
      statSync(this.store.fifo(s.id));
      return "created";
    } catch { /* started */ }
    const frozen = this.frozenSync(s);
    return frozen ? "paused" : "running";
  }

  private frozenSync(s: SavedState): boolean {
    const dirs = this.cgroups.open(s.cgroupPath).dirs();
    for (const [name, dir] of Object.entries(dirs)) {
      try {
        if (name === "freezer") return readFileSync(join(dir, "freezer.state"), "utf8").trim() === "FROZEN";
        const events = readFileSync(join(dir, "cgroup.events"), "utf8");
        if (/^frozen 1$/m.test(events)) return true;
      } catch { /* not this hierarchy */ }
    }
    return false;
  }

  state(id: string): State {
    const s = this.store.load(id);
    return ociState(s, this.status(s));
  }

  list(): { state: State; created: string }[] {
    const out = [];
    for (const id of this.store.list()) {
      try {
        const s = this.store.load(id);
        out.push({ state: ociState(s, this.status(s)), created: s.created });
      } catch { /* removed meanwhile */ }
    }
    return out;
  }

  async create(id: string, o: CreateOptions): Promise<{ pid: number; shim: ShimResult["shim"] }> {
    validateId(id);
    const bundle = resolve(o.bundle);
    const given = o.spec ?? loadBundleSpec(bundle);
    let spec: Spec = given.process && given.root?.path ? { ...given, process: withHome(given.process, resolve(bundle, given.root.path)) } : given;
    if (wantsResourceView(spec.annotations)) {
      spec = { ...spec, mounts: [...(spec.mounts ?? []), ...resourceViewMounts(await ensureLxcfs(this.opts.root))] };
      const cpus = resourceViewCpus(spec, id, onlineCpus());
      if (cpus) spec = { ...spec, linux: { ...spec.linux, resources: { ...spec.linux!.resources, cpu: { ...spec.linux!.resources!.cpu, cpus } } } };
    }
    await this.store.reserve(id);
    let cgroup: Cgroup | undefined;
    let pid = 0;
    try {
      const cgroupPath = this.cgroups.resolve(spec.linux?.cgroupsPath, id);
      const made = await this.cgroups.create(cgroupPath, withDefaultDevices(spec.linux?.resources));
      cgroup = made.cgroup;
      made.warnings.forEach((w) => this.warn(w));
      const waitStart = o.waitForStart ?? true;
      const plan = buildCreatePlan(spec, {
        bundle, mode: o.mode ?? "exec", fifo: waitStart ? this.store.fifo(id) : undefined,
        consoleSocket: o.consoleSocket, noPivot: o.noPivot, preserveFds: o.preserveFds, exitFile: o.exitFile, io: o.io, id,
        cgroupMounts: spec.mounts?.some((m) => m.type === "cgroup") ? cgroupMountSources(cgroupPath) : undefined,
      });
      plan.warnings.forEach((w) => this.warn(w));
      const saved: SavedState = {
        version: 1, id, pid: 0, startTime: 0, bundle, rootfs: resolve(bundle, spec.root!.path), created: new Date().toISOString(),
        cgroupPath, annotations: spec.annotations, namespaces: (spec.linux?.namespaces ?? []).map((n) => n.type),
      };
      const cg = cgroup;
      const res = await runShim(plan.text, {
        stdio: o.stdio ?? ["inherit", "inherit", "inherit"],
        preserveFds: o.preserveFds ? Array.from({ length: o.preserveFds }, (_, i) => 3 + i) : undefined,
        wait: waitStart ? "created" : "running",
        detached: true,
        onPid: async (p) => {
          pid = p;
          await cg.addProcess(p);
          if (spec.linux?.uidMappings?.length && !spec.linux.namespaces?.find((n) => n.type === "user")?.path) {
            await writeFile(`/proc/${p}/uid_map`, spec.linux.uidMappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join("\n"));
            await writeFile(`/proc/${p}/gid_map`, (spec.linux.gidMappings ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join("\n"));
          }
          saved.pid = p;
          saved.startTime = procStartTime(p) ?? 0;
          await this.store.save(saved, spec);
          const st = ociState(saved, "creating");
          await runHooks(spec.hooks?.prestart, st, "prestart");
          await runHooks(spec.hooks?.createRuntime, st, "createRuntime");
        },
      });
      res.warnings.forEach((w) => this.warn(w));
      if (o.pidFile) await writeFileAtomic(resolve(o.pidFile), String(res.pid));
      res.shim.unref();
      return { pid: res.pid, shim: res.shim };
    } catch (e) {
      if (pid > 0) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
      if (cgroup) await cgroup.killAll("SIGKILL").catch(() => {});
      if (cgroup) await cgroup.destroy().catch(() => {});
      await this.store.remove(id);
      throw wrap(e, `create ${id}`);
    }
  }

  async start(id: string): Promise<void> {
    const s = this.store.load(id);
    checkTransition(this.status(s), "start", id);
    const fifo = this.store.fifo(id);
    const started = await releaseFifo(fifo, s);
    await rm(fifo, { force: true });
    if (!started) throw new FailedPrecondition(`start ${id}: the container process exited before start`);
    const spec = await this.store.spec(id);
    try {
      await runHooks(spec.hooks?.poststart, ociState(s, "running"), "poststart");
    } catch (e) {
      this.warn((e as Error).message);
    }
  }

  async kill(id: string, signal: NodeJS.Signals | number, all = false): Promise<void> {
    const s = this.store.load(id);
    const st = this.status(s);
    if (all) {
      await this.cgroups.open(s.cgroupPath).killAll(signal);
      return;
    }
    checkTransition(st, "kill", id);
    process.kill(s.pid, signal);
  }

  async delete(id: string, force = false): Promise<void> {
    const s = this.store.load(id);
    const st = this.status(s);
    const cgroup = this.cgroups.open(s.cgroupPath);
    if (st !== "stopped") {
      if (!force) checkTransition(st, "delete", id);
      if (st === "paused") await cgroup.thaw().catch(() => {});
      await cgroup.killAll("SIGKILL").catch(() => {});
      try { process.kill(s.pid, "SIGKILL"); } catch { /* gone */ }
      for (let i = 0; i < 500 && isAlive(s); i++) await new Promise((r) => setTimeout(r, 10));
    }
    let spec: Spec | undefined;
    try { spec = await this.store.spec(id); } catch { /* created by an older berth */ }
    try {
      await runHooks(spec?.hooks?.poststop, ociState(s, "stopped"), "poststop");
    } catch (e) {
      this.warn((e as Error).message);
    }
    await cgroup.destroy();
    await this.store.remove(id);
  }

  async pause(id: string): Promise<void> {
    const s = this.store.load(id);
    checkTransition(this.status(s), "pause", id);
    await this.cgroups.open(s.cgroupPath).freeze();
  }

  async resume(id: string): Promise<void> {
    const s = this.store.load(id);
    checkTransition(this.status(s), "resume", id);
    await this.cgroups.open(s.cgroupPath).thaw();
  }

  async update(id: string, r: LinuxResources): Promise<void> {
    const s = this.store.load(id);
    checkTransition(this.status(s), "update", id);
    const warnings = await this.cgroups.open(s.cgroupPath).setResources(r);
    warnings.forEach((w) => this.warn(w));
  }

  async ps(id: string): Promise<number[]> {
    const s = this.store.load(id);
    return this.cgroups.open(s.cgroupPath).pids();
  }

  cgroupOf(id: string): Cgroup {
    return this.cgroups.open(this.store.load(id).cgroupPath);
  }

  /** Runs a process in the container's namespaces and cgroup. Returns the shim for foreground use. */
  async exec(id: string, proc: Process, o: ExecOptions = {}): Promise<ShimResult> {
    const s = this.store.load(id);
    checkTransition(this.status(s), "exec", id);
    const spec = await this.store.spec(id);
    proc = withHome(proc, `/proc/${s.pid}/root`);
    const joins: [string, string][] = [];
    for (const [file, type] of NS_FILES) {
      const target = `/proc/${s.pid}/ns/${file}`;
      const ti = inode(target);
      if (ti !== undefined && ti !== inode(`/proc/self/ns/${file}`)) joins.push([target, type]);
    }
    const mode = o.mode ?? (o.detach ? "exec" : "monitor");
    const plan = buildExecPlan(proc, { mode, joins, consoleSocket: o.consoleSocket, preserveFds: o.preserveFds, exitFile: o.exitFile, spec, io: o.io });
    plan.warnings.forEach((w) => this.warn(w));
    const cgroup = this.cgroups.open(s.cgroupPath);
    const res = await runShim(plan.text, {
      stdio: o.stdio ?? ["inherit", "inherit", "inherit"],
      preserveFds: o.preserveFds ? Array.from({ length: o.preserveFds }, (_, i) => 3 + i) : undefined,
      wait: mode === "exec" ? "eof" : "running",
      detached: o.detach ?? false,
      onPid: async (p) => {
        await cgroup.addProcess(p);
        await o.onPid?.(p);
      },
    }).catch((e) => { throw wrap(e, `exec ${id}`); });
    if (o.pidFile) writeFileSync(isAbsolute(o.pidFile) ? o.pidFile : resolve(o.pidFile), String(res.pid));
    return res;
  }
}
