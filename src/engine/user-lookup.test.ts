import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lookupUser } from "./user-lookup.js";

test("docker's User forms resolve against the image's passwd and group files", (t) => {
  const root = mkdtempSync(join(tmpdir(), "berth-user-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nwww-data:x:33:\nweb:x:1001:www-data\naudio:x:29:\n");
  assert.deepEqual(lookupUser(root, undefined), { uid: 0, gid: 0, additionalGids: [], home: "/root" });
  assert.deepEqual(lookupUser(root, "www-data"), { uid: 33, gid: 33, additionalGids: [1001], home: "/var/www" });
  assert.deepEqual(lookupUser(root, "1234"), { uid: 1234, gid: 0, additionalGids: [], home: "/" });
  assert.deepEqual(lookupUser(root, "33:audio", ["web"]), { uid: 33, gid: 29, additionalGids: [1001], home: "/var/www" });
  assert.throws(() => lookupUser(root, "nobody"), /unable to find user nobody: no matching entries in passwd file/);
  assert.throws(() => lookupUser(root, "0:nogroup"), /unable to find group nogroup/);
});
