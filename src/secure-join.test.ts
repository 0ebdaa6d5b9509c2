import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, symlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { secureJoin } from "./secure-join.js";

test("symlinks resolve inside the root, never above it", (t) => {
  const root = mkdtempSync(join(tmpdir(), "berth-sj-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "etc"));
  symlinkSync("/etc", join(root, "abs"));
  symlinkSync("../../../../etc", join(root, "rel"));
  symlinkSync("loop", join(root, "loop"));
  assert.equal(secureJoin(root, "/abs/passwd"), join(root, "etc/passwd"));
  assert.equal(secureJoin(root, "rel/passwd"), join(root, "etc/passwd"));
  assert.equal(secureJoin(root, "/../../etc/shadow"), join(root, "etc/shadow"));
  assert.equal(secureJoin(root, "missing/x"), join(root, "missing/x"));
  assert.throws(() => secureJoin(root, "/loop/x"), /too many levels/);
});
