/**
 * OCI `linux.seccomp` → the shim's `seccomp-*` directives (docs/shim-protocol.md), validated so a
 * bad profile names its field, e.g. `linux.seccomp.syscalls[3].action: unknown action "X"`.
 */
import { InvalidArgument } from "../errdefs.js";
import { encodeField } from "./plan-encoding.js";
import type { Seccomp } from "./spec.js";

const ACTIONS = new Set([
  "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",
]);
const OPS = new Set(["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"]);
const FLAGS = new Set(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]);

function action(a: string, field: string): string {
  if (a === "SCMP_ACT_NOTIFY") throw new InvalidArgument(`${field}: SCMP_ACT_NOTIFY (seccomp user notification) is not supported yet`);
  if (!ACTIONS.has(a)) throw new InvalidArgument(`${field}: unknown action "${a}"`);
  return a;
}

const line = (...f: (string | number)[]): string => f.map((x) => encodeField(String(x))).join(" ");

export function seccompPlanLines(s: Seccomp): string[] {
  const out: string[] = [];
  out.push(line("seccomp-default", action(s.defaultAction, "linux.seccomp.defaultAction"), s.defaultErrnoRet ?? 0));
  for (const a of s.architectures ?? []) out.push(line("seccomp-arch", a));
  (s.flags ?? []).forEach((f, i) => {
    if (!FLAGS.has(f)) throw new InvalidArgument(`linux.seccomp.flags[${i}]: unknown flag "${f}"`);
    out.push(line("seccomp-flag", f));
  });
  if (s.listenerPath) throw new InvalidArgument("linux.seccomp.listenerPath: seccomp user notification is not supported yet");
  (s.syscalls ?? []).forEach((r, i) => {
    const field = `linux.seccomp.syscalls[${i}]`;
    const act = action(r.action, `${field}.action`);
    const conds = (r.args ?? []).map((a, j) => {
      if (!OPS.has(a.op)) throw new InvalidArgument(`${field}.args[${j}].op: unknown operator "${a.op}"`);
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new InvalidArgument(`${field}.args[${j}].index: must be 0–5`);
      return `${a.index}:${a.op}:${BigInt(a.value)}:${BigInt(a.valueTwo ?? 0)}`;
    });
    if (!Array.isArray(r.names) || r.names.length === 0) throw new InvalidArgument(`${field}.names: must list at least one syscall`);
    for (const n of r.names) out.push(line("seccomp-rule", act, r.errnoRet ?? 0, n, conds.length ? conds.join(",") : "-"));
  });
  return out;
}
