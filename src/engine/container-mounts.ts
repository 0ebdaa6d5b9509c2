/**
 * docker's Binds, Mounts and Tmpfs, and the image's VOLUMEs, resolved into OCI mounts and the
 * MountPoints docker's inspect shows. Named volumes are created on first use; a new, empty volume
 * gets a copy of what the image has at its destination (docker's copy-up).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { isAbsolute, posix } from "node:path";
import { InvalidArgument } from "../errdefs.js";
import type { Mount } from "../runtime/spec.js";
import type { MountPoint } from "./container-store.js";
import { secureJoin } from "../secure-join.js";
import type { VolumeStore } from "./volumes.js";

export interface MountRequest {
  Binds?: string[] | null;
  Mounts?: { Type?: string; Source?: string; Target?: string; ReadOnly?: boolean; BindOptions?: { Propagation?: string }; TmpfsOptions?: { SizeBytes?: number; Mode?: number }; VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> } }[] | null;
  Tmpfs?: Record<string, string> | null;
  /** Image config Volumes: {"/data": {}} */
  ImageVolumes?: Record<string, unknown> | null;
}

const PROPAGATIONS = new Set(["private", "rprivate", "shared", "rshared", "slave", "rslave"]);

function cleanDest(d: string | undefined, what: string): string {
  if (!d || !isAbsolute(d)) throw new InvalidArgument(`invalid mount config for type "${what}": invalid mount path: '${d ?? ""}' mount path must be absolute`);
  return posix.normalize(d).replace(/(.)\/$/, "$1");
}

/** Parses "src:dst[:opts]" (docker -v). */
export function parseBind(spec: string): { source: string; destination: string; ro: boolean; propagation: string; volume: boolean } {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3) throw new InvalidArgument(`invalid volume specification: '${spec}'`);
  const [source, dst, opts = ""] = parts as [string, string, string?];
  if (!source) throw new InvalidArgument(`invalid volume specification: '${spec}'`);
  let ro = false;
  let propagation = "rprivate";
  for (const o of opts.split(",").filter(Boolean)) {
    if (o === "ro") ro = true;
    else if (o === "rw" || o === "z" || o === "Z" || o === "nocopy" || o === "consistent" || o === "cached" || o === "delegated") continue;
    else if (PROPAGATIONS.has(o)) propagation = o;
    else throw new InvalidArgument(`invalid mode: ${o}`);
  }
  return { source, destination: cleanDest(dst, "bind"), ro, propagation, volume: !isAbsolute(source) };
}

export interface ResolvedMounts {
  mounts: Mount[];
  points: MountPoint[];
}

function bindMount(source: string, destination: string, ro: boolean, propagation: string): Mount {
  return { destination, type: "bind", source, options: ["rbind", ro ? "ro" : "rw", propagation] };
}

async function copyUp(rootfs: string | undefined, dest: string, volumeDir: string): Promise<void> {
  if (!rootfs) return;
  const src = secureJoin(rootfs, dest);
  if (!existsSync(src) || !statSync(src).isDirectory()) return;
  if (readdirSync(volumeDir).length > 0) return;
  if (readdirSync(src).length === 0) return;
  // cp -a keeps owners, modes, xattrs and links, as docker's copy-up does.
  execFileSync("cp", ["-a", "--", `${src}/.`, volumeDir]);
}

export async function resolveMounts(req: MountRequest, volumes: VolumeStore, rootfs?: string): Promise<ResolvedMounts> {
  const out: ResolvedMounts = { mounts: [], points: [] };
  const taken = new Set<string>();
  const claim = (d: string): void => {
    if (taken.has(d)) throw new InvalidArgument(`Duplicate mount point: ${d}`);
    taken.add(d);
  };
  const useVolume = async (name: string | undefined, dest: string, ro: boolean, noCopy: boolean, labels?: Record<string, string>): Promise<void> => {
    const existed = name ? volumes.list().some((v) => v.Name === name) : false;
    const v = await volumes.create(name, { labels });
    if (!existed && !noCopy) await copyUp(rootfs, dest, v.Mountpoint);
    out.mounts.push(bindMount(v.Mountpoint, dest, ro, "rprivate"));
    out.points.push({ Type: "volume", Name: v.Name, Source: v.Mountpoint, Destination: dest, Driver: "local", Mode: ro ? "ro" : "z", RW: !ro, Propagation: "" });
  };
  for (const b of req.Binds ?? []) {
    const p = parseBind(b);
    claim(p.destination);
    if (p.volume) {
      await useVolume(p.source, p.destination, p.ro, b.includes("nocopy"));
      continue;
    }
    // docker creates a missing bind source directory for -v (not for --mount).
    if (!existsSync(p.source)) execFileSync("mkdir", ["-p", p.source]);
    out.mounts.push(bindMount(p.source, p.destination, p.ro, p.propagation));
    out.points.push({ Type: "bind", Source: p.source, Destination: p.destination, Mode: p.ro ? "ro" : "", RW: !p.ro, Propagation: p.propagation });
  }
  for (const m of req.Mounts ?? []) {
    const type = m.Type ?? "volume";
    const dest = cleanDest(m.Target, type);
    claim(dest);
    if (type === "bind") {
      if (!m.Source || !isAbsolute(m.Source)) throw new InvalidArgument(`invalid mount config for type "bind": invalid mount path: '${m.Source ?? ""}' mount path must be absolute`);
      if (!existsSync(m.Source)) throw new InvalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      const prop = m.BindOptions?.Propagation || "rprivate";
      out.mounts.push(bindMount(m.Source, dest, m.ReadOnly === true, prop));
      out.points.push({ Type: "bind", Source: m.Source, Destination: dest, Mode: "", RW: !m.ReadOnly, Propagation: prop });
    } else if (type === "volume") {
      await useVolume(m.Source || undefined, dest, m.ReadOnly === true, m.VolumeOptions?.NoCopy === true, m.VolumeOptions?.Labels);
    } else if (type === "tmpfs") {
      const own: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) own.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) own.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      out.mounts.push({ destination: dest, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", ...own, ...(m.ReadOnly ? ["ro"] : [])] });
      // Mode keeps the options: the mount is made again from the record at every start.
      out.points.push({ Type: "tmpfs", Source: "", Destination: dest, Mode: own.join(","), RW: !m.ReadOnly, Propagation: "" });
    } else {
      throw new InvalidArgument(`mount type "${type}" is not supported`);
    }
  }
  for (const [dest0, o] of Object.entries(req.Tmpfs ?? {})) {
    const dest = cleanDest(dest0, "tmpfs");
    claim(dest);
    const opts = ["nosuid", "nodev", "noexec", ...o.split(",").filter(Boolean)];
    out.mounts.push({ destination: dest, type: "tmpfs", source: "tmpfs", options: opts });
    out.points.push({ Type: "tmpfs", Source: "", Destination: dest, Mode: o, RW: !o.split(",").includes("ro"), Propagation: "" });
  }
  for (const dest0 of Object.keys(req.ImageVolumes ?? {})) {
    const dest = posix.normalize(dest0);
    if (taken.has(dest)) continue;
    taken.add(dest);
    await useVolume(undefined, dest, false, false);
  }
  return out;
}
