import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyLayer, writeTar, type FileDigest } from "../snapshot/index.js";
import { checksum } from "./builder.js";

test("COPY's checksum: the digests recorded at extraction give the same sum as reading the files, and are used only while the inode matches", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "berth-checksum-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const known = new Map<string, FileDigest>();
  const tar: Buffer[] = [];
  for await (const c of writeTar([
    { header: { name: "src", type: "dir", mode: 0o755 } },
    { header: { name: "src/a.txt", type: "file", size: 3 }, body: Buffer.from("one") },
    { header: { name: "src/b.bin", type: "file", size: 4 }, body: Buffer.from("\0\x01\x02\x03") },
    { header: { name: "src/l", type: "symlink", linkname: "a.txt" } },
  ])) tar.push(c);
  await applyLayer(dir, [Buffer.concat(tar)], { whiteouts: "delete", diffId: false, fileDigests: known });
  assert.equal(known.size, 2);
  const read = await checksum([join(dir, "src")], dir);
  assert.equal(await checksum([join(dir, "src")], dir, undefined, known), read, "recorded digests and reading agree");
  const a = known.get("src/a.txt")!;
  const wrongIno = new Map(known).set("src/a.txt", { sha256: "0".repeat(64), ino: a.ino + 1 });
  assert.equal(await checksum([join(dir, "src")], dir, undefined, wrongIno), read, "another inode: the file is read");
  const forged = new Map(known).set("src/a.txt", { sha256: "0".repeat(64), ino: a.ino });
  assert.notEqual(await checksum([join(dir, "src")], dir, undefined, forged), read, "the recorded digest is what counts while the inode matches");
});
