/**
 * OCI `linux.cgroupsPath` resolution (runtime-spec config-linux.md, "Cgroups
 * path"): an absolute path is taken relative to the hierarchy's root, a
 * relative path is placed under the runtime's parent, and an empty one means
 * "runtime's choice" — berth uses parent/id. The result is always a clean
 * absolute path with no ".." so joining it to a mount point can never escape it.
 */
import { posix } from "node:path";
import { InvalidArgument } from "../../errdefs.js";

export function normalizeParent(parent: string): string {
  const p = cleanAbsolute(parent.startsWith("/") ? parent : `/${parent}`, "cgroup parent");
  if (p === "/") throw new InvalidArgument(`cgroup parent "${parent}": must not be the root cgroup`);
  return p;
}

export function resolveCgroupPath(cgroupsPath: string | undefined, id: string, parent: string): string {
  const raw = (cgroupsPath ?? "").trim();
  // "slice:prefix:name" is the systemd driver's form; berth drives cgroupfs directly.
  if (/^[^/]*:[^/]*:[^/]*$/.test(raw)) {
    throw new InvalidArgument(`cgroupsPath "${raw}": systemd "slice:prefix:name" paths need the systemd cgroup driver, which berth does not implement; use a path such as /berth/${id || "<id>"}`);
  }
  if (raw.split("/").includes("..")) throw new InvalidArgument(`cgroupsPath "${raw}": ".." components are not allowed`);
  let p: string;
  if (raw === "") {
    if (!id) throw new InvalidArgument("cgroupsPath is empty and no container id was given");
    if (id.includes("/") || id === "." || id === "..") throw new InvalidArgument(`container id "${id}": not usable as a cgroup directory name`);
    p = posix.join(parent, id);
  } else if (raw.startsWith("/")) {
    p = raw;
  } else {
    p = posix.join(parent, raw);
  }
  const clean = cleanAbsolute(p, `cgroupsPath "${raw || id}"`);
  if (clean === "/") throw new InvalidArgument(`cgroupsPath "${raw}": resolves to the root cgroup, which a container must not own`);
  return clean;
}

function cleanAbsolute(p: string, what: string): string {
  if (p.includes("\0")) throw new InvalidArgument(`${what}: contains a NUL byte`);
  if (p.split("/").includes("..")) throw new InvalidArgument(`${what}: ".." components are not allowed`);
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** Joins a resolved group path to a hierarchy mount point. */
export function groupDir(mount: string, path: string): string {
  return posix.join(mount, path);
}
