/** `exec`: a new process in a running container, from --process or from flags over the container's own process. */
import { readFileSync } from "node:fs";
import { InvalidArgument } from "../../errdefs.js";
import type { Runtime } from "../runtime.js";
import type { Process } from "../spec.js";
import { parseArgs, bool, list, str, type FlagSpec } from "./args.js";
import { waitShim } from "./run.js";

const FLAGS: FlagSpec[] = [
  { name: "console-socket", kind: "string" }, { name: "cwd", kind: "string" },
  { name: "env", alias: "e", kind: "list" }, { name: "tty", alias: "t", kind: "bool" },
  { name: "user", alias: "u", kind: "string" }, { name: "additional-gids", alias: "g", kind: "list" },
  { name: "process", alias: "p", kind: "string" }, { name: "detach", alias: "d", kind: "bool" },
  { name: "pid-file", kind: "string" }, { name: "process-label", kind: "string" },
  { name: "apparmor", kind: "string" }, { name: "no-new-privs", kind: "bool" },
  { name: "cap", alias: "c", kind: "list" }, { name: "preserve-fds", kind: "string" },
  { name: "ignore-paused", kind: "bool" },
];

function mergeEnv(base: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...extra]) out.set(e.split("=")[0]!, e);
  return [...out.values()];
}

export async function execCommand(rt: Runtime, argv: string[]): Promise<number> {
  const p = parseArgs(argv, FLAGS);
  const [id, ...cmd] = p.args;
  if (!id) throw new InvalidArgument(`"exec" requires a container id`);
  let proc: Process;
  const file = str(p, "process");
  if (file) {
    try {
      proc = JSON.parse(readFileSync(file, "utf8")) as Process;
    } catch (e) {
      throw new InvalidArgument(`--process ${file}: ${(e as Error).message}`);
    }
  } else {
    if (cmd.length === 0) throw new InvalidArgument(`"exec" requires a command (or --process)`);
    const base = (await rt.store.spec(id)).process!;
    proc = { ...base, args: cmd, terminal: bool(p, "tty"), env: mergeEnv(base.env ?? [], list(p, "env")), cwd: str(p, "cwd") ?? base.cwd };
    const user = str(p, "user");
    if (user) {
      const [u, g] = user.split(":");
      if (!/^\d+$/.test(u!) || (g !== undefined && !/^\d+$/.test(g))) throw new InvalidArgument(`--user: want uid[:gid] as numbers, got "${user}"`);
      proc.user = { uid: Number(u), gid: Number(g ?? 0) };
    }
    const gids = list(p, "additional-gids").map(Number);
    if (gids.length) proc.user = { ...proc.user, additionalGids: gids };
    if (bool(p, "no-new-privs")) proc.noNewPrivileges = true;
    const apparmor = str(p, "apparmor");
    if (apparmor) proc.apparmorProfile = apparmor;
    const caps = list(p, "cap");
    if (caps.length && proc.capabilities) {
      const c = proc.capabilities;
      for (const k of ["bounding", "effective", "permitted", "inheritable", "ambient"] as const) c[k] = [...new Set([...(c[k] ?? []), ...caps])];
    }
  }
  if (str(p, "console-socket") === undefined && proc.terminal) throw new InvalidArgument("exec with a terminal needs --console-socket");
  const preserve = Number(str(p, "preserve-fds") ?? 0);
  const res = await rt.exec(id, proc, {
    consoleSocket: str(p, "console-socket"), pidFile: str(p, "pid-file"), detach: bool(p, "detach"), preserveFds: preserve,
  });
  if (bool(p, "detach")) return 0;
  return waitShim(res.shim);
}
