/** One function per berth-runc verb; each parses its flags and calls one Runtime method. */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { constants } from "node:os";
import { InvalidArgument, AlreadyExists } from "../../errdefs.js";
import type { Runtime } from "../runtime.js";
import type { LinuxResources } from "../spec.js";
import { parseArgs, bool, str, type FlagSpec } from "./args.js";
import { defaultSpec } from "./default-spec.js";
import { execCommand } from "./exec.js";
import { runForeground } from "./run.js";

type Handler = (rt: Runtime, argv: string[]) => Promise<number>;

function one(args: string[], usage: string): string {
  if (args.length < 1) throw new InvalidArgument(`"${usage}" requires a container id`);
  return args[0]!;
}

export function parseSignal(s: string | undefined): NodeJS.Signals | number {
  if (s === undefined) return "SIGTERM";
  if (/^\d+$/.test(s)) return Number(s);
  const name = (s.toUpperCase().startsWith("SIG") ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals;
  if (!(name in constants.signals)) throw new InvalidArgument(`unknown signal "${s}"`);
  return name;
}

const CREATE_FLAGS: FlagSpec[] = [
  { name: "bundle", alias: "b", kind: "string" },
  { name: "console-socket", kind: "string" },
  { name: "pid-file", kind: "string" },
  { name: "no-pivot", kind: "bool" },
  { name: "no-new-keyring", kind: "bool" },
  { name: "preserve-fds", kind: "string" },
  { name: "detach", alias: "d", kind: "bool" },
  { name: "keep", kind: "bool" },
];

function createOptions(p: ReturnType<typeof parseArgs>) {
  const preserve = Number(str(p, "preserve-fds") ?? 0);
  if (!Number.isInteger(preserve) || preserve < 0) throw new InvalidArgument(`--preserve-fds: not a number: ${str(p, "preserve-fds")}`);
  return {
    bundle: str(p, "bundle") ?? process.cwd(),
    consoleSocket: str(p, "console-socket"),
    pidFile: str(p, "pid-file"),
    noPivot: bool(p, "no-pivot"),
    preserveFds: preserve,
  };
}

const create: Handler = async (rt, argv) => {
  const p = parseArgs(argv, CREATE_FLAGS);
  await rt.create(one(p.args, "create"), createOptions(p));
  return 0;
};

const run: Handler = async (rt, argv) => {
  const p = parseArgs(argv, CREATE_FLAGS);
  const id = one(p.args, "run");
  if (bool(p, "detach")) {
    await rt.create(id, createOptions(p));
    await rt.start(id);
    return 0;
  }
  return runForeground(rt, id, createOptions(p), bool(p, "keep"));
};

const start: Handler = async (rt, argv) => {
  await rt.start(one(parseArgs(argv, []).args, "start"));
  return 0;
};

const state: Handler = async (rt, argv) => {
  const id = one(parseArgs(argv, []).args, "state");
  const st = rt.state(id);
  const s = rt.store.load(id);
  process.stdout.write(JSON.stringify({ ...st, rootfs: s.rootfs, created: s.created, owner: "" }, null, 2) + "\n");
  return 0;
};

const kill: Handler = async (rt, argv) => {
  const p = parseArgs(argv, [{ name: "all", alias: "a", kind: "bool" }]);
  const id = one(p.args, "kill");
  await rt.kill(id, parseSignal(p.args[1]), bool(p, "all"));
  return 0;
};

const del: Handler = async (rt, argv) => {
  const p = parseArgs(argv, [{ name: "force", alias: "f", kind: "bool" }]);
  const id = one(p.args, "delete");
  try {
    await rt.delete(id, bool(p, "force"));
  } catch (e) {
    // runc delete --force of a container that is already gone succeeds.
    if (!(bool(p, "force") && (e as Error).message.includes("does not exist"))) throw e;
  }
  return 0;
};

const list: Handler = async (rt, argv) => {
  const p = parseArgs(argv, [{ name: "format", alias: "f", kind: "string" }, { name: "quiet", alias: "q", kind: "bool" }]);
  const all = rt.list();
  if (bool(p, "quiet")) {
    for (const c of all) process.stdout.write(c.state.id + "\n");
  } else if (str(p, "format") === "json") {
    process.stdout.write(JSON.stringify(all.map((c) => ({ ...c.state, created: c.created }))) + "\n");
  } else {
    const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...all.map((c) => [c.state.id, String(c.state.pid ?? 0), c.state.status, c.state.bundle, c.created, "root"])];
    const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) process.stdout.write(r.map((c, i) => (i < r.length - 1 ? c.padEnd(w[i]! + 3) : c)).join("") + "\n");
  }
  return 0;
};

const pause: Handler = async (rt, argv) => { await rt.pause(one(parseArgs(argv, []).args, "pause")); return 0; };
const resume: Handler = async (rt, argv) => { await rt.resume(one(parseArgs(argv, []).args, "resume")); return 0; };

