import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSnapshotter, overlayUnsupported } from "./detect.js";
import { addon } from "./sys.js";
import { unmount } from "./mount.js";

test("auto picks overlay on ext4 and the copy-based snapshotter on top of an overlay", async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "berth-detect-"));
  const merged = join(tmp, "merged");
  t.after(() => { unmount(merged, { detach: true }); rmSync(tmp, { recursive: true, force: true }); });
  assert.equal(await overlayUnsupported(join(tmp, "plain")), null);
  assert.equal((await openSnapshotter(join(tmp, "plain"))).name, "overlay");
  // An overlay mount as the root: overlay refuses an upper dir on overlay, so auto falls back.
  for (const d of ["lo", "up", "wk", "merged"]) mkdirSync(join(tmp, d));
  addon().mount("overlay", merged, "overlay", 0, `lowerdir=${join(tmp, "lo")},upperdir=${join(tmp, "up")},workdir=${join(tmp, "wk")}`);
  const why = await overlayUnsupported(join(merged, "root"));
  assert.match(why ?? "", /overlay mount under .* failed: EINVAL/);
  const sn = await openSnapshotter(join(merged, "root"));
  assert.equal(sn.name, "native");
  await assert.rejects(openSnapshotter(join(tmp, "x"), "zfs" as "auto"), { name: "InvalidArgument" });
  await assert.rejects(openSnapshotter(join(tmp, "plain"), "native"), { name: "FailedPrecondition" }, "a root keeps its driver");
});
