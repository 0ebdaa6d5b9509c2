/**
 * bench/pull: pulling a large image from a registry on 127.0.0.1 with a cold store — berth pull
 * (download + unpack) against docker pull (a private dockerd) and skopeo copy to an OCI directory
 * (download only), in one invocation; medians, ratios, and berth's throughput in uncompressed MB/s.
 *
 * Before each timed pull the page cache is written back and dropped (untimed), so that no pull
 * pays for the previous one's writeback or removal: on an ext4 without a journal (this machine's
 * root) a file created within a minute of a mass deletion spends most of its create in the
 * kernel's recently_deleted() scan (perf: over a third of an unpack's busy time right after
 * an rmi), which made every pull's time depend on what ran just before it.
 *
 * The image is made once from this machine's /usr (four gzip layers: share, bin, local, and
 * include+sbin+libexec; deterministic tars) and cached in /var/cache/berth-bench (BERTH_BENCH_CACHE).
 *
 *   node dist/bench/pull.js [runs]      (default 3)
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createGzip } from "node:zlib";
import { startRegistry } from "../src/image/test-fixtures.js";
import { repo } from "../test/helpers/bundle.js";
import { startBerthd } from "../test/helpers/berthd.js";
import { startDockerd } from "../test/helpers/dockerd.js";

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 3);
const cache = join(process.env.BERTH_BENCH_CACHE ?? "/var/cache/berth-bench", "pull-image");
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const LAYERS = [["usr/share"], ["usr/bin"], ["usr/local"], ["usr/include", "usr/sbin", "usr/libexec"]];

interface Built { layout: string; compressed: number; uncompressed: number }

/** One deterministic layer: tar (sorted, mtime 0, root-owned) → gzip, hashing both streams. */
async function layer(paths: string[], blobs: string): Promise<{ digest: string; size: number; diffId: string; raw: number }> {
  const tar = spawn("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--ignore-failed-read", "-C", "/", "-c", ...paths], { stdio: ["ignore", "pipe", "ignore"] });
  const raw = createHash("sha256"), gz = createHash("sha256");
  let rawBytes = 0, gzBytes = 0;
  const tmp = join(blobs, `tmp-${process.pid}`);
  const out = createWriteStream(tmp);
  const gzip = createGzip({ level: 6 });
  tar.stdout.on("data", (d: Buffer) => { raw.update(d); rawBytes += d.length; });
  gzip.on("data", (d: Buffer) => { gz.update(d); gzBytes += d.length; });
  tar.stdout.pipe(gzip).pipe(out);
  await new Promise<void>((resolve, reject) => { out.on("finish", () => resolve()); out.on("error", reject); gzip.on("error", reject); });
  const digest = gz.digest("hex");
  renameSync(tmp, join(blobs, digest));
  return { digest: `sha256:${digest}`, size: gzBytes, diffId: `sha256:${raw.digest("hex")}`, raw: rawBytes };
}

async function build(): Promise<Built> {
  const done = join(cache, "built.json");
  if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8")) as Built;
  rmSync(cache, { recursive: true, force: true });
  const layout = join(cache, "oci");
  const blobs = join(layout, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  console.log(`bench/pull: building the image from /usr into ${layout} (once)…`);
  const ls = [];
  for (const paths of LAYERS) ls.push(await layer(paths, blobs));
  const put = (data: string): { digest: string; size: number } => {
    const h = createHash("sha256").update(data).digest("hex");
    writeFileSync(join(blobs, h), data);
    return { digest: `sha256:${h}`, size: Buffer.byteLength(data) };
  };
  const config = put(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: ls.map((l) => l.diffId) } }));
  const manifest = put(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: ls.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.size })) }));
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": "big" } }] }));
  const built = { layout, compressed: ls.reduce((a, l) => a + l.size, 0), uncompressed: ls.reduce((a, l) => a + l.raw, 0) };
  writeFileSync(done, JSON.stringify(built));
  return built;
}

/** Writes back and drops the page cache (dentries and inodes too), untimed: every pull starts on a quiet machine. */
function quiet(): void {
  spawnSync("sync");
  try { writeFileSync("/proc/sys/vm/drop_caches", "3"); } catch { /* not root: the pulls share what writeback is left */ }
}

function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
  return performance.now() - t0;
}

const img = await build();
console.log(`bench/pull: image of 4 gzip layers, ${(img.compressed / 1e6).toFixed(0)} MB compressed, ${(img.uncompressed / 1e6).toFixed(0)} MB unpacked; ${runs} cold pulls each, medians`);
const reg = await startRegistry();
const b = await startBerthd({ importBusybox: false });
const d = await startDockerd();
const ref = `${reg.host}/bench/big:1`;
try {
  timed("skopeo", ["copy", "--dest-tls-verify=false", `oci:${img.layout}:big`, `docker://${ref}`]);
  const berth: number[] = [], docker: number[] = [], skopeo: number[] = [];
  const dockerEnv = { ...process.env, DOCKER_HOST: d.host };
  for (let i = 0; i < runs; i++) {
    quiet();
    berth.push(timed(join(repo, "bin/berth"), ["-H", b.host, "pull", "-q", ref]));
    timed(join(repo, "bin/berth"), ["-H", b.host, "rmi", ref]); // and its blobs and unpacked layers: the next pull is cold
    quiet();
    docker.push(timed("docker", ["pull", "-q", ref], dockerEnv));
    timed("docker", ["rmi", ref], dockerEnv);
    const dir = mkdtempSync(join(tmpdir(), "berth-bench-skopeo-"));
    quiet();
    try { skopeo.push(timed("skopeo", ["copy", "--src-tls-verify=false", `docker://${ref}`, `oci:${dir}:big`])); } finally { rmSync(dir, { recursive: true, force: true }); }
  }
  const base = median(docker);
  for (const [name, xs] of [["docker pull (private dockerd)", docker], ["berth pull (download + unpack)", berth], ["skopeo copy to an OCI dir (download only)", skopeo]] as const) {
    console.log(`  ${name.padEnd(44)} ${(median(xs) / 1000).toFixed(2).padStart(7)} s   ${(median(xs) / base).toFixed(2)} × docker`);
  }
  console.log(`  berth: ${(img.uncompressed / 1e6 / (median(berth) / 1000)).toFixed(0)} MB/s unpacked (target: ≤ 1/3 of docker's time)`);
} finally {
  d.stop();
  b.stop();
  await reg.stop();
}
