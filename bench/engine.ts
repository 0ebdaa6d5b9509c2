/**
 * bench/engine: berth against docker on this machine, in one invocation — a private berthd and a
 * private dockerd (runc, no bridge, no iptables), the same busybox image imported into both.
 *   - `run --rm busybox true` end to end: berth CLI → berthd, docker CLI → dockerd, docker CLI → berthd
 *   - the CLI's own start: `berth version` (a round trip to berthd) against `node -e 0` and `docker version`
 *   - idle memory: berthd's RSS against dockerd + containerd's
 *   - the default network: `run --rm busybox true` on berth's default bridge against dockerd on a
 *     bridge of its own (a second private dockerd, given a bridge this bench makes and removes),
 *     each next to its --network none run; and berth's network setup alone (sandbox made and torn
 *     down in-process: netns, lo, bridge + IPAM through CNI)
 * Prints medians and ratios.
 *
 *   node dist/bench/engine.js [runs]      (default 15)
 */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { busyboxRootfs } from "../test/helpers/fixtures.js";
import { repo } from "../test/helpers/bundle.js";
import { removeBridge, startBerthd } from "../test/helpers/berthd.js";
import { NetworkManager } from "../src/network/manager.js";
import { NetworkStore } from "../src/network/networks.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { startDockerd } from "../test/helpers/dockerd.js";

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 15);
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

function time(cmd: string, args: string[], env: Record<string, string | undefined> = process.env): number[] | string {
  const out: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { encoding: "utf8", env: env as NodeJS.ProcessEnv, timeout: 60000 });
    const dt = performance.now() - t0;
    if (r.status !== 0) return (r.stderr || r.stdout || `exit ${r.status}`).trim().split("\n").pop()!;
    if (i >= 2) out.push(dt);
  }
  return out;
}

/** Resident memory (kB) of the processes whose command line matches, summed. */
function rssOf(match: (cmdline: string) => boolean): number {
  let kb = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (!match(cmd)) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch { /* gone */ }
  }
  return kb;
}

/** The default network's cost: berth's bridge vs dockerd's, and berth's network setup alone. */
async function networkRows(berthHost: string, busyboxTar: Buffer): Promise<void> {
  const bridge = `bdb${process.pid}`.slice(0, 15);
  spawnSync("ip", ["link", "add", bridge, "type", "bridge"]);
  spawnSync("ip", ["addr", "add", "10.86.250.1/24", "dev", bridge]);
  spawnSync("ip", ["link", "set", bridge, "up"]);
  const nd = await startDockerd([`--bridge=${bridge}`]);
  try {
    nd.docker(["import", "-", "busybox:latest"], busyboxTar);
    const berth = join(repo, "bin/berth");
    const env = { ...process.env, DOCKER_HOST: nd.host };
    const rows: [string, number[] | string][] = [
      ["docker CLI → dockerd, its bridge", time("docker", ["run", "--rm", "busybox", "true"], env)],
      ["docker CLI → dockerd, --network none", time("docker", ["run", "--rm", "--network", "none", "busybox", "true"], env)],
      ["berth CLI → berthd, default bridge", time(berth, ["-H", berthHost, "run", "--rm", "busybox", "true"])],
      ["berth CLI → berthd, --network none", time(berth, ["-H", berthHost, "run", "--rm", "--network", "none", "busybox", "true"])],
    ];
    console.log("  run --rm busybox true on the default network:");
    const base = rows[0]![1];
    for (const [name, r] of rows) {
      if (typeof r === "string") console.log(`    ${name.padEnd(38)} failed: ${r}`);
      else console.log(`    ${name.padEnd(38)} ${median(r).toFixed(1).padStart(7)} ms${typeof base === "string" ? "" : `   ${(median(r) / median(base)).toFixed(2)} × docker on its bridge`}`);
    }
  } finally {
    nd.stop();
    removeBridge(bridge);
  }
  // berth's network setup alone: a sandbox made and torn down, in this process.
  const dir = mkdtempSync(join(tmpdir(), "berth-netbench-"));
  const nbr = `bnb${process.pid}`.slice(0, 15);
  const store = new NetworkStore({ dataRoot: join(dir, "data"), execRoot: join(dir, "run"), bridge: nbr, bip: "10.86.251.1/24" });
  const net = new NetworkManager({ store, execRoot: join(dir, "run"), cniPath: ["/usr/lib/cni"] });
  try {
    await net.init();
    const n = store.get("bridge");
    const setup: number[] = [];
    const teardown: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      await (await net.setup(`bench${i}`, { name: `bench${i}`, networks: [{ network: n, endpoint: {} }], ports: [] })).attached;
      const t1 = performance.now();
      await net.teardown(`bench${i}`);
      if (i >= 2) { setup.push(t1 - t0); teardown.push(performance.now() - t1); }
    }
    console.log(`  berth's network setup alone (netns + lo + bridge/IPAM via CNI): ${median(setup).toFixed(1)} ms, teardown ${median(teardown).toFixed(1)} ms`);
  } finally {
    net.close();
    removeBridge(nbr);
    rmSync(dir, { recursive: true, force: true });
  }
}

