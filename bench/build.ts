/**
 * bench/build: Dockerfile builds, berth against Debian's dockerd classic builder (a private dockerd,
 * no bridge) in one invocation, the same busybox image and context for both:
 *   - a 6-step Dockerfile (RUN steps and a COPY of 5 MB), without cache (--no-cache) and with it
 *   - a two-stage build whose stages are independent
 * Prints medians and ratios (berth / docker).
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

const b = await startBerthd();
const d = await startDockerd();
try {
  const tar = spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 << 20 });
  if (d.docker(["import", "-", "busybox:latest"], tar.stdout).status !== 0) throw new Error("docker import failed");
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
  const rows: [string, number[] | string, number[] | string][] = [];
  for (const [name, dir, extra] of [["6 steps, no cache", six, ["--no-cache"]], ["6 steps, cached", six, []], ["two independent stages, no cache", two, ["--no-cache"]]] as const) {
    // Warm the cache for the cached row (and the image for every row) once.
    b.berth(["build", "--network", "none", "-t", "bench:1", dir]);
    d.docker(["build", "--network", "none", "-t", "bench:1", dir], undefined, env);
    rows.push([
      name,
      time(() => b.berth(["build", "--network", "none", ...extra, "-t", "bench:1", dir])),
      time(() => d.docker(["build", "--network", "none", ...extra, "-t", "bench:1", dir], undefined, env)),
    ]);
  }
  console.log(`bench/build: ${runs} runs each, medians (docker: Debian's dockerd, classic builder)`);
  for (const [name, mine, theirs] of rows) {
    const m = typeof mine === "string" ? `failed: ${mine}` : `${median(mine).toFixed(0)} ms`;
    const t = typeof theirs === "string" ? `failed: ${theirs}` : `${median(theirs).toFixed(0)} ms`;
    const ratio = typeof mine !== "string" && typeof theirs !== "string" ? `   ${(median(mine) / median(theirs)).toFixed(2)} × docker` : "";
    console.log(`  ${name.padEnd(34)} berth ${m.padStart(8)}   docker ${t.padStart(8)}${ratio}`);
  }
  console.log("  buildah: not measured (Debian's buildah is not installed by setup)");
} finally {
  d.stop();
  b.stop();
  rmSync(work, { recursive: true, force: true });
}
