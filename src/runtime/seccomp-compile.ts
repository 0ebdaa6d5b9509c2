/**
 * Seccomp programs compiled once per profile. A plan's `seccomp-*` rule directives (seccomp.ts)
 * are turned into one `seccomp-bpf <flags> <hex>` directive by `berth-shim seccomp-compile`
 * (libseccomp), and the result is kept for the life of the process: berthd runs the same
 * profile (docker's default) for nearly every container, and compiling it took more CPU than the
 * rest of a container's setup (docs/ARCHITECTURE.md, "Measured").
 */
import { spawn } from "node:child_process";
import { BerthError } from "../errdefs.js";
import { decodeField } from "./plan-encoding.js";
import { ShimStepError, shimPath } from "./shim.js";

interface Compiled { line: string; warnings: string[] }
const cache = new Map<string, Promise<Compiled>>();

const isRule = (l: string): boolean => l.startsWith("seccomp-") && l !== "seccomp-load" && !l.startsWith("seccomp-bpf ");

function compile(rules: string): Promise<Compiled> {
  return new Promise((resolve, reject) => {
    const p = spawn(shimPath(), ["seccomp-compile"], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
    p.stdin.on("error", () => {});
    p.stdin.end(rules);
    p.on("error", reject);
    p.on("close", (code) => {
      const warnings: string[] = [];
      let line = "";
      for (const l of out.split("\n")) {
        const [kind, ...rest] = l.split(" ");
        if (kind === "warn") warnings.push(decodeField(rest.join(" ")));
        else if (kind === "seccomp-bpf") line = l;
        else if (kind === "error") {
          const [step, errno, detail] = rest;
          return reject(new ShimStepError(decodeField(step ?? "seccomp"), Number(errno), decodeField(detail ?? "-")));
        }
      }
      if (code !== 0 || !line) return reject(new BerthError(`berth-shim seccomp-compile failed (exit ${code})`));
      resolve({ line, warnings });
    });
  });
}

/** The plan with its seccomp rules replaced by their compiled program; the compiler's warnings. */
export async function withCompiledSeccomp(planText: string): Promise<{ text: string; warnings: string[] }> {
  const lines = planText.split("\n");
  const first = lines.findIndex(isRule);
  if (first < 0) return { text: planText, warnings: [] };
  const rules = lines.filter(isRule).join("\n") + "\n";
  let p = cache.get(rules);
  if (!p) {
    p = compile(rules);
    cache.set(rules, p);
    p.catch(() => cache.delete(rules));
  }
  const c = await p;
  const rest = lines.filter((l, i) => i === first || !isRule(l));
  rest[rest.indexOf(lines[first]!)] = c.line;
  return { text: rest.join("\n"), warnings: [...c.warnings] };
}
