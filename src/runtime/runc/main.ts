/**
 * berth-runc: a runc-compatible command line over berth's runtime library, so dockerd
 * (--add-runtime), containerd-shim-runc-v2 and podman (--runtime) can drive berth.
 */
import { appendFileSync } from "node:fs";
import { BerthError } from "../../errdefs.js";
import { Runtime } from "../runtime.js";
import { parseArgs, bool, str, type FlagSpec } from "./args.js";
import { COMMANDS } from "./commands.js";

const GLOBAL: FlagSpec[] = [
  { name: "root", kind: "string" },
  { name: "log", kind: "string" },
  { name: "log-format", kind: "string" },
  { name: "debug", kind: "bool" },
  { name: "systemd-cgroup", kind: "bool" },
  { name: "rootless", kind: "string" },
  { name: "criu", kind: "string" },
  { name: "help", alias: "h", kind: "bool" },
  { name: "version", alias: "v", kind: "bool" },
];

const USAGE = `usage: berth-runc [global options] command [options] [arguments]
commands: ${Object.keys(COMMANDS).join(", ")}
global options: --root DIR (default /run/berth-runc), --log FILE, --log-format text|json, --debug`;

export async function main(argv: string[]): Promise<number> {
  let logFile: string | undefined;
  let logJson = false;
  const log = (level: string, msg: string): void => {
    if (!logFile) return;
    const line = logJson ? JSON.stringify({ level, msg, time: new Date().toISOString() }) : `time="${new Date().toISOString()}" level=${level} msg="${msg}"`;
    try { appendFileSync(logFile, line + "\n"); } catch { /* the log is best effort */ }
  };
  try {
    const g = parseArgs(argv, GLOBAL);
    logFile = str(g, "log");
    logJson = str(g, "log-format") === "json";
    if (bool(g, "version")) {
      process.stdout.write("berth-runc version 0.1.0\nspec: 1.2.0\n");
      return 0;
    }
    const [cmd, ...rest] = g.args;
    if (!cmd || bool(g, "help")) {
      process.stdout.write(USAGE + "\n");
      return cmd || bool(g, "help") ? 0 : 1;
    }
    if (bool(g, "systemd-cgroup")) throw new BerthError("--systemd-cgroup is not supported: berth manages cgroupfs directly");
    const handler = COMMANDS[cmd];
    if (!handler) throw new BerthError(`unknown command "${cmd}" (try --help)`);
    const runtime = new Runtime({
      root: str(g, "root") ?? "/run/berth-runc",
      warn: (m) => { log("warning", m); if (!logFile) process.stderr.write(`berth-runc: warning: ${m}\n`); },
    });
    if (bool(g, "debug")) log("debug", `berth-runc ${argv.join(" ")}`);
    return await handler(runtime, rest);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log("error", msg);
    process.stderr.write(`berth-runc: ${msg}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`berth-runc: ${String(e)}\n`); process.exitCode = 1; },
);
