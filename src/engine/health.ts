/**
 * Docker's health checks. A container whose config (or image) has a Healthcheck test gets a probe
 * — an exec of the test in the container — every Interval while it runs (StartInterval during its
 * StartPeriod, when given). Exit 0 makes it healthy; a failure adds to FailingStreak, and Retries
 * failures in a row make it unhealthy, except that failures inside StartPeriod do not count while
 * it is still "starting". A probe longer than Timeout is killed and fails. State.Health keeps the
 * status, the streak and the last five results; each change of status is a `health_status: …`
 * event and is saved. Probes pause with the container and stop when it stops.
 */
import { formatGoDuration } from "../go-duration.js";
import { demux } from "../stream-frames.js";
import type { ContainerRecord } from "./container-store.js";
import type { ContainerRunner } from "./container-runner.js";
import type { EventBus } from "./events.js";
import type { ExecManager } from "./exec.js";

/** The API's Healthcheck: durations in nanoseconds, 0 for "the default". */
export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface HealthResult { Start: string; End: string; ExitCode: number; Output: string }
export interface HealthState { Status: "starting" | "healthy" | "unhealthy"; FailingStreak: number; Log: HealthResult[] }

const SECOND = 1e9;
const DEFAULTS = { Interval: 30 * SECOND, Timeout: 30 * SECOND, StartPeriod: 0, StartInterval: 5 * SECOND, Retries: 3 };
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

/** The container's check over the image's, field by field as dockerd merges them (empty/0 = inherit). */
export function mergeHealthcheck(own: HealthConfig | undefined | null, image: HealthConfig | undefined | null): HealthConfig | undefined {
  if (!own && !image) return undefined;
  const o = own ?? {}, i = image ?? {};
  const pick = (k: keyof Omit<HealthConfig, "Test">): number | undefined => (o[k] || i[k] || undefined);
  const out: HealthConfig = { Test: o.Test?.length ? o.Test : i.Test ?? undefined };
  for (const k of ["Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"] as const) { const v = pick(k); if (v !== undefined) out[k] = v; }
  return out;
}

/** The probe's command line, or undefined when there is no check (none given, or NONE). */
export function probeCommand(test: string[] | null | undefined): string[] | undefined {
  if (!test?.length || test[0] === "NONE") return undefined;
  if (test[0] === "CMD") return test.length > 1 ? test.slice(1) : undefined;
  if (test[0] === "CMD-SHELL") return test[1] ? ["/bin/sh", "-c", test[1]] : undefined;
  return test; // an old-style test without its kind: the command itself
}

/** "Up 3 minutes" gains docker's health suffix. */
export function healthSuffix(h: HealthState | undefined): string {
  if (!h) return "";
  return h.Status === "starting" ? " (health: starting)" : ` (${h.Status})`;
}

