/**
 * Hand-crafted malicious layers: each must be refused with InvalidArgument
 * naming the entry, or contained inside the layer directory; a sentinel
 * directory next to the layer dir must stay untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyLayer, type WhiteoutMode } from "./apply.js";
import { cleanEntryName } from "./safe-path.js";
import { BLOCK, formatHeader } from "./tar/header.js";
import { formatPax } from "./tar/pax.js";
import { writeTar, type TarWriteEntry } from "./tar/writer.js";

async function tarOf(entries: TarWriteEntry[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of writeTar(entries)) out.push(c);
  return Buffer.concat(out);
}

/** A file entry whose name goes in a PAX record verbatim (NUL, huge lengths). */
function paxNamed(name: string): Buffer {
  const data = formatPax([["path", Buffer.from(name)]]);
  const base = { mode: 0o644, uid: 0, gid: 0, mtime: 0, linkname: "", uname: "", gname: "", devmajor: 0, devminor: 0 };
  return Buffer.concat([
    formatHeader({ ...base, name: "PaxHeaders/x", size: data.length, typeflag: "x" }), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK),
    formatHeader({ ...base, name: "placeholder", size: 0, typeflag: "0" }), Buffer.alloc(2 * BLOCK),
  ]);
}

interface Sandbox { layer: string; outside: string; snapshot(): string }

function sandbox(t: { after(fn: () => void): void }): Sandbox {
  const base = mkdtempSync(join(tmpdir(), "berth-evil-"));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const layer = join(base, "a", "layer"), outside = join(base, "outside");
  mkdirSync(layer, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, "secret"), "sentinel");
  // Everything outside the layer dir: its siblings and the sentinel tree (never the layer itself,
  // whose planted symlinks would lead the listing outside).
  const snapshot = () => JSON.stringify([readdirSync(base), readdirSync(join(base, "a")), readdirSync(outside, { recursive: true })]) + readFileSync(join(outside, "secret"), "utf8") + lstatSync(join(outside, "secret")).nlink;
  return { layer, outside, snapshot };
}

const F = (name: string, body = "pwned"): TarWriteEntry => ({ header: { name, type: "file", size: body.length }, body: Buffer.from(body) });
const L = (name: string, linkname: string): TarWriteEntry => ({ header: { name, type: "symlink", linkname } });
const H = (name: string, linkname: string): TarWriteEntry => ({ header: { name, type: "hardlink", linkname } });

type Case = { name: string; entries: (s: Sandbox) => TarWriteEntry[] | Buffer; refused: RegExp; modes?: WhiteoutMode[] };

const refusedCases: Case[] = [
  { name: "../ climbing out", entries: () => [F("../../outside/secret")], refused: /"\.\.\/\.\.\/outside\/secret": path escapes the layer root/ },
  { name: "../ after a real directory", entries: () => [F("x/../../evil")], refused: /"x\/\.\.\/\.\.\/evil": path escapes/ },
  { name: "a file through an absolute symlink", entries: (s) => [L("a", s.outside), F("a/secret")], refused: /"a\/secret": parent "a" is a symlink/ },
  { name: "a file through a relative symlink", entries: () => [L("up", "../.."), F("up/outside/secret")], refused: /"up\/outside\/secret": parent "up" is a symlink/ },
  { name: "a directory through a symlink", entries: (s) => [L("a", s.outside), { header: { name: "a/newdir", type: "dir" } }], refused: /parent "a" is a symlink/ },
  { name: "a hardlink to a path outside", entries: () => [H("h", "../../outside/secret")], refused: /"h" hardlink target "\.\.\/\.\.\/outside\/secret": path escapes/ },
  { name: "a hardlink through a symlink", entries: (s) => [L("s", s.outside), H("h", "s/secret")], refused: /"h": parent "s" is a symlink/ },
  { name: "a hardlink to an absolute host path", entries: () => [H("h", "/etc/passwd")], refused: /"h": hardlink target "\/etc\/passwd" does not exist in this layer/ },
  { name: "a whiteout through a symlink", entries: (s) => [L("a", s.outside), F("a/.wh.secret", "")], refused: /"a\/\.wh\.secret": parent "a" is a symlink/, modes: ["overlay", "delete"] },
  { name: "an opaque marker through a symlink", entries: (s) => [L("a", s.outside), F("a/.wh..wh..opq", "")], refused: /"a\/\.wh\.\.wh\.\.opq": parent "a" is a symlink/, modes: ["overlay", "delete"] },
  { name: "a name containing NUL", entries: () => paxNamed("ok\0/../../outside/secret"), refused: /name contains NUL/ },
  { name: "an over-long path", entries: () => paxNamed("d/".repeat(2100) + "f"), refused: /longer than PATH_MAX/ },
  { name: "an over-long component", entries: () => paxNamed("x".repeat(300)), refused: /component longer than NAME_MAX/ },
];

for (const c of refusedCases) {
  for (const mode of c.modes ?? ["overlay"]) {
    test(`a layer with ${c.name} is refused (${mode}) and the host is untouched`, async (t) => {
      const s = sandbox(t);
      const before = s.snapshot();
      const e = c.entries(s);
      const tar = Buffer.isBuffer(e) ? e : await tarOf(e);
      await assert.rejects(applyLayer(s.layer, [tar], { whiteouts: mode }), (err: Error) => {
        assert.equal(err.name, "InvalidArgument", err.message);
        assert.match(err.message, c.refused);
        return true;
      });
      assert.equal(s.snapshot(), before);
      assert.equal(readFileSync(join(s.outside, "secret"), "utf8"), "sentinel");
    });
  }
}

test("absolute names are made relative to the layer (contained)", async (t) => {
  const s = sandbox(t);
  const name = `${s.outside}/secret`;
  await applyLayer(s.layer, [await tarOf([F(name)])]);
  assert.equal(readFileSync(join(s.outside, "secret"), "utf8"), "sentinel");
  assert.equal(readFileSync(join(s.layer, name), "utf8"), "pwned");
});

test("a file replacing a symlink replaces the link, never writes through it (contained)", async (t) => {
  const s = sandbox(t);
  const before = s.snapshot();
  await applyLayer(s.layer, [await tarOf([L("f", join(s.outside, "secret")), F("f"), L("d", s.outside), { header: { name: "d", type: "dir" } }, F("d/secret")])]);
  assert.equal(s.snapshot(), before);
  assert.equal(readFileSync(join(s.layer, "f"), "utf8"), "pwned");
  assert.ok(lstatSync(join(s.layer, "d")).isDirectory());
  assert.equal(readFileSync(join(s.layer, "d/secret"), "utf8"), "pwned");
});

test("a dangling symlink planted then used as a hardlink target links the link itself (contained)", async (t) => {
  const s = sandbox(t);
  await applyLayer(s.layer, [await tarOf([L("l", join(s.outside, "secret")), H("h", "l")])]);
  assert.ok(lstatSync(join(s.layer, "h")).isSymbolicLink());
  assert.equal(lstatSync(join(s.outside, "secret")).nlink, 1);
});

test("cleanEntryName keeps harmless .. inside the root, as Docker does", () => {
  assert.equal(cleanEntryName("./a/b/../c"), "a/c");
  assert.equal(cleanEntryName("/etc//passwd"), "etc/passwd");
  assert.equal(cleanEntryName("./"), "");
  assert.ok(!existsSync("/nonexistent-berth"));
});
