import { test } from "node:test";
import assert from "node:assert/strict";
import { withCompiledSeccomp } from "./seccomp-compile.js";
import { seccompPlanLines } from "./seccomp.js";
import { ShimStepError } from "./shim.js";

const plan = (rules: string[]): string => ["mode monitor", ...rules, "clone pid,mnt", "child", "seccomp-load", "exec /bin/true"].join("\n");

test("a plan's seccomp rules become one compiled seccomp-bpf directive in their place", async () => {
  const rules = seccompPlanLines({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }] });
  const { text, warnings } = await withCompiledSeccomp(plan(rules));
  const lines = text.split("\n");
  assert.deepEqual(warnings, []);
  assert.equal(lines[0], "mode monitor");
  const m = /^seccomp-bpf (\d+) ([0-9a-f]+)$/.exec(lines[1]!);
  assert.ok(m, `compiled line: ${lines[1]}`);
  assert.equal(m[1], "0");
  assert.equal(m[2]!.length % 16, 0, "whole sock_filter instructions (8 bytes each)");
  assert.deepEqual(lines.slice(2), ["clone pid,mnt", "child", "seccomp-load", "exec /bin/true"]);
  // The same profile again: the same program.
  assert.equal((await withCompiledSeccomp(plan(rules))).text, text);
});

test("filter flags travel with the program; a syscall unknown here is a warning, as runc's", async () => {
  const rules = seccompPlanLines({ defaultAction: "SCMP_ACT_ERRNO", flags: ["SECCOMP_FILTER_FLAG_LOG"], syscalls: [{ names: ["read", "no_such_syscall"], action: "SCMP_ACT_ALLOW" }] });
  const { text, warnings } = await withCompiledSeccomp(plan(rules));
  assert.match(text, /^seccomp-bpf 2 [0-9a-f]+$/m);
  assert.deepEqual(warnings, ["seccomp: unknown syscall no_such_syscall skipped"]);
});

test("a plan without seccomp is unchanged; a malformed rule list is the compiler's error", async () => {
  const p = plan([]);
  assert.equal((await withCompiledSeccomp(p)).text, p);
  await assert.rejects(withCompiledSeccomp(plan(["seccomp-rule SCMP_ACT_ALLOW 0 read -"])), (e: unknown) => e instanceof ShimStepError && /seccomp-rule before seccomp-default/.test(e.message));
});
