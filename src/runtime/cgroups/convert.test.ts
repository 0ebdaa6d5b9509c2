import { test } from "node:test";
import assert from "node:assert/strict";
import { blkioWeightToIoWeight, deviceRuleLine, devicesAllowAll, sharesToWeight, swapMaxV2 } from "./convert.js";
import { resolveCgroupPath } from "./cgroup-path.js";
import { InvalidArgument } from "../../errdefs.js";

test("cpu shares convert to weight with the runc 1.3.2 / crun 1.23 formula", () => {
  const table: [number, number][] = [
    [0, 0], [1, 1], [2, 1], [3, 2], [10, 4], [128, 21], [512, 59], [1024, 100], [2048, 174], [4096, 303],
    [100000, 4340], [262143, 10000], [262144, 10000], [1000000, 10000],
  ];
  for (const [shares, weight] of table) assert.equal(sharesToWeight(shares), weight, `shares ${shares}`);
  // Agrees with the formula as published, ceil(10^(L²/612 + 125L/612 − 7/34)), over the whole range.
  for (let s = 3; s < 262144; s += 7) {
    const l = Math.log2(s);
    assert.equal(sharesToWeight(s), Math.ceil(10 ** ((l * l) / 612 + (125 * l) / 612 - 7 / 34)), `shares ${s}`);
  }
  // Monotonic over the whole range.
  let prev = 0;
  for (let s = 2; s <= 262144; s += 97) {
    const w = sharesToWeight(s);
    assert.ok(w >= prev, `weight decreased at shares ${s}`);
    prev = w;
  }
});

test("blkio weight maps linearly onto io.weight", () => {
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
  assert.equal(blkioWeightToIoWeight(500), 4950);
  assert.equal(blkioWeightToIoWeight(0), 0);
});

test("swap.max is OCI memory+swap minus the memory limit", () => {
  assert.equal(swapMaxV2(100 << 20, 300 << 20), String(200 << 20));
  assert.equal(swapMaxV2(100 << 20, 100 << 20), "0");
  assert.equal(swapMaxV2(100 << 20, -1), "max");
  assert.equal(swapMaxV2(100 << 20, undefined), undefined);
  assert.equal(swapMaxV2(undefined, -1), "max");
  assert.throws(() => swapMaxV2(undefined, 300), { name: "InvalidArgument", message: /needs a memory limit/ });
  assert.throws(() => swapMaxV2(-1, 300), InvalidArgument);
  assert.throws(() => swapMaxV2(400, 300), { message: "memory swap 300 is lower than the memory limit 400 (OCI swap is memory+swap)" });
});

test("device rules become devices.allow/deny lines", () => {
  assert.equal(deviceRuleLine({ allow: false, access: "rwm" }), "a *:* rwm");
  assert.equal(deviceRuleLine({ allow: true, type: "c", major: 1, minor: 3, access: "rwm" }), "c 1:3 rwm");
  assert.equal(deviceRuleLine({ allow: true, type: "c", major: 136, access: "rw" }), "c 136:* rw");
  assert.throws(() => deviceRuleLine({ allow: true, type: "x" }), /type "x"/);
  assert.throws(() => deviceRuleLine({ allow: true, access: "rwx" }), /access "rwx"/);
});

test("allow-all detection for v2 device rules", () => {
  assert.equal(devicesAllowAll(undefined), true);
  assert.equal(devicesAllowAll([]), true);
  assert.equal(devicesAllowAll([{ allow: true, access: "rwm" }]), true);
  assert.equal(devicesAllowAll([{ allow: false, access: "rwm" }]), false);
  assert.equal(devicesAllowAll([{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }]), false);
  assert.equal(devicesAllowAll([{ allow: false, access: "rwm" }, { allow: true, access: "mrw" }]), true);
  assert.equal(devicesAllowAll([{ allow: true, access: "rw" }]), false);
  assert.equal(devicesAllowAll([{ allow: true, type: "c", major: 1, minor: 3 }]), true);
  assert.equal(devicesAllowAll([{ allow: false, type: "c", major: 1, minor: 3 }]), false);
});

test("cgroupsPath resolution: absolute, relative, empty, and refusals", () => {
  assert.equal(resolveCgroupPath("/a/b", "c1", "/berth"), "/a/b");
  assert.equal(resolveCgroupPath("/a/b/", "c1", "/berth"), "/a/b");
  assert.equal(resolveCgroupPath("x/y", "c1", "/berth"), "/berth/x/y");
  assert.equal(resolveCgroupPath("", "c1", "/berth"), "/berth/c1");
  assert.equal(resolveCgroupPath(undefined, "c1", "/berth"), "/berth/c1");
  assert.equal(resolveCgroupPath("//a//b", "c1", "/berth"), "/a/b");
  assert.throws(() => resolveCgroupPath("../../etc", "c1", "/berth"), { name: "InvalidArgument", message: /"\.\." components/ });
  assert.throws(() => resolveCgroupPath("/a/../../b", "c1", "/berth"), InvalidArgument);
  assert.throws(() => resolveCgroupPath("/", "c1", "/berth"), /root cgroup/);
  assert.throws(() => resolveCgroupPath("", "", "/berth"), /no container id/);
  assert.throws(() => resolveCgroupPath("system.slice:docker:abc", "c1", "/berth"), /systemd cgroup driver/);
});
