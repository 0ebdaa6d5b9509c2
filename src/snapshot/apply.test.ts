import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { applyLayer } from "./apply.js";
import { addon } from "./sys.js";
import { writeTar, type TarWriteEntry } from "./tar/writer.js";

async function tarOf(entries: TarWriteEntry[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of writeTar(entries)) out.push(c);
  return Buffer.concat(out);
}

function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const T = (sec: number, nsec = 0) => ({ sec, nsec });
const cap = Buffer.from("0100000200200000000000000000000000000000", "hex");

test("applyLayer creates every entry type with modes, owners, times and xattrs, and returns the diff_id", async (t) => {
  const dir = tempDir(t, "berth-apply-");
  const tar = await tarOf([
    { header: { name: "etc", type: "dir", mode: 0o755, mtime: T(1000) } },
    { header: { name: "etc/passwd", type: "file", mode: 0o644, uid: 0, gid: 0, size: 5, mtime: T(1001, 5) }, body: Buffer.from("root\n") },
    { header: { name: "tmp", type: "dir", mode: 0o1777, mtime: T(1002) } },
    { header: { name: "bin/su", type: "file", mode: 0o4755, uid: 0, gid: 0, size: 2, mtime: T(1003) }, body: Buffer.from("su") },
    { header: { name: "bin/ping", type: "file", mode: 0o755, size: 0, xattrs: { "security.capability": cap, "user.a": Buffer.from("1"), "trusted.b": Buffer.from("2") } } },
    { header: { name: "bin/ping2", type: "hardlink", linkname: "bin/ping" } },
    { header: { name: "home/u/f", type: "file", mode: 0o600, uid: 1000, gid: 1001, size: 1, mtime: T(1004) }, body: Buffer.from("x") },
    { header: { name: "home/u", type: "dir", mode: 0o700, uid: 1000, gid: 1001, mtime: T(1005, 7) } },
    { header: { name: "sh", type: "symlink", linkname: "/bin/busybox", mtime: T(1006, 9), uid: 5, gid: 6 } },
    { header: { name: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 } },
    { header: { name: "dev/loop0", type: "block", mode: 0o660, devmajor: 7, devminor: 0, gid: 6 } },
    { header: { name: "run/fifo", type: "fifo", mode: 0o620 } },
  ]);
  const r = await applyLayer(dir, [tar]);
  assert.equal(r.diffId, `sha256:${createHash("sha256").update(tar).digest("hex")}`);
  assert.equal(r.size, tar.length);

  const st = (p: string) => lstatSync(join(dir, p), { bigint: true });
  assert.equal(readFileSync(join(dir, "etc/passwd"), "utf8"), "root\n");
  assert.equal(st("etc/passwd").mtimeNs, 1001_000_000_005n);
  assert.equal(st("etc").mtimeNs, 1000_000_000_000n, "directory mtime set after its contents");
  assert.equal(Number(st("tmp").mode) & 0o7777, 0o1777);
  assert.equal(Number(st("bin/su").mode) & 0o7777, 0o4755);
  assert.deepEqual(addon().lgetxattr(join(dir, "bin/ping"), "security.capability"), cap);
  assert.equal(addon().lgetxattr(join(dir, "bin/ping"), "user.a").toString(), "1");
  assert.equal(addon().lgetxattr(join(dir, "bin/ping"), "trusted.b").toString(), "2");
  assert.equal(st("bin/ping2").ino, st("bin/ping").ino);
  assert.equal(st("bin/ping").nlink, 2n);
  assert.deepEqual([st("home/u").uid, st("home/u").gid, Number(st("home/u").mode) & 0o777], [1000n, 1001n, 0o700]);
  assert.equal(st("home/u").mtimeNs, 1005_000_000_007n);
  assert.equal(readlinkSync(join(dir, "sh")), "/bin/busybox");
  assert.equal(st("sh").mtimeNs, 1006_000_000_009n);
  assert.deepEqual([st("sh").uid, st("sh").gid], [5n, 6n]);
  assert.ok(st("dev/null").isCharacterDevice());
  assert.equal(st("dev/null").rdev, 259n); // makedev(1, 3)
  assert.ok(st("dev/loop0").isBlockDevice());
  assert.equal(st("dev/loop0").rdev, 1792n); // makedev(7, 0)
  assert.ok(st("run/fifo").isFIFO());
  assert.equal(Number(st("run/fifo").mode) & 0o777, 0o620);
});

test("a gzip layer gives the diff_id of its uncompressed tar", async (t) => {
  const tar = await tarOf([{ header: { name: "a", type: "file", size: 3 }, body: Buffer.from("abc") }]);
  const r = await applyLayer(tempDir(t, "berth-apply-"), [gzipSync(tar)]);
  assert.equal(r.diffId, `sha256:${createHash("sha256").update(tar).digest("hex")}`);
});

test("large files are streamed to disk", async (t) => {
  const dir = tempDir(t, "berth-apply-");
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const n = 96;
  async function* body() { for (let i = 0; i < n; i++) yield chunk; }
  const r = await applyLayer(dir, writeTar([{ header: { name: "big", type: "file", size: n * chunk.length }, body: body() }]));
  assert.equal(lstatSync(join(dir, "big")).size, n * chunk.length);
  assert.ok(r.size > n * chunk.length);
});

