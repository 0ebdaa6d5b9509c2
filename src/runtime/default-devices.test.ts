/** The device rules every container gets after its spec's own (runtime.ts, withDefaultDevices). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDefaultDevices } from "./runtime.js";
import type { DeviceRule } from "./spec.js";

const show = (rules: DeviceRule[] | undefined): string[] =>
  (rules ?? []).map((d) => `${d.allow ? "allow" : "deny"} ${d.type ?? "a"} ${d.major ?? "*"}:${d.minor ?? "*"} ${d.access ?? "rwm"}`);

test("the defaults follow the spec's rules; one already allowed after the last deny is not written twice", () => {
  const spec: DeviceRule[] = [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }];
  const out = show(withDefaultDevices({ devices: spec })!.devices);
  assert.deepEqual(out.slice(0, 2), ["deny a *:* rwm", "allow c 1:3 rwm"]);
  assert.equal(out.filter((r) => r === "allow c 1:3 rwm").length, 1);
  assert.ok(out.includes("allow c 1:5 rwm") && out.includes("allow c 136:* rwm") && out.includes("allow c *:* m"), out.join(", "));
});

test("a default the spec denies after allowing it is allowed again at the end, as runc does", () => {
  const spec: DeviceRule[] = [
    { allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    { allow: false, type: "c", major: 1, minor: 3, access: "rwm" },
  ];
  const out = show(withDefaultDevices({ devices: spec })!.devices);
  assert.equal(out.lastIndexOf("allow c 1:3 rwm") > out.indexOf("deny c 1:3 rwm"), true, out.join(", "));
});

test("no device rules in the spec: none are added (the cgroup's devices stay as they are)", () => {
  assert.equal(withDefaultDevices({ memory: { limit: 1 } })!.devices, undefined);
  assert.equal(withDefaultDevices(undefined), undefined);
});