const b = await startBerthd();
const d = await startDockerd();
try {
  const tar = spawnSync("tar", ["-C", busyboxRootfs(), "--exclude=./.complete", "-c", "."], { maxBuffer: 64 * 1024 * 1024 });
  const imp = d.docker(["import", "-", "busybox:latest"], tar.stdout);
  if (imp.status !== 0) throw new Error(`docker import: ${imp.stderr}`);
  const berth = join(repo, "bin/berth");
  const noCa = { ...process.env, NODE_EXTRA_CA_CERTS: undefined };
  const dockerEnv = (host: string) => ({ ...process.env, DOCKER_HOST: host });
  const rows: [string, number[] | string][] = [
    ["docker CLI → dockerd (runc)", time("docker", ["run", "--rm", "--network", "none", "busybox", "true"], dockerEnv(d.host))],
    ["berth CLI → berthd", time(berth, ["-H", b.host, "run", "--rm", "--network", "none", "busybox", "true"])],
    ["docker CLI → berthd", time("docker", ["run", "--rm", "--network", "none", "busybox", "true"], dockerEnv(b.host))],
  ];
  console.log(`bench/engine: ${runs} runs each, medians`);
  const base = rows[0]![1];
  console.log("  run --rm busybox true, end to end:");
  for (const [name, r] of rows) {
    if (typeof r === "string") console.log(`    ${name.padEnd(34)} failed: ${r}`);
    else console.log(`    ${name.padEnd(34)} ${median(r).toFixed(1).padStart(7)} ms${typeof base === "string" ? "" : `   ${(median(r) / median(base)).toFixed(2)} × docker`}`);
  }
  const cli: [string, number[] | string][] = [
    ["node -e 0", time(process.execPath, ["-e", "0"])],
    ["node -e 0 (without NODE_EXTRA_CA_CERTS)", time(process.execPath, ["-e", "0"], noCa)],
    ["berth version (with a round trip)", time(berth, ["-H", b.host, "version", "--format", "{{.Server.Version}}"])],
    ["docker version (against dockerd)", time("docker", ["version", "--format", "{{.Server.Version}}"], dockerEnv(d.host))],
  ];
  console.log("  CLI start:");
  const node = cli[0]![1];
  for (const [name, r] of cli) {
    if (typeof r === "string") console.log(`    ${name.padEnd(42)} failed: ${r}`);
    else console.log(`    ${name.padEnd(42)} ${median(r).toFixed(1).padStart(7)} ms${typeof node === "string" ? "" : `   ${(median(r) / median(node)).toFixed(2)} × node -e 0`}`);
  }
  const berthRss = rssOf((c) => c.includes("dist/src/daemon/main.js") && c.includes(b.dir));
  const dockerRss = rssOf((c) => (c.startsWith("/usr/sbin/dockerd") || c.startsWith("containerd")) && c.includes(d.dir));
  console.log(`  idle daemon memory (RSS): berthd ${(berthRss / 1024).toFixed(1)} MiB, dockerd + containerd ${(dockerRss / 1024).toFixed(1)} MiB, ratio ${(berthRss / dockerRss).toFixed(2)}`);

  await networkRows(b.host, tar.stdout);

  // N running containers on each: the daemon's RSS then, and each container's shim.
  const n = Number(process.env.BENCH_CONTAINERS ?? 20);
  for (let i = 0; i < n; i++) {
    b.docker(["run", "-d", "--network", "none", "--name", `m${i}`, "busybox", "sleep", "600"]);
    d.docker(["run", "-d", "--network", "none", "--name", `m${i}`, "busybox", "sleep", "600"]);
  }
  const holding = (pid: string, dir: string): boolean => {
    try { return readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir); } catch { return false; } }); } catch { return false; }
  };
  const shimRss = (pattern: (c: string, pid: string) => boolean): number[] => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (!pattern(cmd, pid)) return [];
      return [Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1])];
    } catch { return []; }
  });
  const berthShims = shimRss((c, pid) => c.includes("berth-shim") && holding(pid, b.dir));
  const dockerShims = shimRss((c) => c.includes("containerd-shim") && c.includes(`berthtest`));
  const berthBusy = rssOf((c) => c.includes("dist/src/daemon/main.js") && c.includes(b.dir));
  const dockerBusy = rssOf((c) => (c.startsWith("/usr/sbin/dockerd") || c.startsWith("containerd ")) && c.includes(d.dir));
  console.log(`  with ${n} running containers each:`);
  console.log(`    per-container shim RSS (median): berth-shim ${(median(berthShims) / 1024).toFixed(1)} MiB (${berthShims.length} shims), containerd-shim-runc-v2 ${(median(dockerShims) / 1024).toFixed(1)} MiB (${dockerShims.length} shims)`);
  console.log(`    daemon RSS: berthd ${(berthBusy / 1024).toFixed(1)} MiB, dockerd + containerd ${(dockerBusy / 1024).toFixed(1)} MiB, ratio ${(berthBusy / dockerBusy).toFixed(2)}`);
} finally {
  const ids = d.docker(["ps", "-aq"]).stdout.split("\n").filter(Boolean);
  if (ids.length) d.docker(["rm", "-f", ...ids]);
  d.stop();
  b.stop();
}