const ps: Handler = async (rt, argv) => {
  const p = parseArgs(argv, [{ name: "format", alias: "f", kind: "string" }]);
  const id = one(p.args, "ps");
  const pids = await rt.ps(id);
  if (str(p, "format") === "json") {
    process.stdout.write(JSON.stringify(pids) + "\n");
    return 0;
  }
  const out = execFileSync("ps", p.args.length > 1 ? p.args.slice(1) : ["-ef"], { encoding: "utf8" }).split("\n");
  const header = out[0] ?? "";
  const pidCol = header.trim().split(/\s+/).indexOf("PID");
  process.stdout.write(header + "\n");
  for (const line of out.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (pidCol >= 0 && pids.includes(Number(f[pidCol]))) process.stdout.write(line + "\n");
  }
  return 0;
};

const UPDATE_FLAGS: FlagSpec[] = [
  { name: "resources", alias: "r", kind: "string" },
  { name: "memory", kind: "string" }, { name: "memory-swap", kind: "string" }, { name: "memory-reservation", kind: "string" },
  { name: "cpu-period", kind: "string" }, { name: "cpu-quota", kind: "string" }, { name: "cpu-share", kind: "string" },
  { name: "cpuset-cpus", kind: "string" }, { name: "cpuset-mems", kind: "string" }, { name: "pids-limit", kind: "string" },
  { name: "blkio-weight", kind: "string" },
];

const update: Handler = async (rt, argv) => {
  const p = parseArgs(argv, UPDATE_FLAGS);
  const id = one(p.args, "update");
  let r: LinuxResources = {};
  const src = str(p, "resources");
  if (src) {
    const text = src === "-" ? readFileSync(0, "utf8") : readFileSync(src, "utf8");
    try { r = JSON.parse(text) as LinuxResources; } catch (e) { throw new InvalidArgument(`--resources: invalid JSON: ${(e as Error).message}`); }
  }
  const num = (n: string): number | undefined => {
    const v = str(p, n);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x)) throw new InvalidArgument(`--${n}: not a number: ${v}`);
    return x;
  };
  const mem = { limit: num("memory"), swap: num("memory-swap"), reservation: num("memory-reservation") };
  if (Object.values(mem).some((v) => v !== undefined)) r.memory = { ...r.memory, ...Object.fromEntries(Object.entries(mem).filter(([, v]) => v !== undefined)) };
  const cpu = { period: num("cpu-period"), quota: num("cpu-quota"), shares: num("cpu-share"), cpus: str(p, "cpuset-cpus"), mems: str(p, "cpuset-mems") };
  if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = { ...r.cpu, ...Object.fromEntries(Object.entries(cpu).filter(([, v]) => v !== undefined)) };
  const pids = num("pids-limit");
  if (pids !== undefined) r.pids = { limit: pids };
  const bw = num("blkio-weight");
  if (bw !== undefined) r.blockIO = { ...r.blockIO, weight: bw };
  await rt.update(id, r);
  return 0;
};

const events: Handler = async (rt, argv) => {
  const p = parseArgs(argv, [{ name: "stats", kind: "bool" }, { name: "interval", kind: "string" }]);
  const id = one(p.args, "events");
  const emit = async (): Promise<void> => {
    const data = await rt.cgroupOf(id).stats();
    process.stdout.write(JSON.stringify({ type: "stats", id, data }) + "\n");
  };
  if (bool(p, "stats")) {
    await emit();
    return 0;
  }
  const ms = parseDuration(str(p, "interval") ?? "5s");
  for (;;) {
    if (rt.state(id).status === "stopped") return 0;
    await emit();
    await new Promise((r) => setTimeout(r, ms));
  }
};

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new InvalidArgument(`--interval: invalid duration "${s}"`);
  const v = Number(m[1]);
  return m[2] === "ms" ? v : m[2] === "m" ? v * 60000 : v * 1000;
}

const spec: Handler = async (_rt, argv) => {
  const p = parseArgs(argv, [{ name: "bundle", alias: "b", kind: "string" }, { name: "rootless", kind: "bool" }]);
  const path = `${str(p, "bundle") ?? process.cwd()}/config.json`;
  if (existsSync(path)) throw new AlreadyExists(`File ${path} exists. Remove it first`);
  writeFileSync(path, JSON.stringify(defaultSpec(), null, "\t") + "\n");
  return 0;
};

const features: Handler = async () => {
  process.stdout.write(JSON.stringify({
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: ["prestart", "createRuntime", "poststart", "poststop"],
    mountOptions: ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable"],
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: true },
      apparmor: { enabled: true },
      selinux: { enabled: false },
    },
    annotations: { "org.opencontainers.runc.version": "berth-runc 0.1.0" },
  }, null, 4) + "\n");
  return 0;
};

export const COMMANDS: Record<string, Handler> = {
  create, start, run, state, kill, delete: del, list, pause, resume, ps, update, events, exec: execCommand, spec, features,
};
