/**
 * Conformance suite every Snapshotter passes (after containerd's
 * core/snapshots/testsuite): real layers applied, real mounts, as root.
 * Each test gets its own root under the temp dir and unmounts and removes
 * everything in t.after, even when it fails.
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyLayer } from "./apply.js";
import { chainId } from "./chain-id.js";
import { mountAll, unmount, writableDir } from "./mount.js";
import type { Snapshotter } from "./snapshotter.js";
import { readTar } from "./tar/reader.js";
import { writeTar, type TarWriteEntry } from "./tar/writer.js";
import { unpackLayer, unpackLayerFile } from "./unpack.js";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";

export type Factory = (root: string) => Promise<Snapshotter>;

interface Env { sn: Snapshotter; root: string; tmp: string; mount(mounts: Parameters<typeof mountAll>[0], name: string): string }

async function setup(t: TestContext, factory: Factory): Promise<Env> {
  const tmp = mkdtempSync(join(tmpdir(), "berth-snap-"));
  const targets: string[] = [];
  t.after(() => {
    for (const m of targets.reverse()) try { unmount(m, { detach: true }); } catch { /* keep cleaning */ }
    rmSync(tmp, { recursive: true, force: true });
  });
  const root = join(tmp, "root");
  const sn = await factory(root);
  return {
    sn, root, tmp,
    mount(mounts, name) {
      const target = join(tmp, name);
      mkdirSync(target, { recursive: true });
      targets.push(target);
      mountAll(mounts, target);
      return target;
    },
  };
}

async function bytes(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return Buffer.concat(out);
}

const tar = (entries: TarWriteEntry[]): Promise<Buffer> => bytes(writeTar(entries));
const D = (name: string, mode = 0o755): TarWriteEntry => ({ header: { name, type: "dir", mode } });
const F = (name: string, body: string, mode = 0o644, extra: Partial<TarWriteEntry["header"]> = {}): TarWriteEntry =>
  ({ header: { name, type: "file", size: Buffer.byteLength(body), mode, ...extra }, body: Buffer.from(body) });
const WH = (name: string): TarWriteEntry => F(name, "");

/** A stable listing of a tree: path, type, mode, owner and content / link target / device. */
export function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel ? join(root, rel) : root).sort()) {
      const r = rel ? `${rel}/${name}` : name, abs = join(root, r);
      const st = lstatSync(abs);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
      const own = `${st.uid}:${st.gid}`;
      if (st.isDirectory()) { out.push(`${r} dir ${mode} ${own}`); walk(r); }
      else if (st.isSymbolicLink()) out.push(`${r} symlink -> ${readlinkSync(abs)}`);
      else if (st.isCharacterDevice()) out.push(`${r} char ${mode} ${own} ${st.rdev >> 8}:${st.rdev & 0xff}`);
      else if (st.isFIFO()) out.push(`${r} fifo ${mode} ${own}`);
      else out.push(`${r} file ${mode} ${own} ${JSON.stringify(readFileSync(abs, "utf8"))}${st.nlink > 1 ? ` links=${st.nlink}` : ""}`);
    }
  };
  walk("");
  return out;
}

