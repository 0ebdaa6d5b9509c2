/**
 * Test fixtures made locally, never downloaded: a busybox root filesystem from
 * Debian's busybox-static. Cached outside the repository (BERTH_TEST_CACHE,
 * default /var/cache/berth-test) so every test file and CI run reuses it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync, symlinkSync, copyFileSync, renameSync, rmSync, chmodSync } from "node:fs";
import { join } from "node:path";

export const cacheDir = process.env.BERTH_TEST_CACHE ?? "/var/cache/berth-test";

const BUSYBOX = "/bin/busybox";

/** Returns the path of a busybox rootfs (read-only use: copy or overlay it before writing). */
export function busyboxRootfs(): string {
  const dest = join(cacheDir, "busybox-rootfs");
  if (existsSync(join(dest, ".complete"))) return dest;
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install busybox-static`);
  const tmp = `${dest}.new-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var", "run", "mnt"]) {
    mkdirSync(join(tmp, d), { recursive: true });
  }
  chmodSync(join(tmp, "tmp"), 0o1777);
  copyFileSync(BUSYBOX, join(tmp, "bin/busybox"));
  chmodSync(join(tmp, "bin/busybox"), 0o755);
  const applets = execFileSync(BUSYBOX, ["--list-full"], { encoding: "utf8" }).split("\n").filter(Boolean);
  for (const a of applets) {
    const p = join(tmp, a);
    if (a === "bin/busybox" || existsSync(p)) continue;
    const depth = a.split("/").length - 1;
    const target = a.startsWith("bin/") ? "busybox" : `${"../".repeat(depth)}bin/busybox`;
    symlinkSync(target, p);
  }
  writeFileSync(join(tmp, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\n");
  writeFileSync(join(tmp, "etc/group"), "root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n");
  writeFileSync(join(tmp, "etc/hostname"), "busybox\n");
  writeFileSync(join(tmp, ".complete"), "");
  mkdirSync(cacheDir, { recursive: true });
  try { renameSync(tmp, dest); } catch { rmSync(tmp, { recursive: true, force: true }); }
  return dest;
}

/**
 * An nginx root filesystem tar (scripts/nginx-image.sh: Debian's nginx packages from the package
 * mirror over the busybox rootfs), made once and cached next to the busybox rootfs.
 */
export function nginxRootfsTar(): string {
  const dest = join(cacheDir, "nginx-rootfs.tar");
  if (existsSync(dest)) return dest;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${dest}.new-${process.pid}`;
  const script = new URL("../../../scripts/nginx-image.sh", import.meta.url).pathname;
  execFileSync("sh", ["-c", `bash "${script}" > "${tmp}"`], { stdio: ["ignore", "ignore", "inherit"] });
  renameSync(tmp, dest);
  return dest;
}

/**
 * A Debian bookworm root filesystem tar (debootstrap --variant=minbase through the package mirror
 * apt uses), made once and cached: the base of the build tests' Debian images.
 */
export function debianRootfsTar(): string {
  const dest = join(cacheDir, "debian-bookworm-rootfs.tar");
  if (existsSync(dest)) return dest;
  mkdirSync(cacheDir, { recursive: true });
  const root = `${dest}.root-${process.pid}`;
  rmSync(root, { recursive: true, force: true });
  let mirror = "http://deb.debian.org/debian";
  try {
    const m = /^URIs:\s*(\S+)/m.exec(execFileSync("sh", ["-c", "cat /etc/apt/sources.list.d/*.sources 2>/dev/null"], { encoding: "utf8" }));
    if (m) mirror = m[1]!;
  } catch { /* the default */ }
  try {
    execFileSync("debootstrap", ["--variant=minbase", "bookworm", root, mirror], { stdio: ["ignore", "ignore", "inherit"], timeout: 20 * 60_000 });
    execFileSync("tar", ["-C", root, "--numeric-owner", "-cf", `${dest}.new`, "."]);
    renameSync(`${dest}.new`, dest);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(`${dest}.new`, { force: true });
  }
  return dest;
}
