/**
 * Chooses the snapshotter for a root: overlay when the kernel can actually
 * mount an overlay with upper/work dirs on that filesystem (containerd and
 * Docker probe the same way: /proc/filesystems is not enough, e.g. an
 * overlay or NFS root refuses to be an upper dir), else the copy-based one.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { addon } from "./sys.js";
import { openNativeSnapshotter } from "./native.js";
import { openOverlaySnapshotter } from "./overlay.js";
import type { Snapshotter } from "./snapshotter.js";
import { InvalidArgument } from "../errdefs.js";

/** Why overlay cannot be used under `root`, or null when it can. */
export async function overlayUnsupported(root: string): Promise<string | null> {
  const fss = await readFile("/proc/filesystems", "utf8").catch(() => "");
  if (!/\toverlay\n/.test(fss)) return "the kernel has no overlay filesystem (modprobe overlay)";
  await mkdir(root, { recursive: true, mode: 0o700 });
  const dir = join(root, `probe-${randomBytes(4).toString("hex")}`);
  const [lower1, lower2, upper, work, merged] = ["l1", "l2", "u", "w", "m"].map((d) => join(dir, d)) as [string, string, string, string, string];
  try {
    for (const d of [lower1, lower2, upper, work, merged]) await mkdir(d, { recursive: true });
    addon().mount("overlay", merged, "overlay", 0, `lowerdir=${lower1}:${lower2},upperdir=${upper},workdir=${work}`);
    addon().umount2(merged, addon().constants.MNT_DETACH);
    return null;
  } catch (err) {
    return `overlay mount under ${root} failed: ${(err as Error).message}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export type Driver = "overlay" | "native" | "auto";

/** Opens the snapshot root with the given driver; "auto" picks overlay when it works there. */
export async function openSnapshotter(root: string, driver: Driver = "auto"): Promise<Snapshotter> {
  switch (driver) {
    case "overlay": return openOverlaySnapshotter(root);
    case "native": return openNativeSnapshotter(root);
    case "auto": return (await overlayUnsupported(root)) === null ? openOverlaySnapshotter(root) : openNativeSnapshotter(root);
    default: throw new InvalidArgument(`unknown snapshotter ${JSON.stringify(driver)} (overlay, native, auto)`);
  }
}
