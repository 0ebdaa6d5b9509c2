/**
 * The engine's container records: <data-root>/containers/<id>/container.json, written atomically
 * (temp file, fsync, rename, fsync dir), so a kill -9 of berthd at any moment leaves a record the
 * next berthd can load. The record holds docker's Config and HostConfig as the client sent them,
 * plus the state docker's inspect shows.
 */
import type { HealthState } from "./health.js";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, InvalidArgument, NotFound } from "../errdefs.js";
import { writeFileAtomic } from "../fsutil.js";

export type ContainerStatus = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Set while a container with a health check runs (and kept after it stops), see health.ts. */
  Health?: HealthState;
}

export interface MountPoint {
  Type: "bind" | "volume" | "tmpfs";
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface ContainerRecord {
  version: 1;
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  /** The image ID (config digest) and the name the user gave. */
  Image: string;
  ImageName: string;
  Config: Record<string, any>;
  HostConfig: Record<string, any>;
  State: ContainerState;
  RestartCount: number;
  /** The user stopped it: unless-stopped must not bring it back after a daemon restart. */
  ManuallyStopped: boolean;
  MountPoints: MountPoint[];
  LogPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** docker's NetworkingConfig.EndpointsConfig: per network, aliases and a requested address. */
  EndpointsConfig?: Record<string, EndpointConfig>;
}

export interface EndpointConfig {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  MacAddress?: string;
  Links?: string[] | null;
  DriverOpts?: Record<string, string> | null;
}

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ZERO_TIME = "0001-01-01T00:00:00Z";

export function initialState(): ContainerState {
  return { Status: "created", Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: "", StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME };
}

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) throw new InvalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith("/") ? name : `/${name}`;
}

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();

  constructor(readonly root: string) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  async load(): Promise<ContainerRecord[]> {
    await mkdir(this.root, { recursive: true });
    for (const id of readdirSync(this.root)) {
      const p = join(this.root, id, "container.json");
      if (!existsSync(p)) continue;
      try {
        this.byId.set(id, JSON.parse(readFileSync(p, "utf8")) as ContainerRecord);
      } catch { /* a torn record cannot happen (atomic writes); anything else is skipped */ }
    }
    return [...this.byId.values()];
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** By full id, unique id prefix, or name (with or without the leading slash). */
  get(ref: string): ContainerRecord {
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const name = ref.startsWith("/") ? ref : `/${ref}`;
    for (const c of this.byId.values()) if (c.Name === name) return c;
    const matches = ref.length > 0 ? [...this.byId.values()].filter((c) => c.Id.startsWith(ref)) : [];
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw new InvalidArgument(`multiple IDs found with provided prefix: ${ref}`);
    throw new NotFound(`No such container: ${ref}`);
  }

  has(ref: string): boolean {
    try { this.get(ref); return true; } catch { return false; }
  }

  checkName(name: string, exceptId?: string): void {
    for (const c of this.byId.values()) {
      if (c.Name === name && c.Id !== exceptId) {
        throw new Conflict(`Conflict. The container name "${name}" is already in use by container "${c.Id}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    }
  }

  async save(c: ContainerRecord): Promise<void> {
    this.byId.set(c.Id, c);
    await writeFileAtomic(join(this.dir(c.Id), "container.json"), JSON.stringify(c));
  }

  async remove(id: string): Promise<void> {
    this.byId.delete(id);
    await rm(this.dir(id), { recursive: true, force: true });
  }
}
