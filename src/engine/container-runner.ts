/**
 * Container lifecycle in the engine: create, start, stop, kill, wait, remove, restart, pause.
 *
 * Every running container has a berth-shim in monitor mode as its parent (not berthd), which owns
 * its stdio (json-file log, attach and control sockets) and writes its exit status to a file. So
 * berthd may die and restart: `recover()` finds running containers again through the runtime's
 * state, and the exit of a container is noticed when the shim closes its control socket.
 */
import { hostname as osHostname } from "node:os";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { overlayDiff, writableDir, type Mount as SnapshotMount } from "../snapshot/index.js";
import { applyChanges, changes, exportTar, isInitMountpoint, lowerDirs, type Change } from "./container-changes.js";
import { join } from "node:path";
import { Conflict, FailedPrecondition, InvalidArgument, NotFound, NotImplemented, wrap } from "../errdefs.js";
import type { Runtime } from "../runtime/runtime.js";
import type { ShimStepError } from "../runtime/shim.js";
import { buildContainerSpec, commandLine } from "./container-spec.js";
import { hostsFile, writeContainerFiles } from "./container-files.js";
import { resolveMounts } from "./container-mounts.js";
import { ContainerStore, initialState, validateName, type ContainerRecord, type EndpointConfig } from "./container-store.js";
import type { EventBus } from "./events.js";
import { resourcesFromHostConfig } from "./host-config-resources.js";
import { hostDevices, privilegedDevices } from "./resource-flags-devices.js";
import { KeyedMutex } from "./keyed-mutex.js";
import { JSON_FILE_OPTS } from "./logs.js";
import { lookupUser } from "./user-lookup.js";
import { controlCommand } from "./exec.js";
import { connectSocket, connectUnix } from "../unix-socket.js";
import { treeSize } from "../fsutil.js";
import { secureJoin } from "../secure-join.js";
import { mergeHealthcheck } from "./health.js";
import type { VolumeStore } from "./volumes.js";
import type { MountMap } from "./archive.js";
import type { Mount } from "../runtime/spec.js";
import type { NetworkManager, SandboxRecord } from "../network/manager.js";
import { isPredefined, type NetworkRecord } from "../network/networks.js";
import { formatPlatform, inspectPlatform, parsePlatform, platformMatches } from "../image/index.js";
import { bindingsOf } from "../network/ports.js";

/** What the engine needs of the image side. */
export interface ImageServiceLike {
  inspect(ref: string): Promise<{ Id: string; RepoTags?: string[]; Config?: Record<string, any> | null; Os?: string; Architecture?: string; Variant?: string }>;
  prepareRootfs(key: string, imageId: string): Promise<unknown>;
  mountRootfs(mounts: any, target: string, o?: { volatile?: boolean }): Promise<void> | void;
  unmountRootfs(target: string): Promise<void> | void;
  removeRootfs(key: string): Promise<void>;
  rootfsMounts(key: string): Promise<unknown>;
  commitLayer?(imageId: string, layer: Readable, opts: { reference?: string; config: Record<string, unknown>; comment?: string; author?: string; containerId?: string; createdBy?: string }): Promise<string>;
}

export interface ContainerRunnerOptions {
  dataRoot: string;
  execRoot: string;
  runtime: Runtime;
  images: ImageServiceLike;
  volumes: VolumeStore;
  events: EventBus;
  initPath?: string;
  network: NetworkManager;
  log?: (level: "debug" | "info" | "warn" | "error", msg: string) => void;
}

type Waiter = { condition: "not-running" | "next-exit" | "removed"; resolve: (r: { StatusCode: number; Error?: { Message: string } }) => void };

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15, SIGCONT: 18, SIGSTOP: 19, SIGWINCH: 28 };

export function parseSignal(s: string | number | undefined, dflt: NodeJS.Signals = "SIGTERM"): NodeJS.Signals | number {
  if (s === undefined || s === "") return dflt;
  if (typeof s === "number" || /^\d+$/.test(s)) return Number(s);
  const up = s.toUpperCase();
  const name = up.startsWith("SIG") ? up : `SIG${up}`;
  if (!(name in SIGNALS) && !/^SIG[A-Z0-9]+$/.test(name)) throw new InvalidArgument(`Invalid signal: ${s}`);
  return name as NodeJS.Signals;
}

export class ContainerRunner {
  readonly store: ContainerStore;
  private readonly mutex = new KeyedMutex();
  private readonly watchers = new Map<string, Socket>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** Attach requests made before start: connected after the shim exists and before the process runs. */
  private readonly pendingAttach = new Map<string, ((s: Socket | undefined) => void)[]>();

  constructor(private readonly o: ContainerRunnerOptions) {
    this.store = new ContainerStore(join(o.dataRoot, "containers"));
  }

  private log(level: "debug" | "info" | "warn" | "error", msg: string): void {
    this.o.log?.(level, msg);
  }

  runDir(id: string): string {
    return join(this.o.execRoot, "containers", id);
  }

  rootfsDir(id: string): string {
    return join(this.store.dir(id), "rootfs");
  }

