import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTar } from "./reader.js";
import { writeTar } from "./writer.js";
import { addon } from "../sys.js";
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

/** Restores a sparse entry the way apply does: segments at their offsets, holes as zeros. */
function unsparse(h: TarHeader, data: Buffer): Buffer {
  const out = Buffer.alloc(h.sparse!.realSize);
  let pos = 0;
  for (const s of h.sparse!.segments) { data.copy(out, s.offset, pos, pos + s.length); pos += s.length; }
  return out;
}

function fixtureDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-tarr-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, "src");
  mkdirSync(join(src, "x".repeat(90), "y".repeat(90)), { recursive: true });
  writeFileSync(join(src, "x".repeat(90), "y".repeat(90), "z".repeat(90)), "deep");
  execFileSync("ln", ["-s", "/" + "q".repeat(150), join(src, "longlink")]);
  writeFileSync(join(src, "plain"), "plain\n");
  addon().lsetxattr(join(src, "plain"), "user.k", Buffer.from([0, 1, 2, 255]));
  // 3 MiB file with two 4 KiB data islands: GNU tar stores it sparse.
  const fd = openSync(join(src, "sparse"), "w");
  writeSync(fd, Buffer.alloc(4096, 0x61), 0, 4096, 1 << 20);
  writeSync(fd, Buffer.alloc(4096, 0x62), 0, 4096, 2 << 20);
  ftruncateSync(fd, 3 << 20);
  closeSync(fd);
  return dir;
}

for (const format of ["gnu", "posix"] as const) {
  test(`reads GNU tar --format=${format}: long names, long links, xattrs, sparse files`, async (t) => {
    const dir = fixtureDir(t);
    const args = ["--format", format, "--sparse", "--xattrs", "--xattrs-include=user.*", "-cf", "-", "-C", join(dir, "src"), "."];
    const tar = execFileSync("tar", args, { maxBuffer: 64 << 20 });
    const got = new Map((await readAll(tar)).map((e) => [e.header.name.replace(/^\.\//, "").replace(/\/$/, ""), e]));
    const deep = got.get(`${"x".repeat(90)}/${"y".repeat(90)}/${"z".repeat(90)}`);
    assert.ok(deep, `deep file missing from ${[...got.keys()].join(", ")}`);
    assert.equal(deep.data.toString(), "deep");
    assert.equal(got.get("longlink")!.header.linkname, "/" + "q".repeat(150));
    assert.equal(got.get("longlink")!.header.type, "symlink");
    if (format === "posix") assert.deepEqual(got.get("plain")!.header.xattrs["user.k"], Buffer.from([0, 1, 2, 255]));
    const sp = got.get("sparse")!;
    assert.ok(sp.header.sparse, "sparse entry has a sparse map");
    assert.equal(sp.header.sparse.realSize, 3 << 20);
    assert.ok(sp.data.length < 1 << 20, "only the data islands are stored");
    const full = unsparse(sp.header, sp.data);
    assert.deepEqual(full, readFileSync(join(dir, "src", "sparse")));
  });
}

test("reads base-256 numbers (GNU) for big uids", async (t) => {
  const dir = fixtureDir(t);
  const tar = execFileSync("tar", ["--format", "gnu", "--owner", "3000000000", "--group", "5", "-cf", "-", "-C", join(dir, "src"), "plain"]);
  const [e] = await readAll(tar);
  assert.equal(e!.header.uid, 3_000_000_000);
  assert.equal(e!.header.gid, 5);
});

test("a corrupt or truncated stream is refused with InvalidArgument", async () => {
  const tar = await collect(writeTar([{ header: { name: "f", type: "file", size: 1000 }, body: Buffer.alloc(1000, 1) }]));
  const bad = Buffer.from(tar);
  bad[10] = 0x41;
  await assert.rejects(readAll(bad), (e: Error) => e.name === "InvalidArgument" && /checksum/.test(e.message));
  await assert.rejects(readAll(tar.subarray(0, 900)), (e: Error) => e.name === "InvalidArgument" && /truncated/.test(e.message));
  await assert.rejects(readAll(Buffer.from("not a tar at all".repeat(40))), /checksum/);
});

test("unread bodies are skipped and late reads are refused", async () => {
  const tar = await collect(writeTar([
    { header: { name: "a", type: "file", size: 3 }, body: Buffer.from("aaa") },
    { header: { name: "b", type: "file", size: 3 }, body: Buffer.from("bbb") },
  ]));
  const seen: [string, AsyncIterable<Buffer>][] = [];
  for await (const e of readTar([tar])) seen.push([e.header.name, e.body]);
  assert.deepEqual(seen.map(([n]) => n), ["a", "b"]);
  await assert.rejects(collect(seen[0]![1]), /after the reader moved on/);
});

test("PAX global headers apply to every following entry", async () => {
  const pax = Buffer.from("20 uname=globaluser\n");
  const { formatHeader } = await import("./header.js");
  const g = formatHeader({ name: "pax_global_header", mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: 0, typeflag: "g", linkname: "", uname: "", gname: "", devmajor: 0, devminor: 0 });
  const rest = await collect(writeTar([{ header: { name: "a", type: "file", size: 0 } }, { header: { name: "b", type: "dir" } }]));
  const tar = Buffer.concat([g, pax, Buffer.alloc(512 - pax.length), rest]);
  const got = await readAll(tar);
  assert.deepEqual(got.map((e) => [e.header.name, e.header.uname]), [["a", "globaluser"], ["b/", "globaluser"]]);
});
