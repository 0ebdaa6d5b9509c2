import { test } from "node:test";
import assert from "node:assert/strict";
import { dockerSeccompProfile } from "./seccomp-profile.js";

const profile = JSON.stringify({
  defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1,
  archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] }, { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] }],
  syscalls: [
    { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
    { name: "uname", action: "SCMP_ACT_ALLOW" },
    { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
    { names: ["reboot"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_ADMIN"] } },
    { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
    { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
  ],
});

test("a docker profile becomes OCI seccomp for this container's capabilities and this host's architecture", () => {
  const plain = dockerSeccompProfile(profile, ["CAP_CHOWN"], "x64");
  assert.equal(plain.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(plain.defaultErrnoRet, 1);
  assert.deepEqual(plain.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  assert.deepEqual(plain.syscalls!.map((r) => r.names.join(",")), ["read,write", "uname", "reboot", "arch_prctl", "personality"]);
  assert.deepEqual(plain.syscalls!.at(-1)!.args, [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }]);
  const admin = dockerSeccompProfile(profile, ["CAP_SYS_ADMIN"], "x64");
  assert.deepEqual(admin.syscalls!.map((r) => r.names.join(",")), ["read,write", "uname", "mount", "arch_prctl", "personality"]);
  const arm = dockerSeccompProfile(profile, [], "arm64");
  assert.deepEqual(arm.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
  assert.ok(!arm.syscalls!.some((r) => r.names.includes("arch_prctl")), "an amd64-only rule is left out on arm64");
});

test("a profile that is not JSON, has no defaultAction, or a rule without names is refused by name", () => {
  assert.throws(() => dockerSeccompProfile("{", []), /not valid JSON/);
  assert.throws(() => dockerSeccompProfile("{\"syscalls\":[]}", []), /needs a defaultAction/);
  assert.throws(() => dockerSeccompProfile(JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ action: "SCMP_ACT_ERRNO" }] }), []), /syscalls\[0\] needs names/);
});