  private attrs(c: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...((c.Config.Labels as Record<string, string>) ?? {}), image: c.ImageName, name: c.Name.slice(1), ...extra };
  }

  // ---- create ----------------------------------------------------------------------------

  async create(name: string | undefined, body: Record<string, any>, o: { platform?: string } = {}): Promise<{ Id: string; Warnings: string[] }> {
    const warnings: string[] = [];
    const config = { ...body } as Record<string, any>;
    const host = (config.HostConfig ?? {}) as Record<string, any>;
    let endpoints = (config.NetworkingConfig?.EndpointsConfig ?? undefined) as ContainerRecord["EndpointsConfig"];
    // Before API 1.44 the MAC address was a container setting; now it is the endpoint's.
    if (config.MacAddress) {
      const key = (host.NetworkMode as string | undefined) || "default";
      endpoints = { ...(endpoints ?? {}), [key]: { ...(endpoints?.[key] ?? {}), MacAddress: endpoints?.[key]?.MacAddress || String(config.MacAddress) } };
    }
    delete config.MacAddress;
    delete config.HostConfig;
    delete config.NetworkingConfig;
    if (!config.Image) throw new InvalidArgument("config.Image: no image specified");
    const image = await this.o.images.inspect(config.Image).catch((e) => {
      if (e instanceof NotFound) throw new NotFound(`No such image: ${config.Image}`);
      throw e;
    });
    if (o.platform) {
      // As dockerd: a local image of another platform is "not found", and the client pulls.
      const want = parsePlatform(o.platform);
      const have = inspectPlatform(image);
      if (!platformMatches(want, have)) {
        throw new NotFound(`image with reference ${config.Image} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`);
      }
    }
    const id = randomBytes(32).toString("hex");
    const cname = name ? validateName(name) : `/${this.freeName()}`;
    this.store.checkName(cname);
    warnings.push(...this.checkNetworking(host, endpoints, { ...(image.Config?.ExposedPorts ?? {}), ...(config.ExposedPorts ?? {}) }));
    this.checkNamespaceModes(host);
    const imgCfg = (image.Config ?? {}) as Record<string, any>;
    const args = commandLine(config, imgCfg);
    // Validate resources, devices and the log driver now, before anything exists.
    const driver = (host.LogConfig?.Type as string | undefined) || "json-file";
    if (!["json-file", "none"].includes(driver)) throw new InvalidArgument(`logger: no log driver named '${driver}' is registered (berth has json-file and none)`);
    for (const k of Object.keys((host.LogConfig?.Config ?? {}) as Record<string, string>)) {
      if (driver === "json-file" && !JSON_FILE_OPTS.includes(k)) throw new InvalidArgument(`unknown log opt '${k}' for json-file log driver`);
      // Rotated files are kept plain: asking for them compressed is refused, not ignored.
      if (k === "compress" && /^(1|true)$/i.test(String(host.LogConfig.Config[k]))) throw new InvalidArgument("log opt compress=true: berth keeps rotated json-file logs uncompressed");
      if (k.endsWith("-regex")) try { new RegExp(String(host.LogConfig.Config[k])); } catch (e) { throw new InvalidArgument(`log opt ${k}: ${(e as Error).message}`); }
    }
    if (config.WorkingDir && !String(config.WorkingDir).startsWith("/")) throw new InvalidArgument(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
    const healthcheck = mergeHealthcheck(config.Healthcheck, imgCfg.Healthcheck);
    const restart = (host.RestartPolicy as { Name?: string } | undefined)?.Name;
    if (host.AutoRemove && restart && restart !== "no") throw new InvalidArgument("can't create 'AutoRemove' container with restart policy");
    const res = resourcesFromHostConfig(host);
    hostDevices(host.Devices);
    warnings.push(...res.warnings);
    const dir = this.store.dir(id);
    mkdirSync(dir, { recursive: true });
    try {
      await this.o.images.prepareRootfs(id, image.Id);
      // Anonymous volumes: the image's VOLUMEs and the container's own (`-v /path`, Config.Volumes).
      const mounts = await resolveMounts({ Binds: host.Binds, Mounts: host.Mounts, Tmpfs: host.Tmpfs, ImageVolumes: { ...(imgCfg.Volumes ?? {}), ...(config.Volumes ?? {}) } }, this.o.volumes);
      mounts.points.push(...this.volumesFrom(host.VolumesFrom, mounts.points));
      const fullConfig = {
        // As dockerd: on the host's network (or UTS namespace) the default name is the host's.
        Hostname: config.Hostname || (host.NetworkMode === "host" || host.UTSMode === "host" ? osHostname() : id.slice(0, 12)), Domainname: config.Domainname ?? "", User: config.User ?? "",
        AttachStdin: !!config.AttachStdin, AttachStdout: config.AttachStdout ?? true, AttachStderr: config.AttachStderr ?? true,
        ExposedPorts: config.ExposedPorts ?? imgCfg.ExposedPorts, Tty: !!config.Tty, OpenStdin: !!config.OpenStdin, StdinOnce: !!config.StdinOnce,
        Env: config.Env ?? null, Cmd: config.Cmd ?? imgCfg.Cmd ?? null, Image: config.Image, Volumes: config.Volumes ?? imgCfg.Volumes ?? null,
        WorkingDir: config.WorkingDir ?? "", Entrypoint: config.Entrypoint ?? imgCfg.Entrypoint ?? null, OnBuild: null,
        Labels: { ...(imgCfg.Labels ?? {}), ...(config.Labels ?? {}) }, StopSignal: config.StopSignal ?? imgCfg.StopSignal,
        ...(config.StopTimeout !== undefined ? { StopTimeout: config.StopTimeout } : {}),
        ...(healthcheck ? { Healthcheck: healthcheck } : {}),
      };
      const rec: ContainerRecord = {
        version: 1, Id: id, Name: cname, Created: new Date().toISOString(), Path: args[0]!, Args: args.slice(1),
        Image: image.Id, ImageName: config.Image, Config: fullConfig, HostConfig: { NetworkMode: "default", ...host },
        State: initialState(), RestartCount: 0, ManuallyStopped: false, MountPoints: mounts.points,
        LogPath: join(dir, `${id}-json.log`), ResolvConfPath: join(dir, "resolv.conf"), HostnamePath: join(dir, "hostname"), HostsPath: join(dir, "hosts"),
        ...(endpoints ? { EndpointsConfig: endpoints } : {}),
      };
      await this.store.save(rec);
      this.o.events.emit("container", "create", id, this.attrs(rec));
      return { Id: id, Warnings: warnings };
    } catch (e) {
      await this.o.images.removeRootfs(id).catch(() => {});
      await this.store.remove(id).catch(() => {});
      throw e;
    }
  }

  /**
   * --volumes-from NAME[:ro|:rw]: the other container's volumes and bind mounts at the same
   * places (read-only or read-write as asked, else as they are there); its tmpfs mounts are its own.
   * A destination this container mounts itself keeps its own.
   */
  private volumesFrom(list: string[] | null | undefined, own: ContainerRecord["MountPoints"]): ContainerRecord["MountPoints"] {
    const out: ContainerRecord["MountPoints"] = [];
    for (const spec of list ?? []) {
      const m = /^(.+?)(?::(ro|rw))?$/.exec(spec)!;
      let other: ContainerRecord;
      try { other = this.store.get(m[1]!); } catch (e) {
        if (e instanceof NotFound) throw new InvalidArgument(`--volumes-from ${spec}: no such container: ${m[1]}`);
        throw e;
      }
      for (const p of other.MountPoints) {
        if (p.Type === "tmpfs" || own.some((x) => x.Destination === p.Destination) || out.some((x) => x.Destination === p.Destination)) continue;
        const rw = m[2] ? m[2] === "rw" : p.RW;
        out.push({ ...p, RW: rw, Mode: rw ? (p.Mode === "ro" ? "" : p.Mode) : "ro" });
      }
    }
    return out;
  }

  /** --pid, --ipc, --uts and --cgroupns modes, checked at create; `container:<x>` must name a container. */
  private checkNamespaceModes(host: Record<string, any>): void {
    const modes: [string, string | undefined, string[]][] = [
      ["pid", host.PidMode, ["", "host"]], ["ipc", host.IpcMode, ["", "host", "private", "shareable", "none"]],
      ["uts", host.UTSMode, ["", "host"]], ["cgroupns", host.CgroupnsMode, ["", "host", "private"]],
    ];
    for (const [flag, v, allowed] of modes) {
      if (v === undefined || allowed.includes(v)) continue;
      if ((flag === "pid" || flag === "ipc") && v.startsWith("container:")) { this.otherContainer(v, flag); continue; }
      throw new InvalidArgument(`invalid --${flag}: ${v}`);
    }
  }

  /** The container a `container:<x>` mode names. Missing, it is a bad argument (a 404 would make docker's CLI pull an image). */
  private otherContainer(mode: string, flag: string): ContainerRecord {
    const ref = mode.slice("container:".length);
    try {
      return this.store.get(ref);
    } catch (e) {
      if (e instanceof NotFound) throw new InvalidArgument(`invalid --${flag} ${mode}: no such container: ${ref}`);
      throw e;
    }
  }

  /** The namespace files `container:<x>` pid and ipc modes join: the other container must run. */
  private joinPaths(host: Record<string, any>): { pid?: string; ipc?: string } {
    const of = (mode: string | undefined, ns: string): string | undefined => {
      if (!mode?.startsWith("container:")) return undefined;
      const other = this.otherContainer(mode, ns);
      if (!other.State.Running) throw new Conflict(`cannot join ${ns} namespace of a non running container: ${other.Id}`);
      return `/proc/${other.State.Pid}/ns/${ns}`;
    };
    return { pid: of(host.PidMode, "pid"), ipc: of(host.IpcMode, "ipc") };
  }

  /** Network mode, published ports and endpoint settings checked at create, before anything exists. */
  private checkNetworking(host: Record<string, any>, endpoints: ContainerRecord["EndpointsConfig"], exposed: Record<string, unknown>): string[] {
    const mode = (host.NetworkMode as string | undefined) || "default";
    if ((host.Links as string[] | null | undefined)?.length) throw new InvalidArgument(LINKS_UNSUPPORTED);
    for (const ep of Object.values(endpoints ?? {})) checkEndpointSupport(ep);
    bindingsOf(host.PortBindings, exposed, !!host.PublishAllPorts); // validates
    const published = host.PortBindings && Object.keys(host.PortBindings).length > 0;
    if (mode.startsWith("container:")) {
      this.otherContainer(mode, "network");
      if (published || host.PublishAllPorts) throw new InvalidArgument("conflicting options: port publishing and the container type network mode");
      if (host.Dns?.length || host.ExtraHosts?.length) throw new InvalidArgument("conflicting options: custom DNS or hosts and the container type network mode");
      return [];
    }
    const macs = Object.values(endpoints ?? {}).map((ep) => ep.MacAddress).filter((m): m is string => !!m);
    for (const m of macs) {
      if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(m)) throw new InvalidArgument(`invalid MAC address: ${m}`);
      if (parseInt(m.slice(0, 2), 16) & 1) throw new InvalidArgument(`invalid MAC address: ${m} is a multicast address`);
    }
    if (macs.length && (mode === "host" || mode === "none")) throw new InvalidArgument(`conflicting options: mac-address and the network mode (${mode})`);
    if (mode === "host" || mode === "none") return published ? [`Published ports are discarded when using ${mode} network mode`] : [];
    const n = this.o.network.networkFor(mode);
    if (!n) throw new InvalidArgument(`network mode "${mode}" is not supported`);
    for (const [name, ep] of Object.entries(endpoints ?? {})) {
      if (name !== n.Name && name !== mode && name !== n.Id) throw new InvalidArgument(`a container is created on one network (${n.Name}); connect it to ${name} with network connect`);
      if (n.Name === "bridge" && ep.Aliases?.length) throw new InvalidArgument("network-scoped alias is supported only for containers in user defined networks");
      if (n.Name === "bridge" && ep.IPAMConfig?.IPv4Address) throw new InvalidArgument("user specified IP address is supported on user defined networks only");
    }
    return [];
  }

  /**
   * The container's network namespace, made before the runtime creates it (a sandbox whose
   * networks are attached meanwhile, `address` resolving when they are), or another container's.
   * Returns what the container's files need.
   */
  private async setupNetwork(c: ContainerRecord): Promise<{ netnsPath?: string; address?: Promise<string | undefined>; nameserver?: string }> {
    const mode = (c.HostConfig.NetworkMode as string | undefined) || "default";
    if (mode === "host" || mode === "none") return {};
    if (mode.startsWith("container:")) {
      const other = this.store.get(mode.slice("container:".length));
      if (!other.State.Running) throw new Conflict(`cannot join network namespace of a non running container: ${other.Id}`);
      return { netnsPath: this.o.network.sandbox(other.Id)?.netns ?? `/proc/${other.State.Pid}/ns/net` };
    }
    const nets = this.networksOf(c);
    if (!nets.length) throw new InvalidArgument(`network mode "${mode}" is not supported`);
    const endpointOf = (n: NetworkRecord): EndpointConfig => c.EndpointsConfig?.[n.Name] ?? c.EndpointsConfig?.[n.Id] ?? (n === nets[0] ? c.EndpointsConfig?.[mode] : undefined) ?? {};
    const ports = bindingsOf(c.HostConfig.PortBindings, c.Config.ExposedPorts ?? undefined, !!c.HostConfig.PublishAllPorts);
    const sb = await this.o.network.setup(c.Id, {
      name: c.Name.slice(1), ports,
      networks: nets.map((n) => ({ network: n, endpoint: { aliases: endpointOf(n).Aliases ?? [], ip: endpointOf(n).IPAMConfig?.IPv4Address || undefined, mac: endpointOf(n).MacAddress || undefined } })),
    });
    const address = sb.attached.then((s) => s.endpoints[0]?.ip);
    address.catch(() => {}); // awaited before the start; a failure meanwhile is handled there
    return { netnsPath: sb.netns, address, nameserver: this.o.network.nameserverFor(nets[0]!) };
  }

  /** The network sandbox of a running container (its own, or the one it shares with container:). */
  sandbox(c: ContainerRecord): SandboxRecord | undefined {
    if (!c.State.Running) return undefined;
    const mode = (c.HostConfig.NetworkMode as string | undefined) || "default";
    if (mode.startsWith("container:")) {
      try { return this.o.network.sandbox(this.store.get(mode.slice("container:".length)).Id); } catch { return undefined; }
    }
    return this.o.network.sandbox(c.Id);
  }

  /** Networks a container is on: the one it was created on, then those connected later. */
  networksOf(c: ContainerRecord): NetworkRecord[] {
    const first = this.o.network.networkFor((c.HostConfig.NetworkMode as string | undefined) || "default");
    if (!first) return [];
    const rest = Object.keys(c.EndpointsConfig ?? {}).flatMap((k) => { try { return [this.o.network.store.get(k)]; } catch { return []; } });
    return [first, ...rest.filter((n) => n.Id !== first.Id)];
  }

  /** docker network connect: recorded for later starts, attached now when the container runs. */
  connectNetwork(ref: string, n: NetworkRecord, ep: EndpointConfig): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      const mode = (c.HostConfig.NetworkMode as string | undefined) || "default";
      if (mode === "host" || mode === "none" || mode.startsWith("container:")) throw new InvalidArgument(`container ${c.Name.slice(1)} uses the ${mode.split(":")[0]} network mode: it cannot be connected to other networks`);
      if (this.networksOf(c).some((x) => x.Id === n.Id)) throw new Conflict(`endpoint with name ${c.Name.slice(1)} already exists in network ${n.Name}`);
      checkEndpointSupport(ep);
      if (isPredefined(n.Name) && (ep.Aliases?.length || ep.IPAMConfig?.IPv4Address)) throw new InvalidArgument("network-scoped aliases and addresses are supported only on user defined networks");
      if (c.State.Running) await this.o.network.connect(c.Id, n, { aliases: ep.Aliases ?? [], ip: ep.IPAMConfig?.IPv4Address || undefined });
      c.EndpointsConfig = { ...(c.EndpointsConfig ?? {}), [n.Name]: ep };
      await this.store.save(c);
      this.o.events.emit("network", "connect", n.Id, { container: c.Id, name: n.Name, type: "bridge" });
    });
  }

  disconnectNetwork(ref: string, n: NetworkRecord): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      const nets = this.networksOf(c);
      if (!nets.some((x) => x.Id === n.Id)) throw new NotFound(`container ${c.Id.slice(0, 12)} is not connected to network ${n.Name}`);
      if (nets[0]!.Id === n.Id) throw new FailedPrecondition(`${n.Name} is the network ${c.Name.slice(1)} was created on: berth disconnects only networks connected later`);
      if (c.State.Running) await this.o.network.disconnect(c.Id, n);
      const rest = { ...(c.EndpointsConfig ?? {}) };
      for (const k of Object.keys(rest)) { try { if (this.o.network.store.get(k).Id === n.Id) delete rest[k]; } catch { delete rest[k]; } }
      c.EndpointsConfig = rest;
      await this.store.save(c);
      this.o.events.emit("network", "disconnect", n.Id, { container: c.Id, name: n.Name, type: "bridge" });
    });
  }

  private async teardownNetwork(id: string): Promise<void> {
    // Another running container in this one's network namespace (container:<x>) keeps it alive.
    const shared = this.store.all().some((o) => {
      const mode = (o.HostConfig.NetworkMode as string | undefined) ?? "";
      if (o.Id === id || !o.State.Running || !mode.startsWith("container:")) return false;
      try { return this.store.get(mode.slice("container:".length)).Id === id; } catch { return false; }
    });
    await this.o.network.teardown(id, { shared }).catch((e) => this.log("warn", `network teardown of ${id}: ${(e as Error).message}`));
  }

  // ---- start -----------------------------------------------------------------------------

  /**
   * docker update: new resource values (and restart policy) merged into the HostConfig, validated
   * as at create, applied live to a running or paused container's cgroups, then saved.
   */
  update(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      const cur = this.store.get(c.Id);
      const next: Record<string, unknown> = { ...cur.HostConfig };
      for (const k of UPDATABLE) if (body[k] !== undefined && body[k] !== null) next[k] = body[k];
      if (body.RestartPolicy && (body.RestartPolicy as { Name?: string }).Name !== undefined) {
        if (cur.HostConfig.AutoRemove && (body.RestartPolicy as { Name: string }).Name !== "no") throw new InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled for the container");
        next.RestartPolicy = body.RestartPolicy;
      }
      const res = resourcesFromHostConfig(next as Parameters<typeof resourcesFromHostConfig>[0]);
      if (cur.State.Running) await this.o.runtime.update(cur.Id, res.resources).catch((e) => { throw wrap(e, `Cannot update container ${cur.Id}`); });
      cur.HostConfig = next as typeof cur.HostConfig;
      await this.store.save(cur);
      this.o.events.emit("container", "update", cur.Id, this.attrs(cur));
      return { Warnings: res.warnings };
    });
  }

  /**
   * Runs fn with the container's filesystem reachable from the host: its rootfs (mounted for the
   * call when the container is not running) and its mounts as destination → source. Serialised
   * with the container's other operations.
   */
  withFilesystem<T>(ref: string, fn: (rootfs: string, mounts: MountMap[], running: boolean) => Promise<T>): Promise<T> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      const cur = this.store.get(c.Id);
      const rootfs = this.rootfsDir(cur.Id);
      const dir = this.store.dir(cur.Id);
      const mounts: MountMap[] = [
        ...cur.MountPoints.filter((m) => m.Type !== "tmpfs" && m.Source).map((m) => ({ destination: m.Destination, source: m.Source })),
        { destination: "/etc/hostname", source: join(dir, "hostname") }, { destination: "/etc/hosts", source: join(dir, "hosts") },
        { destination: "/etc/resolv.conf", source: join(dir, "resolv.conf") },
      ];
      let mounted = false;
      if (!isMountpoint(rootfs)) {
        mkdirSync(rootfs, { recursive: true });
        await this.o.images.mountRootfs(await this.o.images.rootfsMounts(cur.Id), rootfs);
        mounted = true;
      }
      try {
        return await fn(rootfs, mounts, cur.State.Running);
      } finally {
        if (mounted) await Promise.resolve(this.o.images.unmountRootfs(rootfs)).catch(() => {});
      }
    });
  }

  /** docker's SizeRw (bytes in the container's writable layer) and SizeRootFs (that plus its image). */
  async sizes(ref: string): Promise<{ SizeRw: number; SizeRootFs: number }> {
    const c = this.store.get(ref);
    const rw = await treeSize(writableDir((await this.o.images.rootfsMounts(c.Id)) as SnapshotMount[]));
    const image = await this.o.images.inspect(c.Image).catch(() => undefined);
    return { SizeRw: rw, SizeRootFs: rw + Number((image as { Size?: number } | undefined)?.Size ?? 0) };
  }

  /** docker diff: what the container changed in its writable layer. */
  async changes(ref: string): Promise<Change[]> {
    const c = this.store.get(ref);
    const mounts = (await this.o.images.rootfsMounts(c.Id)) as SnapshotMount[];
    return changes(writableDir(mounts), lowerDirs(mounts));
  }

  /** docker export: the container's merged root filesystem as a tar (mounted for the call if needed). */
  export(ref: string, write: (chunk: Buffer) => Promise<void>): Promise<void> {
    return this.withFilesystem(ref, async (rootfs) => {
      for await (const chunk of exportTar(rootfs)) await write(chunk);
    });
  }

  /**
   * docker commit: the container's writable layer as a new layer on its image, with its config
   * (and --change instructions). A running container is paused meanwhile unless pause is false.
   */
  async commit(ref: string, o: { reference?: string; comment?: string; author?: string; pause?: boolean; changes?: string[]; config?: Record<string, unknown>; createdBy?: string; exactConfig?: boolean }): Promise<string> {
    const c = this.store.get(ref);
    if (!this.o.images.commitLayer) throw new NotImplemented("commit needs the engine's image service");
    const pause = o.pause !== false && c.State.Running && !c.State.Paused;
    if (pause) await this.pause(c.Id);
    try {
      const mounts = (await this.o.images.rootfsMounts(c.Id)) as SnapshotMount[];
      const upper = writableDir(mounts);
      const lowers = lowerDirs(mounts);
      // The empty files the runtime made as mountpoints for /etc/hosts, hostname and resolv.conf
      // (docker's init layer, which is never committed) stay out of the image.
      const mountpoint = (rel: string, st: { isFile(): boolean; size: bigint }): boolean => isInitMountpoint(rel, st, lowers);
      const k = c.Config as Record<string, unknown>;
      const base: Record<string, unknown> = {
        Env: k.Env, Cmd: k.Cmd, Entrypoint: k.Entrypoint, WorkingDir: k.WorkingDir, User: k.User, Labels: k.Labels,
        ExposedPorts: k.ExposedPorts, Volumes: k.Volumes, StopSignal: k.StopSignal, OnBuild: k.OnBuild,
      };
      // A build step gives the image's whole config (exactConfig); docker commit merges into the container's.
      const config = applyChanges(o.exactConfig ? { ...(o.config ?? {}) } : { ...base, ...(o.config ?? {}) }, o.changes ?? []);
      for (const key of Object.keys(config)) if (config[key] === undefined || config[key] === null || config[key] === "") delete config[key];
      const id = await this.o.images.commitLayer(c.Image, Readable.from(overlayDiff(upper, mountpoint)), {
        reference: o.reference, config, comment: o.comment, author: o.author, containerId: c.Id, createdBy: o.createdBy ?? ((c.Config.Cmd as string[] | null) ?? []).join(" "),
      });
      this.o.events.emit("container", "commit", c.Id, this.attrs(c));
      return id;
    } finally {
      if (pause) await this.unpause(c.Id).catch(() => {});
    }
  }

  /** A generated name no container has: as docker, a digit is added after a few collisions. */
  private freeName(): string {
    for (let i = 0; ; i++) {
      const n = generateName(i < 10 ? "" : String(i % 10));
      if (!this.store.all().some((c) => c.Name === `/${n}`)) return n;
    }
  }

  start(ref: string): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, () => this.startLocked(c.Id));
  }

  private async startLocked(id: string): Promise<void> {
    const c = this.store.get(id);
    if (c.State.Running) return;
    if (c.State.Status === "removing" || c.State.Dead) throw new Conflict(`cannot start container ${id}: it is being removed`);
    const run = this.runDir(id);
    mkdirSync(run, { recursive: true });
    const rootfs = this.rootfsDir(id);
    mkdirSync(rootfs, { recursive: true });
    const img = await this.o.images.inspect(c.Image);
    const imgCfg = (img.Config ?? {}) as Record<string, any>;
    let mounted = false;
    try {
      if (!isMountpoint(rootfs)) {
        await this.o.images.mountRootfs(await this.o.images.rootfsMounts(id), rootfs, { volatile: !!c.HostConfig.AutoRemove });
        mounted = true;
      }
      // As dockerd: a working directory the image lacks is made (root's, 0755) before the process
      // starts, resolved inside the root so that a symlink in the image cannot point it outside.
      const wd = (c.Config.WorkingDir as string | undefined) || (imgCfg.WorkingDir as string | undefined);
      if (wd && wd !== "/") mkdirSync(secureJoin(rootfs, wd), { recursive: true, mode: 0o755 });
      const host = c.HostConfig;
      // The container is made in its network namespace while its networks are attached (the CNI
      // plugins' run); /etc/hosts gets the address, written in place, before the process starts.
      const net = await this.setupNetwork(c);
      // A sysctl of an interface (net.ipv4.conf.eth0.*) needs the interface there when the runtime writes it.
      if (Object.keys(host.Sysctls ?? {}).some((k) => /^net\.ipv[46]\.(conf|neigh)\.eth\d+\./.test(k))) await net.address;
      const names = { hostname: c.Config.Hostname, domainname: c.Config.Domainname, extraHosts: host.ExtraHosts ?? [] };
      const files = await writeContainerFiles({
        dir: this.store.dir(id), ...names,
        dns: host.Dns?.length ? host.Dns : net.nameserver ? [net.nameserver] : [], dnsSearch: host.DnsSearch ?? [], dnsOptions: host.DnsOptions ?? [],
        hostNetwork: host.NetworkMode === "host",
      });
      const user = lookupUser(rootfs, c.Config.User || imgCfg.User, host.GroupAdd ?? []);
      const res = resourcesFromHostConfig(host);
      const fileMounts: Mount[] = [
        { destination: "/etc/resolv.conf", type: "bind", source: files.resolvConf, options: ["rbind", "rprivate"] },
        { destination: "/etc/hostname", type: "bind", source: files.hostname, options: ["rbind", "rprivate"] },
        { destination: "/etc/hosts", type: "bind", source: files.hosts, options: ["rbind", "rprivate"] },
      ];
      const spec = buildContainerSpec({
        id, config: { ...c.Config, Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd }, host: { ...host, ShmSize: res.shmSize ?? host.ShmSize },
        image: { Env: imgCfg.Env, Cmd: imgCfg.Cmd, Entrypoint: imgCfg.Entrypoint, WorkingDir: imgCfg.WorkingDir, User: imgCfg.User },
        rootfs, user, mounts: [...fileMounts, ...c.MountPoints.map(pointToMount)], resources: res.resources, rlimits: res.rlimits,
        cgroupsPath: this.o.runtime.cgroups.resolve(host.CgroupParent ? `${host.CgroupParent}/${id}` : undefined, id), initPath: this.o.initPath,
        netnsPath: net.netnsPath, joinPaths: this.joinPaths(host), devices: [...(host.Privileged ? privilegedDevices() : []), ...hostDevices(host.Devices)],
      });
      // The merged config (image Env etc.) is what inspect shows as Config.Env.
      c.Config.Env = spec.process!.env;
      const logCfg = (host.LogConfig?.Config ?? {}) as Record<string, string>;
      const { pid } = await this.o.runtime.create(id, {
        bundle: this.store.dir(id), spec, mode: "monitor", waitForStart: true, stdio: ["ignore", "ignore", "ignore"],
        exitFile: join(run, "exit"),
        io: {
          // --log-driver none: output goes to attached clients only.
          log: host.LogConfig?.Type === "none" ? undefined : { path: c.LogPath, maxSize: logCfg["max-size"] ? sizeOf(logCfg["max-size"]) : 0, maxFiles: logCfg["max-file"] ? Number(logCfg["max-file"]) : 1 },
          stdin: !!c.Config.OpenStdin, stdinOnce: !!c.Config.StdinOnce,
          attachSocket: join(run, "attach.sock"), controlSocket: join(run, "control.sock"), terminalRelay: !!c.Config.Tty,
        },
      }).catch((e) => { throw wrap(e, "failed to create container"); });
      const address = await net.address;
      if (address) writeFileSync(files.hosts, hostsFile({ ...names, address })); // in place: the bind mount holds this inode
      await this.watch(id);
      // Clients that attached before start (docker run does) get their connection now, while
      // the process still waits on its exec fifo, so not a byte of output is missed.
      await this.settleAttach(id, () => connectSocket(join(run, "attach.sock")).catch(() => undefined));
      await this.o.runtime.start(id);
      Object.assign(c.State, { Status: "running", Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: "", StartedAt: new Date().toISOString() });
      await this.store.save(c);
      this.o.events.emit("container", "start", id, this.attrs(c));
    } catch (e) {
      const err = e as ShimStepError;
      const code = err.execStatus ?? (err.step === "exec" ? 127 : 128);
      Object.assign(c.State, { Status: "exited" as const, Running: false, ExitCode: code, Error: (e as Error).message, Pid: 0, FinishedAt: new Date().toISOString() });
      await this.store.save(c).catch(() => {});
      try { await this.o.runtime.delete(id, true); } catch { /* never created */ }
      await this.teardownNetwork(id);
      if (mounted) await Promise.resolve(this.o.images.unmountRootfs(rootfs)).catch(() => {});
      await this.settleAttach(id, async () => undefined);
      this.notify(id, { StatusCode: code });
      // As dockerd: --rm removes a container whose start failed (docker run waits for that).
      if (c.HostConfig.AutoRemove) await this.removeLocked(id, { force: true, volumes: true }).catch(() => {});
      throw e;
    }
  }

  /** Connects to the shim's control socket; its close is the container's exit. */
  private watch(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = connectUnix(join(this.runDir(id), "control.sock"));
      sock.once("connect", () => { this.watchers.set(id, sock); resolve(); });
      sock.once("error", (e) => reject(e));
      sock.on("close", () => {
        if (this.watchers.get(id) !== sock) return;
        this.watchers.delete(id);
        void this.mutex.run(id, () => this.onExit(id)).catch((err) => this.log("error", `container ${id}: exit handling: ${(err as Error).message}`));
      });
      sock.resume();
    });
  }

  /** Hands each parked attach its connection (undefined: the container will not run). */
  private async settleAttach(id: string, connection: () => Promise<Socket | undefined>): Promise<void> {
    const waiting = this.pendingAttach.get(id) ?? [];
    this.pendingAttach.delete(id);
    for (const hand of waiting) hand(await connection());
  }

  /**
   * A connection to the container's attach socket (docker's framing without a tty). For a created
   * container it is made at start; undefined when the container ended without running.
   */
  attach(ref: string): Promise<Socket | undefined> {
    const c = this.store.get(ref);
    if (c.State.Running) return connectSocket(join(this.runDir(c.Id), "attach.sock"));
    if (c.State.Status !== "created" && c.State.Status !== "exited") throw new Conflict(`You cannot attach to a ${c.State.Status} container, start it first`);
    return new Promise((resolve) => {
      const list = this.pendingAttach.get(c.Id) ?? [];
      list.push(resolve);
      this.pendingAttach.set(c.Id, list);
    });
  }

  /** Sends a control command to the container's shim (resize, close-stdin). */
  control(id: string, line: string): Promise<string> {
    return controlCommand(join(this.runDir(id), "control.sock"), line);
  }

  private readExit(id: string): number {
    try {
      const st = Number(readFileSync(join(this.runDir(id), "exit"), "utf8").trim());
      if ((st & 0x7f) === 0) return (st >> 8) & 0xff;
      return 128 + (st & 0x7f);
    } catch {
      return 255;
    }
  }

  private async onExit(id: string): Promise<void> {
    let c: ContainerRecord;
    try { c = this.store.get(id); } catch { return; }
    if (!c.State.Running && c.State.Status !== "paused") return;
    const code = this.readExit(id);
    const restart = this.shouldRestart(c, code);
    let oom = false;
    try { oom = (await this.o.runtime.cgroupOf(id).oomKillCount()) > 0; } catch { /* cgroup gone */ }
    const network = this.teardownNetwork(id); // the CNI plugins' run, while the runtime cleans up
    try { await this.o.runtime.delete(id, true); } catch (e) { this.log("warn", `delete runtime state of ${id}: ${(e as Error).message}`); }
    await network;
    await Promise.resolve(this.o.images.unmountRootfs(this.rootfsDir(id))).catch(() => {});
    Object.assign(c.State, { Status: "exited" as const, Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: code, OOMKilled: oom, FinishedAt: new Date().toISOString() });
    // An auto-removed container is not saved as exited (two fsyncs) just before its record goes:
    // after a crash in between it is still "running" on disk, and recover() ends it the same way.
    const remove = !restart && !!c.HostConfig.AutoRemove;
    if (!remove) await this.store.save(c);
    if (oom) this.o.events.emit("container", "oom", id, this.attrs(c));
    this.o.events.emit("container", "die", id, this.attrs(c, { exitCode: String(code) }));
    this.notify(id, { StatusCode: code });
    if (restart) this.scheduleRestart(c);
    else if (remove) await this.removeLocked(id, { force: true, volumes: true });
  }

  private shouldRestart(c: ContainerRecord, code: number): boolean {
    const p = c.HostConfig.RestartPolicy as { Name?: string; MaximumRetryCount?: number } | undefined;
    if (!p?.Name || p.Name === "no" || c.ManuallyStopped) return false;
    if (p.Name === "always" || p.Name === "unless-stopped") return true;
    if (p.Name === "on-failure") return code !== 0 && (!p.MaximumRetryCount || c.RestartCount < p.MaximumRetryCount);
    return false;
  }

  private scheduleRestart(c: ContainerRecord): void {
    // docker's backoff: 100 ms doubling per restart, capped at a minute.
    const delay = Math.min(60_000, 100 * 2 ** Math.min(c.RestartCount, 10));
    c.State.Restarting = true;
    c.State.Status = "restarting";
    void this.store.save(c);
    const t = setTimeout(() => {
      this.restartTimers.delete(c.Id);
      void this.mutex.run(c.Id, async () => {
        const cur = this.store.get(c.Id);
        if (cur.ManuallyStopped || !cur.State.Restarting) return;
        cur.RestartCount++;
        cur.State.Restarting = false;
        this.o.events.emit("container", "restart", c.Id, this.attrs(cur));
        await this.startLocked(c.Id);
      }).catch((e) => this.log("error", `restart ${c.Id}: ${(e as Error).message}`));
    }, delay);
    t.unref();
    this.restartTimers.set(c.Id, t);
  }

  private notify(id: string, r: { StatusCode: number }, removed = false): void {
    for (const w of this.waiters.get(id) ?? []) {
      if (w.condition === "removed" && !removed) continue;
      w.resolve(r);
      this.waiters.get(id)!.delete(w);
    }
  }

  // ---- stop, kill, wait ------------------------------------------------------------------

  wait(ref: string, condition: "not-running" | "next-exit" | "removed" = "not-running", signal?: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } }> {
    const c = this.store.get(ref);
    if (condition === "not-running" && !c.State.Running && !c.State.Restarting) return Promise.resolve({ StatusCode: c.State.ExitCode });
    return new Promise((resolve, reject) => {
      const w: Waiter = { condition, resolve };
      let set = this.waiters.get(c.Id);
      if (!set) this.waiters.set(c.Id, (set = new Set()));
      set.add(w);
      signal?.addEventListener("abort", () => { set!.delete(w); reject(new FailedPrecondition("wait cancelled")); });
    });
  }

  kill(ref: string, sig?: string | number): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      const cur = this.store.get(c.Id);
      if (!cur.State.Running) throw new Conflict(`Cannot kill container: ${ref}: Container ${c.Id} is not running`);
      const s = parseSignal(sig, "SIGKILL");
      if (s === "SIGKILL" || s === 9) cur.ManuallyStopped = true;
      await this.o.runtime.kill(c.Id, s, s === "SIGKILL" || s === 9);
    });
  }

  async stop(ref: string, opts: { signal?: string; timeout?: number } = {}): Promise<boolean> {
    const c = this.store.get(ref);
    const t = this.restartTimers.get(c.Id);
    if (t) { clearTimeout(t); this.restartTimers.delete(c.Id); }
    if (!c.State.Running) {
      if (c.State.Restarting) { c.State.Restarting = false; c.State.Status = "exited"; c.ManuallyStopped = true; await this.store.save(c); }
      return false;
    }
    c.ManuallyStopped = true;
    await this.store.save(c);
    const exited = this.wait(c.Id, "next-exit");
    const sig = parseSignal(opts.signal || (c.Config.StopSignal as string | undefined), "SIGTERM");
    const timeout = opts.timeout ?? (c.Config.StopTimeout as number | undefined) ?? 10;
    if (c.State.Paused) await this.o.runtime.resume(c.Id).catch(() => {});
    try { await this.o.runtime.kill(c.Id, sig); } catch { /* already gone */ }
    const timedOut = timeout >= 0 ? await Promise.race([exited.then(() => false), sleep(timeout * 1000).then(() => true)]) : await exited.then(() => false);
    if (timedOut) {
      try { await this.o.runtime.kill(c.Id, "SIGKILL", true); } catch { /* gone meanwhile */ }
      await exited;
    }
    this.o.events.emit("container", "stop", c.Id, this.attrs(c));
    return true;
  }

  async restart(ref: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    const c = this.store.get(ref);
    await this.stop(c.Id, opts);
    c.ManuallyStopped = false;
    await this.start(c.Id);
    this.o.events.emit("container", "restart", c.Id, this.attrs(c));
  }

  pause(ref: string): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      if (!c.State.Running) throw new Conflict(`Container ${c.Id} is not running`);
      if (c.State.Paused) throw new Conflict(`Container ${c.Id} is already paused`);
      await this.o.runtime.pause(c.Id);
      Object.assign(c.State, { Paused: true, Status: "paused" });
      await this.store.save(c);
      this.o.events.emit("container", "pause", c.Id, this.attrs(c));
    });
  }

  unpause(ref: string): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, async () => {
      if (!c.State.Paused) throw new Conflict(`Container ${c.Id} is not paused`);
      await this.o.runtime.resume(c.Id);
      Object.assign(c.State, { Paused: false, Status: "running" });
      await this.store.save(c);
      this.o.events.emit("container", "unpause", c.Id, this.attrs(c));
    });
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.store.get(ref);
    const n = validateName(newName);
    this.store.checkName(n, c.Id);
    const old = c.Name;
    c.Name = n;
    await this.store.save(c);
    this.o.events.emit("container", "rename", c.Id, this.attrs(c, { oldName: old }));
  }

  // ---- remove ----------------------------------------------------------------------------

  remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const c = this.store.get(ref);
    return this.mutex.run(c.Id, () => this.removeLocked(c.Id, opts));
  }

  private async removeLocked(id: string, opts: { force?: boolean; volumes?: boolean }): Promise<void> {
    if (!this.store.has(id)) return;
    const c = this.store.get(id);
    if ((c.State.Running || c.State.Restarting) && !opts.force) {
      throw new Conflict(`You cannot remove a ${c.State.Paused ? "paused" : "running"} container ${id}. ${c.State.Paused ? "Unpause and then stop" : "Stop"} the container before attempting removal or force remove`);
    }
    const t = this.restartTimers.get(id);
    if (t) { clearTimeout(t); this.restartTimers.delete(id); }
    c.ManuallyStopped = true;
    if (c.State.Running) {
      const w = this.watchers.get(id);
      this.watchers.delete(id);
      w?.destroy();
      try { await this.o.runtime.delete(id, true); } catch { /* gone */ }
    }
    c.State.Status = "removing";
    try { await this.o.runtime.delete(id, true); } catch { /* never started or already deleted */ }
    await this.teardownNetwork(id);
    await Promise.resolve(this.o.images.unmountRootfs(this.rootfsDir(id))).catch(() => {});
    await this.o.images.removeRootfs(id).catch((e) => this.log("warn", `remove rootfs of ${id}: ${(e as Error).message}`));
    if (opts.volumes) {
      for (const m of c.MountPoints) {
        if (m.Type !== "volume" || !m.Name) continue;
        const v = (() => { try { return this.o.volumes.inspect(m.Name!); } catch { return undefined; } })();
        if (v && "com.docker.volume.anonymous" in v.Labels) await this.o.volumes.remove(m.Name, { inUse: (n) => this.volumeUsers(n, id) }).catch(() => {});
      }
    }
    await this.settleAttach(id, async () => undefined);
    await this.store.remove(id);
    const { rm } = await import("node:fs/promises");
    await rm(this.runDir(id), { recursive: true, force: true });
    this.o.events.emit("container", "destroy", id, this.attrs(c));
    this.notify(id, { StatusCode: c.State.ExitCode }, true);
  }

  volumeUsers(name: string, except?: string): string[] {
    return this.store.all().filter((c) => c.Id !== except && c.MountPoints.some((m) => m.Name === name)).map((c) => c.Id);
  }

  // ---- recovery after a daemon restart ------------------------------------------------------

  async recover(): Promise<void> {
    for (const c of await this.store.load()) {
      if (!c.State.Running && c.State.Status !== "paused" && !c.State.Restarting) continue;
      let alive = false;
      try { alive = this.o.runtime.state(c.Id).status !== "stopped"; } catch { alive = false; }
      if (alive && existsSync(join(this.runDir(c.Id), "control.sock"))) {
        try {
          await this.watch(c.Id);
          continue;
        } catch { /* the shim is exiting right now */ }
      }
      c.State.Running = true;
      await this.mutex.run(c.Id, () => this.onExit(c.Id));
    }
    // Sandboxes whose container no longer runs (it died, or was removed, while berthd was down).
    for (const id of this.o.network.sandboxIds()) {
      if (!this.store.has(id) || !this.store.get(id).State.Running) await this.teardownNetwork(id);
    }
  }
}