/** Four layers that add, overwrite, delete (whiteout) and replace a directory (opaque). */
export async function fixtureLayers(): Promise<Buffer[]> {
  return [
    await tar([
      D("bin"), D("etc"), F("etc/hosts", "127.0.0.1 localhost\n"), F("etc/shadow", "root:*:\n", 0o640, { gid: 42 }),
      D("etc/ssh"), F("etc/ssh/sshd_config", "Port 22\n"), D("opt"), D("opt/app"), F("opt/app/old.txt", "old"),
      D("opt/app/config"), F("opt/app/config/a.conf", "a=1"), D("usr"), D("usr/bin"), F("usr/bin/tool", "v1", 0o755),
      D("var"), D("var/log"), F("var/log/x.log", "log"), { header: { name: "sh", type: "symlink", linkname: "usr/bin/tool" } },
    ]),
    await tar([F("usr/bin/tool", "v2", 0o750), F("etc/motd", "hi\n"), WH("var/log/.wh.x.log"), F("var/log/new.log", "new")]),
    await tar([D("opt/app", 0o700), WH("opt/app/.wh..wh..opq"), F("opt/app/new.txt", "replaced"), WH("etc/.wh.ssh")]),
    await tar([
      F("usr/bin/su", "su", 0o4755), F("usr/bin/tool", "v2", 0o750), { header: { name: "usr/bin/tool2", type: "hardlink", linkname: "usr/bin/tool" } },
      D("dev"), { header: { name: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 } },
      { header: { name: "tmp", type: "dir", mode: 0o1777 } }, { header: { name: "tmp/fifo", type: "fifo", mode: 0o600 } },
    ]),
  ];
}

/** The merged tree of fixtureLayers(), exactly. */
export const FIXTURE_LISTING = [
  "bin dir 0755 0:0",
  "dev dir 0755 0:0",
  "dev/null char 0666 0:0 1:3",
  "etc dir 0755 0:0",
  'etc/hosts file 0644 0:0 "127.0.0.1 localhost\\n"',
  'etc/motd file 0644 0:0 "hi\\n"',
  'etc/shadow file 0640 0:42 "root:*:\\n"',
  "opt dir 0755 0:0",
  "opt/app dir 0700 0:0",
  'opt/app/new.txt file 0644 0:0 "replaced"',
  "sh symlink -> usr/bin/tool",
  "tmp dir 1777 0:0",
  "tmp/fifo fifo 0600 0:0",
  "usr dir 0755 0:0",
  "usr/bin dir 0755 0:0",
  'usr/bin/su file 4755 0:0 "su"',
  'usr/bin/tool file 0750 0:0 "v2" links=2',
  'usr/bin/tool2 file 0750 0:0 "v2" links=2',
  "var dir 0755 0:0",
  "var/log dir 0755 0:0",
  'var/log/new.log file 0644 0:0 "new"',
];

async function unpackAll(sn: Snapshotter, layers: Buffer[]): Promise<string[]> {
  const ids: string[] = [];
  let parent: string | undefined;
  for (const l of layers) {
    const r = await unpackLayer(sn, parent, [l]);
    parent = r.chainId;
    ids.push(r.diffId);
  }
  assert.equal(parent, chainId(ids));
  return ids;
}