export class HealthMonitor {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly o: { runner: ContainerRunner; exec: ExecManager; events: EventBus; log: (level: "warn", msg: string) => void }) {
    o.events.on((e) => {
      if (e.Type !== "container") return;
      const id = e.Actor.ID;
      if (e.Action === "start") this.begin(id, true);
      else if (e.Action === "unpause") this.begin(id, false);
      else if (e.Action === "die" || e.Action === "pause" || e.Action === "destroy") this.end(id);
    });
  }

  /** Picks up the containers that run (after berthd restarts), keeping their health state. */
  resume(): void {
    for (const c of this.o.runner.store.all()) if (c.State.Running && !c.State.Paused) this.begin(c.Id, false);
  }

  /** Stops every schedule (berthd stopping). */
  close(): void {
    for (const id of [...this.timers.keys()]) this.end(id);
  }

  private check(c: ContainerRecord): { cmd: string[]; hc: Required<Omit<HealthConfig, "Test">> } | undefined {
    const hc = c.Config.Healthcheck as HealthConfig | undefined;
    const cmd = probeCommand(hc?.Test);
    if (!cmd) return undefined;
    return { cmd, hc: { Interval: hc!.Interval || DEFAULTS.Interval, Timeout: hc!.Timeout || DEFAULTS.Timeout, StartPeriod: hc!.StartPeriod || DEFAULTS.StartPeriod, StartInterval: hc!.StartInterval || DEFAULTS.StartInterval, Retries: hc!.Retries || DEFAULTS.Retries } };
  }

  private begin(id: string, fresh: boolean): void {
    let c: ContainerRecord;
    try { c = this.o.runner.store.get(id); } catch { return; }
    if (!this.check(c)) return;
    if (fresh || !c.State.Health) c.State.Health = { Status: "starting", FailingStreak: 0, Log: [] };
    this.schedule(id);
  }

  private end(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private schedule(id: string): void {
    this.end(id);
    let c: ContainerRecord;
    try { c = this.o.runner.store.get(id); } catch { return; }
    const k = this.check(c);
    if (!k) return;
    const inStart = Date.now() - Date.parse(c.State.StartedAt) < k.hc.StartPeriod / 1e6;
    const wait = (inStart && (c.Config.Healthcheck as HealthConfig).StartInterval ? k.hc.StartInterval : k.hc.Interval) / 1e6;
    const t = setTimeout(() => {
      this.timers.delete(id);
      void this.probe(id).catch((e) => this.o.log("warn", `health check of ${id}: ${(e as Error).message}`)).finally(() => {
        let cur: ContainerRecord | undefined;
        try { cur = this.o.runner.store.get(id); } catch { cur = undefined; }
        // Still running and still the schedule's (no stop or pause came meanwhile): the next probe.
        if (cur?.State.Running && !cur.State.Paused && !this.timers.has(id)) this.schedule(id);
      });
    }, wait);
    t.unref();
    this.timers.set(id, t);
  }

  private async probe(id: string): Promise<void> {
    const c = this.o.runner.store.get(id);
    const k = this.check(c);
    const health = c.State.Health;
    if (!k || !health || !c.State.Running || c.State.Paused) return;
    const start = new Date();
    const r = await this.run(id, k.cmd, k.hc.Timeout);
    if (!c.State.Running) return; // it stopped while probing: that is not a health result
    health.Log = [...health.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: r.code, Output: r.output }].slice(-MAX_LOG);
    const before = health.Status;
    if (r.code === 0) {
      health.Status = "healthy";
      health.FailingStreak = 0;
    } else if (!(health.Status === "starting" && Date.now() - Date.parse(c.State.StartedAt) < k.hc.StartPeriod / 1e6)) {
      health.FailingStreak++;
      if (health.FailingStreak >= k.hc.Retries) health.Status = "unhealthy";
    }
    if (health.Status !== before) {
      await this.o.runner.store.save(c);
      this.o.events.emit("container", `health_status: ${health.Status}`, id, { name: c.Name.replace(/^\//, ""), image: c.ImageName });
    }
  }

  /** Runs the probe as an exec; its output (both streams, cut at 4 KiB) and exit code, -1 on timeout. */
  private async run(id: string, cmd: string[], timeoutNs: number): Promise<{ code: number; output: string }> {
    const { Id } = this.o.exec.create(id, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    try {
      return await this.runExec(Id, timeoutNs);
    } finally {
      this.o.exec.forget(Id); // probes are not kept as the container's execs
    }
  }

  private async runExec(Id: string, timeoutNs: number): Promise<{ code: number; output: string }> {
    let output = Buffer.alloc(0);
    let sock;
    try {
      sock = await this.o.exec.start(Id);
    } catch (e) {
      return { code: -1, output: (e as Error).message };
    }
    sock?.on("data", demux((_stream, data) => {
      if (output.length < MAX_OUTPUT) output = Buffer.concat([output, data]).subarray(0, MAX_OUTPUT);
    }));
    sock?.on("error", () => {});
    const timedOut = await Promise.race([this.o.exec.ended(Id).then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), timeoutNs / 1e6).unref())]);
    if (timedOut) {
      const pid = this.o.exec.get(Id).Pid;
      try { if (pid > 0) process.kill(pid, "SIGKILL"); } catch { /* gone */ }
      sock?.destroy();
      return { code: -1, output: `Health check exceeded timeout (${formatGoDuration(timeoutNs)})` };
    }
    // The output may trail the exit by a moment: wait for the attach stream's end (bounded).
    if (sock && !sock.readableEnded) await new Promise<void>((r) => { sock!.once("end", r); sock!.once("close", r); setTimeout(r, 1000).unref(); });
    sock?.destroy();
    return { code: this.o.exec.get(Id).ExitCode ?? -1, output: output.toString("utf8") };
  }
}
