/**
 * `docker exec`: a process started in a running container's namespaces and cgroup by a
 * monitor-mode shim that owns its stdio, like the container's own. The API attaches to the
 * exec's socket between clone and start, so not a byte of output is missed.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { connectSocket, connectUnix } from "../unix-socket.js";
import { join } from "node:path";
import { Conflict, InvalidArgument, NotFound } from "../errdefs.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Process } from "../runtime/spec.js";
import { ALL_CAPS } from "../runtime/capabilities.js";
import type { ContainerRunner } from "./container-runner.js";
import { mergeEnv } from "./container-spec.js";
import { lookupUser } from "./user-lookup.js";
import { wrap } from "../errdefs.js";
import { ShimStepError } from "../runtime/shim.js";

export interface ExecConfig {
  Cmd: string[];
  Env?: string[] | null;
  User?: string;
  WorkingDir?: string;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Privileged?: boolean;
  DetachKeys?: string;
  ConsoleSize?: [number, number] | null;
}

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Config: ExecConfig;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  started: boolean;
  /** Resolves when the process has ended (ExitCode set). */
  ended: Promise<void>;
  markEnded: () => void;
}

export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly runner: ContainerRunner, private readonly runtime: Runtime) {}

  create(containerRef: string, cfg: ExecConfig): { Id: string } {
    const c = this.runner.store.get(containerRef);
    if (!c.State.Running) throw new Conflict(`container ${c.Id} is not running`);
    if (c.State.Paused) throw new Conflict(`container ${c.Id} is paused, unpause the container before exec`);
    if (!Array.isArray(cfg.Cmd) || cfg.Cmd.length === 0) throw new InvalidArgument("No exec command specified");
    // Records of removed containers' execs go now (an ended exec stays inspectable while its container exists).
    for (const e of this.execs.values()) if (!this.runner.store.has(e.ContainerID)) this.execs.delete(e.ID);
    const id = randomBytes(32).toString("hex");
    let markEnded!: () => void;
    const ended = new Promise<void>((r) => { markEnded = r; });
    this.execs.set(id, { ID: id, ContainerID: c.Id, Config: cfg, Running: false, ExitCode: null, Pid: 0, started: false, ended, markEnded });
    return { Id: id };
  }

  /** Resolves when the exec's process has ended. */
  ended(id: string): Promise<void> {
    return this.get(id).ended;
  }

  /** Drops an exec's record (one berthd made for itself: a health probe). */
  forget(id: string): void {
    this.execs.delete(id);
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new NotFound(`No such exec instance: ${id}`);
    return e;
  }

  /** The container's execs not yet ended (docker's ExecIDs: an ended exec stays inspectable by id, not listed). */
  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.ContainerID === containerId && e.ExitCode === null).map((e) => e.ID);
  }

  private dir(e: ExecRecord): string {
    return join(this.runner.runDir(e.ContainerID), `exec-${e.ID.slice(0, 12)}`);
  }

  /** Starts the exec; returns a socket carrying its output (multiplexed unless Tty) and taking stdin. */
  async start(id: string, opts: { detach?: boolean; tty?: boolean } = {}): Promise<Socket | undefined> {
    const e = this.get(id);
    if (e.started) throw new Conflict(`Error: Exec command ${id} has already run`);
    const c = this.runner.store.get(e.ContainerID);
    if (!c.State.Running) throw new Conflict(`container ${c.Id} is not running`);
    e.started = true;
    const spec = await this.runtime.store.spec(c.Id);
    const base = spec.process!;
    const cfg = e.Config;
    const tty = opts.tty ?? cfg.Tty ?? false;
    const user = cfg.User ? lookupUser(this.runner.rootfsDir(c.Id), cfg.User) : undefined;
    const caps = cfg.Privileged ? [...ALL_CAPS] : base.capabilities?.bounding ?? [];
    const proc: Process = {
      ...base,
      terminal: tty,
      args: cfg.Cmd,
      env: mergeEnv(base.env, cfg.Env, []),
      cwd: cfg.WorkingDir || base.cwd,
      user: user ? { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids } : base.user,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      ...(cfg.ConsoleSize ? { consoleSize: { height: cfg.ConsoleSize[0], width: cfg.ConsoleSize[1] } } : {}),
    };
    const dir = this.dir(e);
    mkdirSync(dir, { recursive: true });
    let attached: Socket | undefined;
    const res = await this.runtime.exec(c.Id, proc, {
      mode: "monitor", detach: true, stdio: ["ignore", "ignore", "ignore"], exitFile: join(dir, "exit"),
      io: { stdin: !!cfg.AttachStdin && !opts.detach, stdinOnce: true, attachSocket: join(dir, "attach.sock"), controlSocket: join(dir, "control.sock"), terminalRelay: tty },
      onPid: async () => {
        if (!opts.detach) attached = await connectSocket(join(dir, "attach.sock"));
      },
    }).catch((err) => {
      e.Running = false;
      void rm(dir, { recursive: true, force: true });
      e.ExitCode = (err instanceof ShimStepError ? err.execStatus : undefined) ?? 126;
      e.markEnded();
      throw wrap(err, "OCI runtime exec failed");
    });
    e.Running = true;
    e.Pid = res.pid;
    res.shim.unref();
    // The shim closes its control socket when the process has ended and its output is drained. A
    // short process may be gone before we connect (the socket is then gone too): that is its end.
    const finish = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) {
        try {
          const st = Number(readFileSync(join(dir, "exit"), "utf8").trim());
          e.ExitCode = (st & 0x7f) === 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
          break;
        } catch {
          e.ExitCode = e.ExitCode ?? 126;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      e.Running = false;
      e.markEnded();
      void rm(dir, { recursive: true, force: true });
    };
    const watch = await connectSocket(join(dir, "control.sock")).catch(() => undefined);
    if (!watch) void finish();
    else {
      watch.resume();
      watch.on("close", () => void finish());
    }
    return attached;
  }

  async resize(id: string, h: number, w: number): Promise<void> {
    const e = this.get(id);
    const sock = join(this.dir(e), "control.sock");
    if (!existsSync(sock)) throw new Conflict(`exec ${id} is not running`);
    await controlCommand(sock, `resize ${h} ${w}`);
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.get(id);
    return {
      ID: e.ID, Running: e.Running, ExitCode: e.ExitCode, ProcessConfig: { tty: !!e.Config.Tty, entrypoint: e.Config.Cmd[0], arguments: e.Config.Cmd.slice(1), privileged: !!e.Config.Privileged, user: e.Config.User ?? "" },
      OpenStdin: !!e.Config.AttachStdin, OpenStderr: !!e.Config.AttachStderr, OpenStdout: !!e.Config.AttachStdout, CanRemove: false,
      ContainerID: e.ContainerID, DetachKeys: e.Config.DetachKeys ?? "", Pid: e.Pid,
    };
  }
}

export function controlCommand(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connectUnix(path);
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      if (!buf.includes("\n")) return;
      sock.end();
      if (buf.startsWith("ok")) resolve(buf.trim());
      else reject(new Conflict(buf.trim().replace(/^error /, "")));
    });
    sock.on("error", reject);
    sock.write(`${line}\n`);
  });
}