const LINKS_UNSUPPORTED = "container links (--link) are not supported by berth: put the containers on a user network, where they resolve each other by name and alias";

/** Endpoint settings berth's networks do not have are refused, not ignored. */
function checkEndpointSupport(ep: EndpointConfig): void {
  if (ep.Links?.length) throw new InvalidArgument(LINKS_UNSUPPORTED);
  if (ep.IPAMConfig?.IPv6Address) throw new InvalidArgument("IPv6 addresses are not supported by berth's networks (IPv4 only)");
  if (ep.IPAMConfig?.LinkLocalIPs?.length) throw new InvalidArgument("link-local addresses on an endpoint are not supported by berth");
  if (ep.DriverOpts && Object.keys(ep.DriverOpts).length) throw new InvalidArgument("driver options on an endpoint are not supported by berth");
}

function pointToMount(p: ContainerRecord["MountPoints"][number]): Mount {
  if (p.Type === "tmpfs") return { destination: p.Destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", ...p.Mode.split(",").filter(Boolean), ...(p.RW ? [] : ["ro"])] };
  return { destination: p.Destination, type: "bind", source: p.Source, options: ["rbind", p.RW ? "rw" : "ro", p.Propagation || "rprivate"] };
}

function isMountpoint(dir: string): boolean {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === dir);
  } catch {
    return false;
  }
}

function sizeOf(s: string): number {
  const m = /^(\d+)([kmg])?$/i.exec(s.trim());
  if (!m) throw new InvalidArgument(`invalid log max-size: ${s}`);
  return Number(m[1]) * ({ k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase() as "k"] ?? 1);
}

/** The HostConfig fields `docker update` may change. */
const UPDATABLE = ["Memory", "MemorySwap", "MemoryReservation", "KernelMemory", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
  "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "BlkioWeightDevice",
  "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "OomKillDisable", "MemorySwappiness"];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const ADJ = ["admiring", "bold", "brave", "calm", "clever", "eager", "focused", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "quirky", "serene", "sharp", "vivid", "witty", "zen"];
const NOUN = ["babbage", "curie", "darwin", "einstein", "fermi", "galileo", "hopper", "kepler", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "tesla", "thompson", "torvalds", "turing", "wozniak"];

function generateName(suffix = ""): string {
  const b = randomBytes(2);
  return `${ADJ[b[0]! % ADJ.length]}_${NOUN[b[1]! % NOUN.length]}${suffix}`;
}