test("overlay mode turns .wh. files into whiteout devices and .wh..wh..opq into the opaque xattr", async (t) => {
  const dir = tempDir(t, "berth-apply-");
  await applyLayer(dir, [await tarOf([
    { header: { name: "a/.wh.gone", type: "file", size: 0 } },
    { header: { name: "b", type: "dir" } },
    { header: { name: "b/.wh..wh..opq", type: "file", size: 0 } },
    { header: { name: "b/kept", type: "file", size: 0 } },
    { header: { name: ".wh..wh.plnk", type: "dir" } },
  ])]);
  const wh = lstatSync(join(dir, "a/gone"));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal(addon().lgetxattr(join(dir, "b"), "trusted.overlay.opaque").toString(), "y");
  assert.ok(existsSync(join(dir, "b/kept")));
  assert.ok(!existsSync(join(dir, ".wh..wh.plnk")), "AUFS bookkeeping is skipped");
});

test("delete mode removes whited-out paths and the children an opaque directory hides", async (t) => {
  const dir = tempDir(t, "berth-apply-");
  mkdirSync(join(dir, "a/sub"), { recursive: true });
  writeFileSync(join(dir, "a/sub/f"), "");
  writeFileSync(join(dir, "a/keep"), "");
  mkdirSync(join(dir, "o"));
  writeFileSync(join(dir, "o/old1"), "");
  writeFileSync(join(dir, "o/old2"), "");
  await applyLayer(dir, [await tarOf([
    { header: { name: "a/.wh.sub", type: "file", size: 0 } },
    { header: { name: "o/new", type: "file", size: 0 } },
    { header: { name: "o/.wh..wh..opq", type: "file", size: 0 } },
    { header: { name: "x/.wh.nothing", type: "file", size: 0 } },
  ])], { whiteouts: "delete" });
  assert.ok(!existsSync(join(dir, "a/sub")));
  assert.ok(existsSync(join(dir, "a/keep")));
  assert.deepEqual(readdirSync(join(dir, "o")), ["new"]);
  assert.ok(!existsSync(join(dir, "x")), "a whiteout creates nothing in delete mode");
});


test("fileDigests records each file's sha256 and inode, a hardlink's from its target, and only the last entry at a path; diffId: false skips the diff_id", async (t) => {
  const dir = tempDir(t, "berth-apply-");
  const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
  const digests = new Map<string, { sha256: string; ino: number }>();
  const r = await applyLayer(dir, [await tarOf([
    { header: { name: "a", type: "file", size: 3 }, body: Buffer.from("one") },
    { header: { name: "d/b", type: "file", size: 3 }, body: Buffer.from("two") },
    { header: { name: "d/link", type: "hardlink", linkname: "d/b" } },
    { header: { name: "c", type: "file", size: 1 }, body: Buffer.from("x") },
    { header: { name: "c", type: "symlink", linkname: "a" } },
    { header: { name: "e", type: "file", size: 1 }, body: Buffer.from("y") },
    { header: { name: "e", type: "file", size: 5 }, body: Buffer.from("again") },
    { header: { name: "empty", type: "file", size: 0 } },
  ])], { whiteouts: "delete", diffId: false, fileDigests: digests });
  assert.equal(r.diffId, "");
  const ino = (p: string): number => lstatSync(join(dir, p)).ino;
  assert.deepEqual(Object.fromEntries(digests), {
    a: { sha256: sha("one"), ino: ino("a") },
    "d/b": { sha256: sha("two"), ino: ino("d/b") },
    "d/link": { sha256: sha("two"), ino: ino("d/b") },
    e: { sha256: sha("again"), ino: ino("e") },
    empty: { sha256: sha(""), ino: ino("empty") },
  }, "c is a symlink now: no digest");
});

test("a file comes out with the tar's owner and mode when made with them directly: setgid directories (in the tar, made for it, already there), umask'd bits, setuid", async (t) => {
  const dir = tempDir(t, "berth-apply-");
  mkdirSync(join(dir, "pre"));
  chownSync(join(dir, "pre"), 0, 7);
  chmodSync(join(dir, "pre"), 0o2775);
  const old = process.umask(0o027);
  t.after(() => process.umask(old));
  await applyLayer(dir, [await tarOf([
    { header: { name: "g", type: "dir", mode: 0o2775, uid: 0, gid: 50 } },
    { header: { name: "g/f", type: "file", mode: 0o666, size: 1 }, body: Buffer.from("f") },
    { header: { name: "g/implied/f", type: "file", mode: 0o644, size: 1 }, body: Buffer.from("f") },
    { header: { name: "pre/f", type: "file", mode: 0o644, size: 1 }, body: Buffer.from("f") },
    { header: { name: "plain", type: "file", mode: 0o664, size: 1 }, body: Buffer.from("p") },
    { header: { name: "suid", type: "file", mode: 0o4755, size: 1 }, body: Buffer.from("s") },
    { header: { name: "other", type: "file", mode: 0o600, uid: 1000, gid: 1000, size: 1 }, body: Buffer.from("o") },
  ])], { whiteouts: "delete" });
  const own = (p: string): string => { const st = lstatSync(join(dir, p)); return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`; };
  assert.equal(own("g"), "0:50 2775");
  assert.equal(own("g/f"), "0:0 666", "not the setgid directory's group, not the umask's mode");
  assert.match(own("g/implied"), /^0:50 2/, "a directory made for an entry in a setgid one is setgid, as the kernel makes it");
  assert.equal(own("g/implied/f"), "0:0 644");
  assert.equal(own("pre/f"), "0:0 644", "a setgid directory that was there before");
  assert.equal(own("plain"), "0:0 664");
  assert.equal(own("suid"), "0:0 4755");
  assert.equal(own("other"), "1000:1000 600");
});
