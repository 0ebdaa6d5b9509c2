/**
 * bench/runtime: time to run a `true` container, in one invocation, with berth-runc, runc and (if
 * this host lets it) crun, plus berth's in-process path: the runtime library called from a running
 * Node (create + start + wait + delete), which is what berthd does. Prints medians and ratios.
 *
 *   node dist/bench/runtime.js [runs]      (default 30)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Runtime } from "../src/runtime/runtime.js";
import { berthRunc, makeBundle, removeCgroupParent } from "../test/helpers/bundle.js";

const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 30);
const parent = `/berth-bench-${process.pid}`;
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

function timeCli(bin: string, bundle: string): number[] | string {
  const root = mkdtempSync(join(tmpdir(), "berth-bench-root-"));
  const out: number[] = [];
  try {
    for (let i = 0; i < runs + 2; i++) {
      const t0 = performance.now();
      const r = spawnSync(bin, ["--root", root, "run", "--bundle", bundle, `b${i}`], { encoding: "utf8" });
      const dt = performance.now() - t0;
      if (r.status !== 0) return (r.stderr || r.stdout).trim().split("\n").pop() ?? `exit ${r.status}`;
      if (i >= 2) out.push(dt);
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function timeInProcess(bundle: string): Promise<number[]> {
  const root = mkdtempSync(join(tmpdir(), "berth-bench-lib-"));
  const rt = new Runtime({ root });
  const out: number[] = [];
  try {
    for (let i = 0; i < runs + 2; i++) {
      const id = `l${i}`;
      const t0 = performance.now();
      const { shim } = await rt.create(id, { bundle, mode: "monitor", stdio: ["ignore", "ignore", "ignore"] });
      shim.ref();
      const exited = new Promise((r) => shim.once("exit", r));
      await rt.start(id);
      await exited;
      await rt.delete(id);
      if (i >= 2) out.push(performance.now() - t0);
    }
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const b = makeBundle(["true"], undefined, parent);
  try {
    const rows: [string, number[] | string][] = [
      ["runc run", timeCli("/usr/sbin/runc", b.dir)],
      ["berth-runc run (CLI, incl. Node start)", timeCli(berthRunc, b.dir)],
      ["crun run", timeCli("/usr/bin/crun", b.dir)],
      ["berth in-process (create+start+wait+delete)", await timeInProcess(b.dir)],
    ];
    const nodeStart: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      spawnSync("node", ["-e", "0"], { env: { ...process.env, NODE_EXTRA_CA_CERTS: "" } });
      nodeStart.push(performance.now() - t0);
    }
    const runcMedian = typeof rows[0]![1] === "string" ? NaN : median(rows[0]![1] as number[]);
    console.log(`bench/runtime: ${runs} runs of a \`true\` container each, medians`);
    for (const [name, r] of rows) {
      if (typeof r === "string") console.log(`  ${name.padEnd(46)} failed: ${r}`);
      else console.log(`  ${name.padEnd(46)} ${median(r).toFixed(1).padStart(7)} ms   ${(median(r) / runcMedian).toFixed(2)} × runc`);
    }
    const berthCli = rows[1]![1];
    const nodeMed = median(nodeStart);
    if (typeof berthCli !== "string") console.log(`  berth-runc own work (CLI minus \`node -e 0\` = ${nodeMed.toFixed(1)} ms): ${(median(berthCli) - nodeMed).toFixed(1)} ms (target < 10 ms)`);
    console.log("  bar: crun's published figure is about 0.5 × runc's time for 100 sequential /bin/true containers; target for the in-process path ≤ 0.5 × runc");
  } finally {
    rmSync(b.dir, { recursive: true, force: true });
    removeCgroupParent(parent);
  }
}

await main();
