import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountAll, unmount, writableDir } from "./mount.js";

test("mountAll binds read-only, unmount is idempotent, failures name the mount", (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "berth-mount-"));
  const src = join(tmp, "src"), dst = join(tmp, "dst");
  t.after(() => { unmount(dst, { detach: true }); rmSync(tmp, { recursive: true, force: true }); });
  mkdirSync(src);
  mkdirSync(dst);
  writeFileSync(join(src, "f"), "x");
  mountAll([{ type: "bind", source: src, options: ["rbind", "ro"] }], dst);
  assert.equal(readFileSync(join(dst, "f"), "utf8"), "x");
  assert.throws(() => writeFileSync(join(dst, "g"), ""), { code: "EROFS" });
  unmount(dst);
  unmount(dst);
  writeFileSync(join(dst, "g"), "");
  assert.throws(() => mountAll([{ type: "bind", source: join(tmp, "missing"), options: ["rbind"] }], dst), (e: Error) =>
    e.name === "NotFound" && e.message.includes(`mount bind ${join(tmp, "missing")} on ${dst}`));
  assert.throws(() => mountAll([], dst), { name: "InvalidArgument" });
});

test("writableDir finds the upper dir or the rw bind source", () => {
  assert.equal(writableDir([{ type: "overlay", source: "overlay", options: ["lowerdir=/a", "upperdir=/u", "workdir=/w"] }]), "/u");
  assert.equal(writableDir([{ type: "bind", source: "/s", options: ["rbind", "rw"] }]), "/s");
  assert.throws(() => writableDir([{ type: "bind", source: "/s", options: ["rbind", "ro"] }]), { name: "InvalidArgument" });
});
