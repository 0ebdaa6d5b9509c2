/**
 * bench/build: Dockerfile builds, berth against Debian's dockerd classic builder (a private dockerd,
 * no bridge) in one invocation, the same busybox image and context for both:
 *   - a 6-step Dockerfile (RUN steps and a COPY of 5 MB), without cache (--no-cache) and with it
 *   - a two-stage build whose stages are independent
 * Prints medians and ratios (berth / docker). buildah (Debian's, with runc: crun refuses this
 * host's hybrid cgroups) is measured too when it is installed (`apt-get install buildah`), on its
 * own storage under the bench's directory; and the docker CLI against berthd, which shows what of
 * berth's time is the builder and what is its Node CLI's start.
 *
 *   node dist/bench/build.js [runs]      (default 5)
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { busyboxRootfs } from "../test/helpers/fixtures.js";
import { startBerthd } from "../test/helpers/berthd.js";
import { startDockerd } from "../test/helpers/dockerd.js";

/** buildah on private storage, or why it cannot be measured. */
function startBuildah(dir: string, busyboxTar: Buffer): { bud: (args: string[]) => { status: number; stderr: string }; stop: () => void } | string {
  if (spawnSync("buildah", ["--version"]).status !== 0) return "not installed (apt-get install buildah)";
  const base = ["--root", join(dir, "root"), "--runroot", join(dir, "runroot"), "--storage-driver", "overlay"];
  const bh = (args: string[], input?: Buffer): { status: number; stdout: string; stderr: string } => {
    const r = spawnSync("buildah", [...base, ...args], { input, encoding: "utf8", maxBuffer: 64 << 20 });
    return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const stop = (): void => {
    bh(["rm", "-a"]);
    bh(["rmi", "-a", "-f"]);
    // containers/storage bind-mounts its overlay directory over itself.
    spawnSync("umount", ["-R", join(dir, "root", "overlay")]);
  };
  const ctr = bh(["from", "scratch"]).stdout.trim();
  const mnt = bh(["mount", ctr]).stdout.trim();
  const untar = spawnSync("tar", ["-C", mnt, "-x"], { input: busyboxTar });
  bh(["umount", ctr]);
  const commit = bh(["commit", "-q", ctr, "busybox:latest"]);
  bh(["rm", ctr]);
  if (!ctr || !mnt || untar.status !== 0 || commit.status !== 0) { stop(); return `setup failed: ${commit.stderr.trim()}`; }
  return { bud: (args) => bh(["bud", "--runtime", "/usr/sbin/runc", "--isolation", "oci", "--layers", "-q", ...args]), stop };
}

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

const work = mkdtempSync(join(tmpdir(), "berth-benchbuild-"));
const six = join(work, "six");
mkdirSync(six);
writeFileSync(join(six, "blob.bin"), randomBytes(5 << 20));
writeFileSync(join(six, "Dockerfile"), [
  "FROM busybox",
  "RUN mkdir -p /app && echo one > /app/one",
  "COPY blob.bin /app/blob.bin",
  "RUN md5sum /app/blob.bin > /app/blob.md5",
  "ENV MODE=bench",
  "RUN echo $MODE > /app/mode",
  'CMD ["cat", "/app/mode"]',
].join("\n"));
const two = join(work, "two");
mkdirSync(two);
writeFileSync(join(two, "Dockerfile"), [
  "FROM busybox AS a", "RUN echo a > /a && sleep 0.2",
  "FROM busybox AS b", "RUN echo b > /b && sleep 0.2",
  "FROM busybox", "COPY --from=a /a /a", "COPY --from=b /b /b",
].join("\n"));

let buildah: ReturnType<typeof startBuildah> | undefined;
const b = await startBerthd();
const d = await startDockerd();
try {
  const tar = spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 << 20 });
  if (d.docker(["import", "-", "busybox:latest"], tar.stdout).status !== 0) throw new Error("docker import failed");
  mkdirSync(join(work, "buildah"));
  buildah = startBuildah(join(work, "buildah"), tar.stdout);
  const time = (fn: () => { status: number; stderr: string }): number[] | string => {
    const out: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const t0 = performance.now();
      const r = fn();
      const dt = performance.now() - t0;
      if (r.status !== 0) return r.stderr.trim().split("\n").pop() ?? "failed";
      if (i >= 1) out.push(dt);
    }
    return out;
  };
  const env = { DOCKER_BUILDKIT: "0" };
  type Col = number[] | string;
  const rows: { name: string; berth: Col; dockerCli: Col; docker: Col; buildah: Col }[] = [];
  for (const [name, dir, extra] of [["6 steps, no cache", six, ["--no-cache"]], ["6 steps, cached", six, []], ["two independent stages, no cache", two, ["--no-cache"]]] as const) {
    // Warm the cache for the cached row (and the image for every row) once.
    b.berth(["build", "--network", "none", "-t", "bench:1", dir]);
    d.docker(["build", "--network", "none", "-t", "bench:1", dir], undefined, env);
    if (typeof buildah !== "string") buildah.bud(["--network", "none", "-t", "bench:1", dir]);
    const args = ["build", "--network", "none", ...extra, "-t", "bench:1", dir];
    rows.push({
      name,
      berth: time(() => b.berth(args)),
      dockerCli: time(() => b.docker(args)),
      docker: time(() => d.docker(args, undefined, env)),
      buildah: typeof buildah === "string" ? buildah : time(() => (buildah as Exclude<typeof buildah, string | undefined>).bud(["--network", "none", ...extra, "-t", "bench:1", dir])),
    });
  }
  console.log(`bench/build: ${runs} runs each, medians; ratios against docker (Debian's dockerd, classic builder)`);
  const cell = (c: Col): string => (typeof c === "string" ? `failed: ${c}` : `${median(c).toFixed(0)} ms`);
  const ratio = (c: Col, ref: Col): string => (typeof c !== "string" && typeof ref !== "string" ? ` (${(median(c) / median(ref)).toFixed(2)} ×)` : "");
  for (const r of rows) {
    console.log(`  ${r.name}`);
    console.log(`    berth CLI → berthd        ${cell(r.berth).padStart(9)}${ratio(r.berth, r.docker)}`);
    console.log(`    docker CLI → berthd       ${cell(r.dockerCli).padStart(9)}${ratio(r.dockerCli, r.docker)}`);
    console.log(`    docker CLI → dockerd      ${cell(r.docker).padStart(9)}`);
    console.log(`    buildah (runc)            ${typeof r.buildah === "string" ? r.buildah : `${cell(r.buildah).padStart(9)}${ratio(r.buildah, r.docker)}`}`);
  }
} finally {
  if (buildah && typeof buildah !== "string") buildah.stop();
  d.stop();
  b.stop();
  rmSync(work, { recursive: true, force: true });
}