export function snapshotterSuite(label: string, factory: Factory): void {
  test(`${label}: a multi-layer image mounts as exactly the expected tree`, async (t) => {
    const env = await setup(t, factory);
    const top = chainId(await unpackAll(env.sn, await fixtureLayers()));
    const rootfs = env.mount(await env.sn.prepare("c1", top), "rootfs");
    assert.deepEqual(listing(rootfs), FIXTURE_LISTING);
    // The same chain unpacked again is shared, not duplicated.
    const before: string[] = [];
    await env.sn.walk((i) => { before.push(i.name); });
    await unpackAll(env.sn, await fixtureLayers());
    const after: string[] = [];
    await env.sn.walk((i) => { after.push(i.name); });
    assert.deepEqual(after, before);
  });

  test(`${label}: the diff of an active snapshot re-applies onto the parent to the same tree`, async (t) => {
    const env = await setup(t, factory);
    const top = chainId(await unpackAll(env.sn, await fixtureLayers()));
    const rootfs = env.mount(await env.sn.prepare("c1", top), "rootfs");
    writeFileSync(join(rootfs, "newfile"), "added");
    writeFileSync(join(rootfs, "etc/hosts"), "10.0.0.1 changed\n");
    unlinkSync(join(rootfs, "etc/motd"));
    rmSync(join(rootfs, "var/log"), { recursive: true });
    rmSync(join(rootfs, "opt/app"), { recursive: true });
    mkdirSync(join(rootfs, "opt/app"));
    writeFileSync(join(rootfs, "opt/app/fresh.txt"), "fresh");
    const want = listing(rootfs);
    unmount(rootfs);

    const layer = await bytes(env.sn.diff("c1"));
    const names: string[] = [];
    for await (const e of readTar([layer])) names.push(e.header.type === "dir" ? `${e.header.name}/` : e.header.name);
    const files = names.filter((n) => !n.endsWith("/") && !n.split("/").pop()!.startsWith(".wh."));
    assert.deepEqual(files.sort(), ["etc/hosts", "newfile", "opt/app/fresh.txt"]);
    assert.ok(names.includes("etc/.wh.motd"), `etc/.wh.motd in ${names.join(" ")}`);
    assert.ok(names.includes("var/.wh.log"), `var/.wh.log in ${names.join(" ")}`);
    assert.ok(names.includes("opt/app/.wh..wh..opq") || names.includes("opt/app/.wh.new.txt"), `opt/app emptied in ${names.join(" ")}`);

    const mounts = await env.sn.prepare("reapply", top);
    await applyLayer(writableDir(mounts), [layer], { whiteouts: env.sn.whiteouts });
    const again = env.mount(mounts, "again");
    assert.deepEqual(listing(again), want);
  });

  test(`${label}: a stack of 130 layers mounts`, async (t) => {
    const env = await setup(t, factory);
    const layers: Buffer[] = [];
    for (let i = 0; i < 130; i++) layers.push(await tar([F(`layer-${String(i).padStart(3, "0")}`, String(i)), F("top", String(i))]));
    const top = chainId(await unpackAll(env.sn, layers));
    const mounts = await env.sn.prepare("deep", top);
    if (mounts[0]!.type === "overlay") {
      // Past a page even with short links: mountAll must take the relative-lowerdir path.
      assert.ok(mounts[0]!.options.join(",").length > 4096, `options are ${mounts[0]!.options.join(",").length} bytes`);
    }
    const rootfs = env.mount(mounts, "rootfs");
    assert.equal(readFileSync(join(rootfs, "top"), "utf8"), "129");
    assert.equal(readdirSync(rootfs).length, 131);
    writeFileSync(join(rootfs, "written"), "ok");
    assert.deepEqual([...(await bytes(env.sn.diff("deep")))].length > 0, true);
  });

  test(`${label}: lifecycle rules (kinds, parents, names, views, usage, reopen)`, async (t) => {
    const env = await setup(t, factory);
    const sn = env.sn;
    const base = await unpackLayer(sn, undefined, [await tar([F("a", "x".repeat(10000))])]);
    await assert.rejects(sn.prepare("k", "no-such-parent"), { name: "NotFound" });
    await sn.prepare("k", base.chainId, { labels: { role: "test" } });
    await assert.rejects(sn.prepare("k", base.chainId), { name: "AlreadyExists" });
    await assert.rejects(sn.prepare("k2", "k"), { name: "FailedPrecondition" });
    assert.deepEqual(await sn.stat("k"), { ...(await sn.stat("k")), name: "k", kind: "active", parent: base.chainId, labels: { role: "test" } });
    assert.equal((await sn.stat(base.chainId)).kind, "committed");
    await assert.rejects(sn.mounts(base.chainId), { name: "FailedPrecondition" });
    await assert.rejects(sn.remove(base.chainId), { name: "FailedPrecondition" });

    const ro = env.mount(await sn.view("v", base.chainId), "view");
    assert.equal(readFileSync(join(ro, "a"), "utf8").length, 10000);
    assert.throws(() => writeFileSync(join(ro, "b"), ""), { code: "EROFS" });
    await assert.rejects(sn.commit("c", "v"), { name: "FailedPrecondition" });

    const rw = env.mount(await sn.mounts("k"), "rw");
    writeFileSync(join(rw, "big"), Buffer.alloc(1 << 20, 1));
    unmount(rw);
    const u = await sn.usage("k");
    assert.ok(u.size >= 1 << 20 && u.inodes >= 2, `usage ${JSON.stringify(u)}`);
    await assert.rejects(sn.commit(base.chainId, "k"), { name: "AlreadyExists" });
    await sn.commit("k-done", "k");
    await assert.rejects(sn.stat("k"), { name: "NotFound" });
    assert.equal((await sn.stat("k-done")).kind, "committed");

    const reopened = await factory(env.root);
    const names: string[] = [];
    await reopened.walk((i) => { names.push(`${i.name}:${i.kind}`); });
    assert.deepEqual(names.sort(), [`${base.chainId}:committed`, "k-done:committed", "v:view"].sort());
    unmount(ro);
    await reopened.remove("v");
    await reopened.remove("k-done");
    await reopened.remove(base.chainId);
    assert.deepEqual(readdirSync(join(env.root, "snapshots")), []);
  });

  test(`${label}: an image's layers unpacked at once on workers (unpackLayerFile) mount as the same tree; snapshotters that copy their parent refuse`, async (t) => {
    const env = await setup(t, factory);
    const layers = await fixtureLayers();
    const files = layers.map((l, i) => { const f = join(env.tmp, `layer${i}.tar.gz`); writeFileSync(f, gzipSync(l)); return f; });
    const diffIds = layers.map((l) => `sha256:${createHash("sha256").update(l).digest("hex")}`);
    const chains = diffIds.map((_, i) => chainId(diffIds.slice(0, i + 1)));
    if (!env.sn.parentFree) {
      await assert.rejects(unpackLayerFile(env.sn, files[0]!, { chainId: chains[0]!, diffId: diffIds[0]!, parentReady: Promise.resolve() }), { name: "FailedPrecondition" });
      return;
    }
    // All started at once; each commits only after the layer below it has (its gate).
    const gates = layers.map(() => { let open!: () => void; const p = new Promise<void>((r) => { open = r; }); return { p, open }; });
    const got = await Promise.all(layers.map((_, i) => unpackLayerFile(env.sn, files[i]!, {
      parent: i ? chains[i - 1] : undefined, chainId: chains[i]!, diffId: diffIds[i]!, parentReady: i ? gates[i - 1]!.p : Promise.resolve(),
    }).then((r) => { gates[i]!.open(); return r; })));
    assert.deepEqual(got.map((r) => r.chainId), chains);
    const rootfs = env.mount(await env.sn.prepare("c1", chains.at(-1)), "rootfs");
    assert.deepEqual(listing(rootfs), FIXTURE_LISTING);
    // A corrupt layer: the worker's error keeps its class, and no extraction snapshot is left.
    const bad = join(env.tmp, "bad.tar");
    writeFileSync(bad, Buffer.alloc(1024, 7));
    await assert.rejects(unpackLayerFile(env.sn, bad, { chainId: `sha256:${"1".repeat(64)}`, diffId: `sha256:${"2".repeat(64)}`, parentReady: Promise.resolve() }), { name: "InvalidArgument" });
    const left: string[] = [];
    await env.sn.walk((i) => { left.push(i.name); });
    assert.deepEqual(left.filter((n) => n.startsWith("extract-")), []);
    // commit onto a parent that is not committed is refused.
    await env.sn.prepare("k");
    await assert.rejects(env.sn.commit("k2", "k", { parent: "nope" }), { name: "FailedPrecondition" });
  });

  test(`${label}: a layer whose diff_id does not match is refused and leaves nothing`, async (t) => {
    const env = await setup(t, factory);
    await assert.rejects(unpackLayer(env.sn, undefined, [await tar([F("a", "1")])], { diffId: `sha256:${"0".repeat(64)}` }), { name: "InvalidArgument" });
    const left: string[] = [];
    await env.sn.walk((i) => { left.push(i.name); });
    assert.deepEqual(left, []);
  });
}
