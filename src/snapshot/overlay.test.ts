import { test } from "node:test";
import assert from "node:assert/strict";
import { snapshotterSuite } from "./testsuite.js";
import { openOverlaySnapshotter } from "./overlay.js";
import { compactOverlayData } from "./mount.js";

snapshotterSuite("overlay", openOverlaySnapshotter);

test("overlay lowerdir lists past a page are made relative to their common directory", () => {
  const lowers = Array.from({ length: 130 }, (_, i) => `/var/lib/berth/snapshots/overlay/l/${String(i).padStart(8, "A")}`);
  const data = [`lowerdir=${lowers.join(":")}`, "upperdir=/u", "workdir=/w"];
  assert.ok(data.join(",").length > 4096);
  const c = compactOverlayData(data);
  assert.equal(c.cwd, "/var/lib/berth/snapshots/overlay/l/");
  assert.ok(c.data.startsWith("lowerdir=AAAAAAA0:AAAAAAA1:"));
  assert.ok(c.data.endsWith(",upperdir=/u,workdir=/w"));
  assert.ok(c.data.length < 4096);
  assert.deepEqual(compactOverlayData(["lowerdir=/a/l/x", "upperdir=/u"]), { data: "lowerdir=/a/l/x,upperdir=/u" });
});
