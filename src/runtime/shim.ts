/**
 * Spawns berth-shim with a plan and speaks its report/ack protocol (docs/shim-protocol.md).
 * A failure record becomes a ShimStepError, e.g. `mount "proc" on /proc: operation not permitted`.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { getSystemErrorMap } from "node:util";
import type { Readable, Writable } from "node:stream";
import { BerthError, InvalidArgument, NotFound, PermissionDenied } from "../errdefs.js";
import { decodeField } from "./plan-encoding.js";
import { withCompiledSeccomp } from "./seccomp-compile.js";

export function shimPath(): string {
  const p = process.env.BERTH_SHIM ?? fileURLToPath(new URL("../../../native/build/berth-shim", import.meta.url));
  if (!existsSync(p)) throw new NotFound(`berth-shim not found at ${p}: run \`npm run build\``);
  return p;
}

const errnoMap = getSystemErrorMap();

/** A step of the plan failed inside the shim; `step` and `errno` say which and why. */
export class ShimStepError extends BerthError {
  override readonly code = "ERR_SHIM_STEP";
  constructor(readonly step: string, readonly errno: number, readonly detail: string) {
    super(`${step} ${detail}: ${errnoMap.get(-errno)?.[1] ?? `errno ${errno}`}`);
  }
  /** docker's exit codes for `run`: 127 not found, 126 cannot execute. */
  get execStatus(): number | undefined {
    if (this.step !== "exec") return undefined;
    if (this.errno === 2) return 127;
    if (this.errno === 13 || this.errno === 8 || this.errno === 21) return 126;
    return undefined;
  }
}

export type ShimWait = "created" | "running" | "eof";

export interface ShimOptions {
  stdio: ("inherit" | "ignore" | "pipe" | number)[];
  /** Extra fds handed to the process as 3, 4, … (runc --preserve-fds). */
  preserveFds?: number[];
  /** Runs between clone and the child's first step: cgroups, id maps, hooks. */
  onPid: (pid: number) => Promise<void> | void;
  wait: ShimWait;
  detached?: boolean;
}

export interface ShimResult {
  pid: number;
  shim: ChildProcess;
  warnings: string[];
}

/*
 * A spare shim. Node's spawn() forks the whole daemon, which blocks its event loop for 5–10 ms
 * here; a container start that finds a shim already spawned (and re-executed from its sealed
 * copy, waiting for its plan) skips that. berthd's container starts all have one shape — stdio
 * to /dev/null, no extra fds, detached — so one spare of that shape is kept. The next one is
 * spawned while a start of that shape waits on the kernel to move its process into the
 * container's cgroups (moveProcess: an RCU grace period, the main thread idle), so making it
 * costs the start nothing. A spare whose daemon exits reads an empty plan and exits.
 */
const SPARE_STDIO: StdioOptions = ["ignore", "ignore", "ignore", "pipe", "pipe", "pipe"];
let spare: ChildProcess | undefined;

const spareShape = (o: ShimOptions): boolean => !!o.detached && !o.preserveFds?.length && o.stdio.length === 3 && o.stdio.every((x) => x === "ignore");

function takeSpare(o: ShimOptions): ChildProcess | undefined {
  if (!spareShape(o) || !spare) return undefined;
  const s = spare;
  spare = undefined;
  if (s.exitCode !== null || s.signalCode !== null) return undefined;
  for (const x of s.stdio) (x as { ref?: () => void } | null)?.ref?.();
  s.ref();
  return s;
}

function makeSpare(): void {
  if (spare) return;
  try {
    spare = spawn(shimPath(), ["3"], { stdio: SPARE_STDIO, detached: true });
  } catch {
    return;
  }
  spare.on("error", () => { spare = undefined; });
  spare.unref();
  for (const x of spare.stdio) (x as { unref?: () => void } | null)?.unref?.();
}

export async function runShim(plan: string, opts: ShimOptions): Promise<ShimResult> {
  const { text: planText, warnings } = await withCompiledSeccomp(plan);
  const preserve = opts.preserveFds ?? [];
  const base = 3 + preserve.length;
  const stdio: StdioOptions = [...opts.stdio, ...preserve, "pipe", "pipe", "pipe"];
  const shim = takeSpare(opts) ?? spawn(shimPath(), [String(base)], { stdio, detached: opts.detached ?? false });
  const planW = shim.stdio[base] as Writable;
  const report = shim.stdio[base + 1] as Readable;
  const ack = shim.stdio[base + 2] as Writable;
  planW.on("error", () => {});
  ack.on("error", () => {});
  planW.end(planText);
  let pid = 0;
  let done = false;

  return new Promise<ShimResult>((resolvePromise, rejectPromise) => {
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      report.removeAllListeners("data");
      if (err) {
        if (pid > 0) try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
        rejectPromise(err);
        return;
      }
      report.destroy();
      resolvePromise({ pid, shim, warnings });
    };
    let buf = "";
    const onLine = async (line: string): Promise<void> => {
      const [kind, ...rest] = line.split(" ");
      switch (kind) {
        case "pid":
          pid = Number(rest[0]);
          try {
            const placed = opts.onPid(pid);
            if (spareShape(opts)) makeSpare(); // while onPid waits on the kernel (see makeSpare)
            await placed;
            ack.end("go\n");
          } catch (e) {
            ack.end("abort\n");
            finish(e as Error);
          }
          if (opts.wait === "eof" || done) return;
          return;
        case "created":
        case "running":
          if (opts.wait === kind) finish();
          return;
        case "warn":
          warnings.push(decodeField(rest.join(" ")));
          return;
        case "error": {
          const [step, errno, detail] = rest;
          finish(new ShimStepError(decodeField(step ?? "shim"), Number(errno), decodeField(detail ?? "-")));
          return;
        }
        default:
          return;
      }
    };
    let chain = Promise.resolve();
    report.setEncoding("utf8");
    report.on("data", (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        chain = chain.then(() => onLine(line));
      }
    });
    report.on("end", () => {
      chain.then(() => {
        if (done) return;
        if (opts.wait === "eof" && pid > 0) finish();
        else finish(new BerthError("berth-shim ended without reporting the container's state"));
      });
    });
    shim.on("error", (e) => finish(e));
  });
}

/** Maps an errno-carrying error to our classes for callers that care (CLI exit codes). */
export function classify(e: ShimStepError): BerthError {
  if (e.errno === 1 || e.errno === 13) return new PermissionDenied(e.message, { cause: e });
  if (e.errno === 22) return new InvalidArgument(e.message, { cause: e });
  return e;
}
