import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { addon } from "../sys.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTar } from "./reader.js";
import { writeTar, type TarWriteEntry } from "./writer.js";
import type { TarHeader } from "./header.js";

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return Buffer.concat(out);
}

async function readAll(tar: Buffer): Promise<{ header: TarHeader; data: Buffer }[]> {
  const out = [];
  for await (const e of readTar([tar])) out.push({ header: e.header, data: await collect(e.body) });
  return out;
}

const longDir = "d".repeat(120) + "/" + "e".repeat(120);
const longName = `${longDir}/${"f".repeat(150)}.txt`;

const entries: TarWriteEntry[] = [
  { header: { name: "dir", type: "dir", mode: 0o1777, uid: 1, gid: 2, mtime: { sec: 1_600_000_000, nsec: 0 } } },
  { header: { name: "dir/hello.txt", type: "file", mode: 0o4755, size: 5, mtime: { sec: 1_600_000_001, nsec: 123_456_789 } }, body: Buffer.from("hello") },
  { header: { name: longName, type: "file", size: 3, uid: 70_000_000, gid: 3 }, body: Buffer.from("abc") },
  { header: { name: "dir/link", type: "symlink", linkname: "/" + "t".repeat(200) } },
  { header: { name: "dir/hard", type: "hardlink", linkname: "dir/hello.txt" } },
  { header: { name: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 } },
  { header: { name: "dev/sda", type: "block", mode: 0o660, devmajor: 8, devminor: 0 } },
  { header: { name: "fifo", type: "fifo", mode: 0o600 } },
  { header: { name: "ünïcödé/ファイル", type: "file", size: 0 } },
  {
    header: { name: "bin/ping", type: "file", size: 2, xattrs: { "security.capability": Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "user.note": Buffer.from("a=b\nc") } },
    body: [Buffer.from("p"), Buffer.from("g")],
  },
];

test("tar writer output reads back identically (long names, xattrs, devices, hardlinks, big ids, nsec mtime)", async () => {
  const tar = await collect(writeTar(entries));
  assert.equal(tar.length % 512, 0);
  const got = await readAll(tar);
  assert.equal(got.length, entries.length);
  for (const [i, e] of entries.entries()) {
    const h = got[i]!.header;
    assert.equal(h.name, e.header.type === "dir" ? `${e.header.name}/` : e.header.name);
    assert.equal(h.type, e.header.type);
    if (e.header.mode !== undefined) assert.equal(h.mode, e.header.mode);
    if (e.header.uid !== undefined) assert.equal(h.uid, e.header.uid);
    if (e.header.linkname !== undefined) assert.equal(h.linkname, e.header.linkname);
    if (e.header.mtime) assert.deepEqual(h.mtime, e.header.mtime);
    assert.equal(h.devmajor, e.header.devmajor ?? 0);
    assert.equal(h.devminor, e.header.devminor ?? 0);
    assert.deepEqual(h.xattrs, e.header.xattrs ?? {});
  }
  assert.equal(got[1]!.data.toString(), "hello");
  assert.equal(got[2]!.data.toString(), "abc");
  assert.equal(got[9]!.data.toString(), "pg");
});

test("GNU tar lists what the writer wrote, with long names and xattrs", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "berth-tarw-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "a.tar"), await collect(writeTar(entries)));
  const list = execFileSync("tar", ["-tf", join(dir, "a.tar")], { encoding: "utf8" }).trim().split("\n");
  assert.deepEqual(list, entries.map((e) => (e.header.type === "dir" ? `${e.header.name}/` : e.header.name)));
  const x = join(dir, "x");
  execFileSync("mkdir", [x]);
  execFileSync("tar", ["--xattrs", "--xattrs-include=*", "-xf", join(dir, "a.tar"), "-C", x, "bin/ping", longName]);
  assert.equal(readFileSync(join(x, "bin/ping"), "utf8"), "pg");
  assert.equal(readFileSync(join(x, longName), "utf8"), "abc");
  assert.equal(addon().lgetxattr(join(x, "bin/ping"), "user.note").toString(), "a=b\nc");
  assert.equal(addon().lgetxattr(join(x, "bin/ping"), "security.capability")[4], 0x20);
});

test("a body shorter than its declared size is refused", async () => {
  await assert.rejects(collect(writeTar([{ header: { name: "f", type: "file", size: 4 }, body: Buffer.from("abc") }])), /body has 3 bytes, header says 4/);
  await assert.rejects(collect(writeTar([{ header: { name: "a\0b", type: "file", size: 0 } }])), /contains NUL/);
});
