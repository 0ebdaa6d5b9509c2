/**
 * What a container changed, read from its writable layer (the overlay upper directory): docker's
 * `diff` (changes), `commit` (those changes as a new layer with the container's config, plus
 * --change instructions), and `export` (the merged root filesystem as one tar).
 */
import { existsSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgument } from "../errdefs.js";
import { writeTar } from "../snapshot/index.js";
import { walkEntries } from "./archive.js";

export interface Change { Path: string; Kind: 0 | 1 | 2 }

async function existsIn(dirs: string[], rel: string): Promise<boolean> {
  for (const d of dirs) {
    try { await lstat(join(d, rel)); return true; } catch { /* not in this layer */ }
  }
  return false;
}

/** Files the runtime creates, empty, as mountpoints for its bind mounts: docker keeps them in an
 * init layer that `diff` does not show and `commit` never takes. */
const INIT_FILES = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/** True for such a mountpoint file: one of INIT_FILES (relative path), empty, and in no lower layer. */
export function isInitMountpoint(rel: string, st: { isFile(): boolean; size: number | bigint }, lowers: string[]): boolean {
  return INIT_FILES.includes(rel.replace(/^\//, "")) && st.isFile() && Number(st.size) === 0 && !lowers.some((l) => existsSync(join(l, rel)));
}

/**
 * docker's changes: 0 modified, 1 added, 2 deleted. An overlay whiteout (a 0:0 character device)
 * is a deletion; anything else in the upper directory is added, or modified when a lower layer has
 * the path. The runtime's mountpoint files are left out, and so is a directory copied up only to
 * hold them (its owner and mode as below).
 */
export async function changes(upper: string, lowers: string[]): Promise<Change[]> {
  const out: Change[] = [];
  /** Walks a directory of the upper layer; true when it held a mountpoint file left out. */
  const walk = async (rel: string): Promise<boolean> => {
    let skipped = false;
    for (const name of (await readdir(join(upper, rel))).sort()) {
      const r = `${rel}/${name}`;
      const st = await lstat(join(upper, r));
      if (st.isCharacterDevice() && st.rdev === 0) { out.push({ Path: r, Kind: 2 }); continue; }
      if (isInitMountpoint(r, st, lowers)) { skipped = true; continue; }
      const inLower = await existsIn(lowers, r);
      const at = out.push({ Path: r, Kind: inLower ? 0 : 1 });
      if (!st.isDirectory()) continue;
      const heldMountpoints = await walk(r);
      // Copied up only to hold mountpoint files, and unchanged itself: not a change.
      if (inLower && heldMountpoints && out.length === at && (await sameOwnerAndMode(st, lowers, r))) {
        out.pop();
        skipped = true;
      }
    }
    return skipped;
  };
  await walk("");
  return out;
}

async function sameOwnerAndMode(st: { mode: number; uid: number; gid: number }, lowers: string[], rel: string): Promise<boolean> {
  for (const d of lowers) {
    try {
      const l = await lstat(join(d, rel));
      return l.mode === st.mode && l.uid === st.uid && l.gid === st.gid;
    } catch { /* not in this layer */ }
  }
  return false;
}

/** The lower directories of an overlay mount's options (top first). */
export function lowerDirs(mounts: { type: string; options: string[] }[]): string[] {
  const o = mounts[0]?.options.find((x) => x.startsWith("lowerdir="));
  return o ? o.slice("lowerdir=".length).split(":") : [];
}

/** A tar of a whole root filesystem, entries named relative to it (docker export's layout). */
export async function* exportTar(rootfs: string): AsyncGenerator<Buffer> {
  async function* entries() {
    for (const name of (await readdir(rootfs)).sort()) yield* walkEntries(join(rootfs, name), name);
  }
  yield* writeTar(entries());
}

const JSON_FORM = /^\s*\[/;

/** Dockerfile instructions `commit --change` accepts, applied to an image config. */
export function applyChanges(config: Record<string, any>, changes: string[]): Record<string, any> {
  const c = { ...config };
  const list = (v: string): string[] => {
    if (JSON_FORM.test(v)) {
      try { return JSON.parse(v) as string[]; } catch { throw new InvalidArgument(`invalid JSON in change: ${v}`); }
    }
    return ["/bin/sh", "-c", v];
  };
  const kv = (v: string): [string, string][] => {
    if (!v.includes("=")) { const [k, ...rest] = v.trim().split(/\s+/); return [[k!, rest.join(" ")]]; }
    return (v.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((p) => { const i = p.indexOf("="); return [p.slice(0, i), p.slice(i + 1).replace(/^"(.*)"$/, "$1")]; });
  };
  for (const line of changes) {
    const m = /^\s*(\w+)\s+(.*)$/s.exec(line);
    if (!m) throw new InvalidArgument(`invalid change: "${line}"`);
    const v = m[2]!.trim();
    switch (m[1]!.toUpperCase()) {
      case "CMD": c.Cmd = list(v); break;
      case "ENTRYPOINT": c.Entrypoint = list(v); break;
      case "WORKDIR": c.WorkingDir = v; break;
      case "USER": c.User = v; break;
      case "STOPSIGNAL": c.StopSignal = v; break;
      case "ENV": {
        const env = [...(c.Env ?? [])] as string[];
        for (const [k, val] of kv(v)) { const i = env.findIndex((e) => e.startsWith(`${k}=`)); if (i >= 0) env[i] = `${k}=${val}`; else env.push(`${k}=${val}`); }
        c.Env = env;
        break;
      }
      case "LABEL": c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(kv(v)) }; break;
      case "EXPOSE": c.ExposedPorts = { ...(c.ExposedPorts ?? {}), ...Object.fromEntries(v.split(/\s+/).map((p) => [p.includes("/") ? p : `${p}/tcp`, {}])) }; break;
      case "VOLUME": c.Volumes = { ...(c.Volumes ?? {}), ...Object.fromEntries((JSON_FORM.test(v) ? JSON.parse(v) as string[] : v.split(/\s+/)).map((p) => [p, {}])) }; break;
      default: throw new InvalidArgument(`${m[1]} is not a valid change command`);
    }
  }
  return c;
}
