/**
 * Container state on disk, one directory per container under the runtime root
 * (runc's --root, default /run/berth-runc):
 *   <root>/<id>/state.json   written atomically (src/fsutil.ts)
 *   <root>/<id>/exec.fifo    exists while the process waits for `start`
 *   <root>/<id>/config.json  the spec the container was created from (hooks, cgroups, exec)
 * The status is derived, not stored: a process that is gone (or a zombie) is stopped; one that
 * still waits on its fifo is created; a frozen cgroup means paused.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { AlreadyExists, InvalidArgument, NotFound } from "../errdefs.js";
import { writeFileVolatile } from "../fsutil.js";
import type { Spec, State } from "./spec.js";

export interface SavedState {
  version: 1;
  id: string;
  pid: number;
  /** /proc/<pid>/stat start time, so a recycled pid is not taken for the container. */
  startTime: number;
  bundle: string;
  rootfs: string;
  created: string;
  cgroupPath: string;
  annotations?: Record<string, string>;
  /** The container has a user namespace: exec joins it first. */
  namespaces: string[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,1023}$/;

export function validateId(id: string | undefined): string {
  if (!id) throw new InvalidArgument("container id cannot be empty");
  if (!ID_RE.test(id)) throw new InvalidArgument(`invalid container id "${id}": use letters, digits, '_', '.', '-'`);
  return id;
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, validateId(id));
  }

  async reserve(id: string): Promise<string> {
    const d = this.dir(id);
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    try {
      await mkdir(d, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new AlreadyExists(`container "${id}" already exists`);
      throw e;
    }
    return d;
  }

  async save(s: SavedState, spec?: Spec): Promise<void> {
    // Runtime state lives under the exec root, gone at reboot like the processes it describes.
    if (spec) {
      writeFileVolatile(join(this.dir(s.id), "config.json"), JSON.stringify(spec));
      this.specs.set(s.id, spec);
    }
    writeFileVolatile(join(this.dir(s.id), "state.json"), JSON.stringify(s));
  }

  load(id: string): SavedState {
    const p = join(this.dir(id), "state.json");
    try {
      return JSON.parse(readFileSync(p, "utf8")) as SavedState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFound(`container "${id}" does not exist`);
      throw e;
    }
  }

  /** Specs this process saved, so start need not read them back. */
  private readonly specs = new Map<string, Spec>();

  async spec(id: string): Promise<Spec> {
    const known = this.specs.get(id);
    if (known) return known;
    return JSON.parse(await readFile(join(this.dir(id), "config.json"), "utf8")) as Spec;
  }

  fifo(id: string): string {
    return join(this.dir(id), "exec.fifo");
  }

  list(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root).filter((n) => existsSync(join(this.root, n, "state.json"))).sort();
  }

  async remove(id: string): Promise<void> {
    this.specs.delete(id);
    await rm(this.dir(id), { recursive: true, force: true });
  }
}

/** Field 22 of /proc/<pid>/stat, or undefined when the process is gone or a zombie. */
export function procStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (rest[0] === "Z" || rest[0] === "X") return undefined;
  return Number(rest[19]);
}

export function isAlive(s: SavedState): boolean {
  return s.pid > 0 && procStartTime(s.pid) === s.startTime;
}

export function ociState(s: SavedState, status: State["status"]): State {
  const out: State = { ociVersion: "1.2.0", id: s.id, status, bundle: s.bundle };
  if (status !== "stopped") out.pid = s.pid;
  else out.pid = 0;
  if (s.annotations) out.annotations = s.annotations;
  return out;
}
