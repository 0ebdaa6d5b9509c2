/**
 * OCI hooks: each runs with the container state as JSON on stdin, its own args and env, and an
 * optional timeout in seconds (runtime-spec config.md "POSIX-platform Hooks").
 */
import { spawn } from "node:child_process";
import { BerthError } from "../errdefs.js";
import type { Hook, State } from "./spec.js";

export function runHook(h: Hook, state: State, phase: string, index: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const [argv0, ...args] = h.args && h.args.length ? h.args : [h.path];
    const child = spawn(h.path, args, { argv0, env: Object.fromEntries((h.env ?? []).map((e) => { const i = e.indexOf("="); return [e.slice(0, i), e.slice(i + 1)]; })), stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => { if (stderr.length < 4096) stderr += d; });
    child.stdin!.on("error", () => {});
    child.stdin!.end(JSON.stringify(state));
    let timer: NodeJS.Timeout | undefined;
    if (h.timeout && h.timeout > 0) {
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new BerthError(`hooks.${phase}[${index}] ${h.path}: timed out after ${h.timeout}s`));
      }, h.timeout * 1000);
    }
    child.on("error", (e) => { if (timer) clearTimeout(timer); reject(new BerthError(`hooks.${phase}[${index}] ${h.path}: ${e.message}`)); });
    child.on("exit", (code, sig) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolvePromise();
      else reject(new BerthError(`hooks.${phase}[${index}] ${h.path}: ${sig ? `killed by ${sig}` : `exit status ${code}`}${stderr ? `: ${stderr.trim()}` : ""}`));
    });
  });
}

export async function runHooks(hooks: Hook[] | undefined, state: State, phase: string): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) await runHook(h, state, phase, i);
}
