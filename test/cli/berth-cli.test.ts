/**
 * bin/berth against a private berthd (-H): what a docker user types, with docker's output shapes
 * and exit codes — run with limits, exit codes 0/N/125/126/127, -d + exec/logs/ps/inspect/stop/rm,
 * stdin, -it under tmux with ctrl-p ctrl-q, images/import/tag/rmi, a push to and pull from a real
 * registry on 127.0.0.1, volumes, and one-line errors.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, freePort, startRegistry } from "../../src/image/test-fixtures.js";
import { createContentStore } from "../../src/image/content-local.js";
import { MediaType } from "../../src/image/media-types.js";
import { repo } from "../helpers/bundle.js";
import { busyboxRootfs } from "../helpers/fixtures.js";
import { until } from "../helpers/wait.js";
import { berthBin, startBerthd, type CmdResult, type PrivateBerthd } from "../helpers/berthd.js";

let d: PrivateBerthd;
before(async () => { d = await startBerthd(); });
after(() => d?.stop());

const berth = (args: string[], input?: string): CmdResult => d.berth(args, input);
const ok = (args: string[], input?: string): string => {
  const r = berth(args, input);
  assert.equal(r.status, 0, `berth ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

test("run: output, the container's exit code, and docker's codes for berth's own failures", () => {
  const r = berth(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4"]);
  assert.equal(r.status, 4);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /^err$/m);
  assert.equal(berth(["run", "--rm", "busybox", "nosuch"]).status, 127);
  assert.equal(berth(["run", "--rm", "busybox", "/etc/passwd"]).status, 126);
  const bad = berth(["run", "--rm", "-m", "1k", "busybox", "true"]);
  assert.equal(bad.status, 125);
  assert.equal(bad.stderr.trim().split("\n").filter((l) => !l.startsWith("WARNING")).length, 1, "one line");
  assert.match(bad.stderr, /Minimum memory limit allowed is 6MB/);
  assert.equal(berth(["run", "--bogus", "busybox"]).status, 125);
  // --cidfile: the ID written; a file already there refuses the run before anything is made.
  const cidDir = mkdtempSync(join(tmpdir(), "berth-cli-cid-"));
  try {
    const cid = join(cidDir, "cid");
    ok(["run", "--rm", "--cidfile", cid, "busybox", "true"]);
    assert.match(readFileSync(cid, "utf8"), /^[0-9a-f]{64}$/);
    const again = berth(["run", "--rm", "--cidfile", cid, "busybox", "true"]);
    assert.equal(again.status, 125);
    assert.equal(again.stderr, `Container ID file found, make sure the other container isn't running or delete ${cid}\n`);
  } finally {
    rmSync(cidDir, { recursive: true, force: true });
  }
  // --rm with a restart policy: refused by the CLI, and by the daemon for any client (it restarted forever).
  const both = berth(["run", "--rm", "--restart", "always", "busybox", "true"]);
  assert.equal(both.status, 125);
  assert.equal(both.stderr, "Conflicting options: --restart and --rm\n");
  const api = spawnSync("curl", ["-s", "--unix-socket", d.host.replace("unix://", ""), "-XPOST", "-H", "Content-Type: application/json", "-w", " %{http_code}",
    "-d", JSON.stringify({ Image: "busybox", Cmd: ["true"], HostConfig: { AutoRemove: true, RestartPolicy: { Name: "on-failure" } } }), "http://berthd/containers/create"], { encoding: "utf8" });
  assert.equal(api.stdout, `{"message":"can't create 'AutoRemove' container with restart policy"} 400`);
  assert.equal(ok(["ps", "-aq"]), "");
});

test("run with limits: the container's cgroups hold them", () => {
  const out = ok(["run", "--rm", "-m", "64m", "--cpus", "0.5", "--pids-limit", "32", "busybox", "sh", "-c",
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max"]);
  assert.deepEqual(out.trim().split("\n"), ["67108864", "50000", "32"]);
});

test("stdin: piped into run -i and exec -i, closed at its end", () => {
  assert.equal(ok(["run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done"], "line1\nline2\n"), "line1\nline2\ndone\n");
});

test("-d, ps, logs, exec, inspect --format, top, stats, stop, start, rm", async () => {
  const id = ok(["run", "-d", "--name", "cli-web", "-e", "GREETING=hello", "busybox", "sh", "-c", "trap 'exit 0' TERM; echo $GREETING; while :; do sleep 0.2; done"]).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = ok(["ps"]);
  assert.match(ps.split("\n")[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  assert.match(ps, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+.*Up .*cli-web$`, "m"));
  assert.equal(ok(["ps", "-q", "--no-trunc"]).trim(), id);
  assert.equal(ok(["ps", "--format", "{{.Names}}:{{.State}}"]).trim(), "cli-web:running");
  // dockerd's Command: arguments with a space in single quotes.
  assert.equal(ok(["ps", "--no-trunc", "--format", "{{.Command}}"]).trim(), `"sh -c 'trap 'exit 0' TERM; echo $GREETING; while :; do sleep 0.2; done'"`);
  await until("the greeting in the log", () => ok(["logs", "cli-web"]) === "hello\n");
  assert.equal(ok(["exec", "cli-web", "sh", "-c", "echo $GREETING from exec"]), "hello from exec\n");
  assert.equal(berth(["exec", "cli-web", "sh", "-c", "exit 9"]).status, 9);
  assert.equal(ok(["exec", "-i", "cli-web", "cat"], "via exec\n"), "via exec\n");
  // ExecIDs lists the execs still running, as docker's does: the three above have ended.
  assert.equal(ok(["inspect", "-f", "{{json .ExecIDs}}", "cli-web"]).trim(), "null");
  ok(["exec", "-d", "cli-web", "sleep", "30"]);
  assert.equal(JSON.parse(ok(["inspect", "-f", "{{json .ExecIDs}}", "cli-web"]))?.length, 1);
  assert.equal(ok(["inspect", "-f", "{{.State.Running}} {{.Name}} {{json .Config.Env}}", "cli-web"]).split(" ").slice(0, 2).join(" "), "true /cli-web");
  const full = JSON.parse(ok(["inspect", "cli-web"])) as { Id: string }[];
  assert.equal(full[0]!.Id, id);
  assert.match(ok(["top", "cli-web"]), /sh -c trap/);
  assert.match(ok(["stats", "--no-stream", "cli-web"]), new RegExp(`^${id.slice(0, 12)}\\s+cli-web\\s+\\d+\\.\\d+%`, "m"));
  assert.equal(ok(["stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}", "cli-web"]).trim(), id);
  assert.equal(ok(["stop", "-t", "5", "cli-web"]), "cli-web\n");
  assert.match(ok(["ps", "-a", "--format", "{{.Status}}"]), /^Exited \(0\)/);
  // Nothing to do is success (the API's 304), as with docker: stop of a stopped one, start of a running one.
  assert.equal(ok(["stop", "cli-web"]), "cli-web\n");
  ok(["start", "cli-web"]);
  assert.equal(ok(["start", "cli-web"]), "cli-web\n");
  assert.equal(ok(["inspect", "-f", "{{.State.Status}}", "cli-web"]).trim(), "running");
  assert.equal(ok(["rm", "-f", "cli-web"]), "cli-web\n");
  const gone = berth(["inspect", "cli-web"]);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /No such object: cli-web/);
  const rm = berth(["rm", "nothing-here"]);
  assert.equal(rm.status, 1);
  assert.match(rm.stderr, /^Error response from daemon: No such container: nothing-here\n$/);
});

test("logs --since takes Go durations; a reader that goes away ends berth quietly with 141, as SIGPIPE ends docker", async () => {
  ok(["run", "-d", "--name", "cli-chatty", "busybox", "sh", "-c", "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.05; done"]);
  try {
    await until("a second of lines", () => ok(["logs", "cli-chatty"]).split("\n").length > 25);
    const recent = ok(["logs", "--since", "0.3s", "cli-chatty"]).trim().split("\n");
    const all = ok(["logs", "cli-chatty"]).trim().split("\n");
    assert.ok(recent.length >= 1 && recent.length < all.length, `--since 0.3s gave ${recent.length} of ${all.length} lines`);
    assert.equal(berth(["logs", "--since", "1h30m", "cli-chatty"]).status, 0);
    const r = spawnSync("bash", ["-c", `"$0" -H "$1" logs -f cli-chatty | head -n 1; echo "rc=\${PIPESTATUS[0]}"`, berthBin, d.host], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.stdout, "line 0\nrc=141\n");
    assert.equal(r.stderr, "");
  } finally {
    ok(["rm", "-f", "cli-chatty"]);
  }
});

test("-it in a real terminal: window size, typed input, ctrl-p ctrl-q detaches", async () => {
  const s = `berth-cli-it-${process.pid}`;
  const tm = (...a: string[]) => spawnSync("tmux", a, { encoding: "utf8" });
  tm("new-session", "-d", "-s", s, "-x", "90", "-y", "25", `${berthBin} -H ${d.host} run -it --name cli-tty busybox sh; echo CLI-EXIT=$?; sleep 30`);
  try {
    let screen = "";
    await until("the prompt", () => (screen = tm("capture-pane", "-t", s, "-p").stdout).includes("/ #"));
    tm("send-keys", "-t", s, "stty size; echo $((6*7))", "Enter");
    await until("the answer", () => (screen = tm("capture-pane", "-t", s, "-p").stdout).includes("42"));
    assert.match(screen, /25 90/);
    tm("send-keys", "-t", s, "C-p", "C-q");
    await until("the detach", () => (screen = tm("capture-pane", "-t", s, "-p").stdout).includes("CLI-EXIT="));
    assert.match(screen, /CLI-EXIT=0/);
    assert.equal(ok(["inspect", "-f", "{{.State.Running}}", "cli-tty"]).trim(), "true");
  } finally {
    tm("kill-session", "-t", s);
    berth(["rm", "-f", "cli-tty"]);
  }
});

test("images, tag, rmi, history and import from a tar on stdin", () => {
  const list = ok(["images"]);
  assert.match(list.split("\n")[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.match(list, /^busybox\s+latest\s+[0-9a-f]{12}\s+/m);
  ok(["tag", "busybox", "mine/busybox:v1"]);
  assert.match(ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]), /^mine\/busybox:v1$/m);
  // Filters, applied by berthd as dockerd does: REPO[:TAG] and reference globs, dangling, label.
  assert.equal(ok(["images", "--format", "{{.Repository}}:{{.Tag}}", "mine/busybox"]), "mine/busybox:v1\n");
  assert.equal(ok(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=mine/*:v1"]), "mine/busybox:v1\n");
  assert.equal(ok(["images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=nothing*"]), "");
  assert.equal(ok(["images", "-q", "--filter", "dangling=true"]), "");
  assert.equal(ok(["images", "-q", "--filter", "label=no.such.label"]), "");
  assert.match(berth(["images", "--filter", "bogus=1"]).stderr, /invalid filter 'bogus'/);
  assert.match(ok(["rmi", "mine/busybox:v1"]), /Untagged: mine\/busybox:v1/);
  assert.ok(ok(["history", "busybox"]).startsWith("IMAGE"));
  assert.match(ok(["history", "-q", "busybox"]), /^[0-9a-f]{12}\n$/);
  // docker's history entries: an import has no command and says where it came from.
  assert.deepEqual(ok(["history", "--format", "{{.CreatedBy}}|{{.Comment}}", "busybox"]).trim().split("\n").at(-1), "|Imported from -");
  const tar = spawnSync("bash", [join(repo, "scripts/busybox-image.sh")], { maxBuffer: 64 * 1024 * 1024 });
  const imp = spawnSync(berthBin, ["-H", d.host, "import", "-", "imported:1"], { input: tar.stdout, encoding: "utf8" });
  assert.equal(imp.status, 0, imp.stderr);
  assert.match(imp.stdout, /^sha256:[0-9a-f]{64}$/m);
  assert.equal(ok(["run", "--rm", "imported:1", "echo", "from-import"]), "from-import\n");
  const withChange = spawnSync(berthBin, ["-H", d.host, "import", "-c", "CMD [\"echo\", \"default cmd\"]", "-c", "ENV A=b", "-", "imported:2"], { input: tar.stdout, encoding: "utf8" });
  assert.equal(withChange.status, 0, withChange.stderr);
  assert.equal(ok(["run", "--rm", "imported:2"]), "default cmd\n");
  assert.equal(ok(["run", "--rm", "imported:2", "sh", "-c", "echo $A"]), "b\n");
  const arm = spawnSync(berthBin, ["-H", d.host, "import", "--platform", "linux/arm64", "-", "imported:arm"], { input: tar.stdout, encoding: "utf8" });
  assert.equal(arm.status, 0, arm.stderr);
  assert.equal(ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "imported:arm"]), "linux/arm64\n");
  assert.equal(ok(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "imported:1"]), "linux/amd64\n");
  // save --platform: an image of that platform is saved, one of another is refused; load --platform is refused.
  const saveDir = mkdtempSync(join(tmpdir(), "berth-cli-save-"));
  try {
    ok(["save", "--platform", "linux/arm64", "-o", join(saveDir, "arm.tar"), "imported:arm"]);
    assert.ok(statSync(join(saveDir, "arm.tar")).size > 0);
    const other = berth(["save", "--platform", "linux/amd64", "-o", join(saveDir, "x.tar"), "imported:arm"]);
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /is linux\/arm64, not linux\/amd64/);
    assert.equal(existsSync(join(saveDir, "x.tar")), false, "no half file");
    assert.match(berth(["load", "--platform", "linux/arm64", "-i", join(saveDir, "arm.tar")]).stderr, /load --platform is not supported/);
  } finally {
    rmSync(saveDir, { recursive: true, force: true });
  }
  ok(["rmi", "imported:2", "imported:arm"]);
  ok(["rmi", "imported:1"]);
  const missing = berth(["import", "/nonexistent.tar"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no such file or directory/);
});

test("push to a registry on 127.0.0.1, then run pulls it back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-cli-registry-"));
  const port = await freePort();
  writeFileSync(join(dir, "config.yml"), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\nlog:\n  level: error\n`);
  const reg: ChildProcess = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  try {
    await until("the registry", () => spawnSync("curl", ["-fs", `http://127.0.0.1:${port}/v2/`]).status === 0);
    const ref = `127.0.0.1:${port}/test/busybox:1`;
    ok(["tag", "busybox", ref]);
    const push = ok(["push", ref]);
    assert.match(push, /Pushed/);
    const pushed = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push);
    assert.ok(pushed, push);
    assert.equal(ok(["push", "-q", ref]), `${ref}\n`, "push -q: no progress, the reference");
    // pull names the repo digest, and says when nothing was new.
    const again = ok(["pull", ref]);
    assert.match(again, new RegExp(`^Digest: ${pushed[1]}$`, "m"));
    assert.match(again, /^Status: Image is up to date for 127\.0\.0\.1:\d+\/test\/busybox:1$/m);
    // images --digests: the digest the registry knows it by, in docker's DIGEST column.
    const withDigests = ok(["images", "--digests", `127.0.0.1:${port}/test/busybox`]);
    assert.match(withDigests.split("\n")[0]!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(withDigests, new RegExp(`^127\\.0\\.0\\.1:${port}/test/busybox\\s+1\\s+${pushed[1]}\\s`, "m"));
    // pull -a: every tag the registry has for the repository.
    const repo2 = `127.0.0.1:${port}/test/alltags`;
    for (const t of ["a", "b"]) { ok(["tag", "busybox", `${repo2}:${t}`]); ok(["push", "-q", `${repo2}:${t}`]); ok(["rmi", `${repo2}:${t}`]); }
    const all = ok(["pull", "-a", repo2]);
    assert.match(all, /^Status: Downloaded newer image for 127\.0\.0\.1:\d+\/test\/alltags$/m);
    assert.deepEqual(ok(["images", "--format", "{{.Tag}}", repo2]).trim().split("\n").sort(), ["a", "b"]);
    assert.match(berth(["pull", "-a", `${repo2}:a`]).stderr, /tag can't be used with --all-tags\/-a/);
    ok(["rmi", `${repo2}:a`, `${repo2}:b`]);
    ok(["rmi", ref]);
    const run = berth(["run", "--rm", "-m", "32m", ref, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /Unable to find image/);
    assert.match(run.stderr, /Pull complete/);
    assert.equal(run.stdout, "33554432\n");
    // A zstd image made by hand (Debian's zstd) and pushed by skopeo (an independent client): berth
    // pulls and runs it. The layer is new (a marker file), so skopeo cannot swap in a cached blob.
    const zref = `127.0.0.1:${port}/test/busybox:zstd`;
    const zdir = mkdtempSync(join(tmpdir(), "berth-cli-zstd-"));
    try {
      writeFileSync(join(zdir, "marker"), `zstd ${process.pid} ${Date.now()}\n`);
      const layer = spawnSync("tar", ["-c", "-C", busyboxRootfs(), "--exclude=./.complete", ".", "-C", zdir, "marker"], { maxBuffer: 64 * 1024 * 1024 }).stdout;
      const z = spawnSync("zstd", ["-q", "-c"], { input: layer, maxBuffer: 64 * 1024 * 1024 }).stdout;
      const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
      const config = JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["cat", "/marker"] }, rootfs: { type: "layers", diff_ids: [`sha256:${sha(layer)}`] } });
      const out = join(zdir, "image");
      mkdirSync(out);
      writeFileSync(join(out, sha(z)), z);
      writeFileSync(join(out, sha(config)), config);
      writeFileSync(join(out, "version"), "Directory Transport Version: 1.1\n");
      writeFileSync(join(out, "manifest.json"), JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha(config)}`, size: Buffer.byteLength(config) },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: `sha256:${sha(z)}`, size: z.length }] }));
      const copy = spawnSync("skopeo", ["copy", "--dest-tls-verify=false", `dir:${out}`, `docker://${zref}`], { encoding: "utf8" });
      assert.equal(copy.status, 0, copy.stderr);
      const manifest = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${zref}`], { encoding: "utf8" }).stdout;
      assert.match(manifest, /tar\+zstd/, "the registry holds a zstd layer");
      const zr = berth(["run", "--rm", zref]);
      assert.equal(zr.status, 0, zr.stderr);
      assert.match(zr.stdout, /^zstd \d+/);
    } finally {
      rmSync(zdir, { recursive: true, force: true });
    }
    ok(["rmi", ref]);
    ok(["rmi", zref]);
  } finally {
    reg.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("cp: files and directories both ways, renamed, and errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-cli-cp-"));
  try {
    writeFileSync(join(dir, "f.txt"), "from host\n");
    ok(["run", "-d", "--name", "cli-cp", "busybox", "sleep", "1000"]);
    ok(["cp", "cli-cp:/etc/passwd", dir]);
    assert.match(readFileSync(join(dir, "passwd"), "utf8"), /^root:/);
    ok(["cp", "cli-cp:/etc/group", join(dir, "renamed")]);
    assert.match(readFileSync(join(dir, "renamed"), "utf8"), /^root:/);
    ok(["cp", "cli-cp:/etc", join(dir, "etc-copy")]);
    assert.ok(existsSync(join(dir, "etc-copy", "passwd")));
    ok(["cp", join(dir, "f.txt"), "cli-cp:/tmp/"]);
    ok(["cp", join(dir, "f.txt"), "cli-cp:/tmp/g.txt"]);
    assert.equal(ok(["exec", "cli-cp", "cat", "/tmp/f.txt", "/tmp/g.txt"]), "from host\nfrom host\n");
    const bad = berth(["cp", "cli-cp:/nope", dir]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Could not find the file \/nope in container/);
    assert.equal(berth(["cp", join(dir, "nope"), "cli-cp:/"]).status, 1);
    assert.equal(berth(["cp", "a", "b"]).status, 125);
    // `cp - CONTAINER:DIR`: a tar on stdin, extracted there; what is not a tar is refused in one line.
    const tarIn = spawnSync("tar", ["-C", dir, "-c", "f.txt"]).stdout;
    const fromStdin = d.berth(["cp", "-", "cli-cp:/etc"], tarIn);
    assert.equal(fromStdin.status, 0, fromStdin.stderr);
    assert.equal(ok(["exec", "cli-cp", "cat", "/etc/f.txt"]), "from host\n");
    const notTar = berth(["cp", "-", "cli-cp:/etc"], "not a tar\n");
    assert.equal(notTar.status, 1);
    assert.match(notTar.stderr, /^Error response from daemon: tar stream truncated[^\n]*\n$/);
    // -L: a symlink source is copied as its target's content, under the link's name; without it, as a link.
    ok(["exec", "cli-cp", "sh", "-c", "echo target > /tmp/t && ln -s t /tmp/l"]);
    ok(["cp", "-L", "cli-cp:/tmp/l", dir]);
    assert.equal(readFileSync(join(dir, "l"), "utf8"), "target\n");
    assert.equal(lstatSync(join(dir, "l")).isSymbolicLink(), false);
    ok(["cp", "cli-cp:/tmp/l", join(dir, "l2")]);
    assert.equal(readlinkSync(join(dir, "l2")), "t");
    symlinkSync("f.txt", join(dir, "hostlink"));
    ok(["cp", "-L", join(dir, "hostlink"), "cli-cp:/tmp/"]);
    assert.equal(ok(["exec", "cli-cp", "sh", "-c", "test ! -L /tmp/hostlink && cat /tmp/hostlink"]), "from host\n");
    // Owners, as docker: what goes in belongs to root, or with -a to the container's user; what
    // comes out keeps the container's owners.
    writeFileSync(join(dir, "owned.txt"), "owned\n");
    chownSync(join(dir, "owned.txt"), 4321, 4321);
    ok(["cp", join(dir, "owned.txt"), "cli-cp:/tmp/"]);
    assert.equal(ok(["exec", "cli-cp", "stat", "-c", "%u:%g", "/tmp/owned.txt"]), "0:0\n");
    ok(["run", "-d", "--name", "cli-cp-u", "-u", "1000:1000", "busybox", "sleep", "1000"]);
    try {
      ok(["cp", "-a", join(dir, "owned.txt"), "cli-cp-u:/tmp/"]);
      assert.equal(ok(["exec", "cli-cp-u", "stat", "-c", "%u:%g", "/tmp/owned.txt"]), "1000:1000\n");
    } finally {
      berth(["rm", "-f", "cli-cp-u"]);
    }
    ok(["exec", "cli-cp", "sh", "-c", "echo x > /tmp/theirs && chown 4321:4322 /tmp/theirs"]);
    ok(["cp", "cli-cp:/tmp/theirs", dir]);
    assert.deepEqual([statSync(join(dir, "theirs")).uid, statSync(join(dir, "theirs")).gid], [4321, 4322]);
    // A destination that is a symlink to a directory is followed: the file lands in that directory.
    ok(["exec", "cli-cp", "sh", "-c", "mkdir /tmp/dd && ln -s dd /tmp/dl"]);
    ok(["cp", join(dir, "f.txt"), "cli-cp:/tmp/dl"]);
    assert.equal(ok(["exec", "cli-cp", "sh", "-c", "test -L /tmp/dl && cat /tmp/dd/f.txt"]), "from host\n");
  } finally {
    berth(["rm", "-f", "cli-cp"]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("diff, commit, export", () => {
  ok(["run", "--name", "cli-chg", "busybox", "sh", "-c", "echo v1 > /version"]);
  assert.match(ok(["diff", "cli-chg"]), /^A \/version$/m);
  const id = ok(["commit", "-m", "the version", "-c", "CMD cat /version", "cli-chg", "cli-committed:1"]).trim();
  assert.match(id, /^sha256:/);
  // docker's history entry for a commit: the container's command, and the message.
  assert.equal(ok(["history", "--format", "{{.CreatedBy}}|{{.Comment}}", "cli-committed:1"]).split("\n")[0], "sh -c echo v1 > /version|the version");
  assert.equal(ok(["run", "--rm", "cli-committed:1"]), "v1\n");
  const dir = mkdtempSync(join(tmpdir(), "berth-cli-export-"));
  try {
    ok(["export", "-o", join(dir, "fs.tar"), "cli-chg"]);
    const list = spawnSync("tar", ["-tf", join(dir, "fs.tar")], { encoding: "utf8" }).stdout.split("\n");
    assert.ok(list.includes("version") && list.includes("bin/busybox"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  ok(["rm", "cli-chg"]);
  ok(["rmi", "cli-committed:1"]);
});

test("login to a registry with basic auth, push and pull with the stored credentials, logout", async () => {
  const reg = await startRegistry({ user: "berth", password: "s3cret" });
  const config = mkdtempSync(join(tmpdir(), "berth-cli-dockercfg-"));
  const env = { ...process.env, DOCKER_CONFIG: config };
  const run = (args: string[], input?: string) => {
    const r = spawnSync(berthBin, ["-H", d.host, ...args], { input, env, encoding: "utf8", timeout: 60000 });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  try {
    const ref = `${reg.host}/auth/busybox:1`;
    ok(["tag", "busybox", ref]);
    const anon = run(["push", ref]);
    assert.notEqual(anon.status, 0, "a push without credentials is refused");
    assert.match(anon.stderr, /unauthorized|authentication required/i);
    const bad = run(["login", "-u", "berth", "--password-stdin", reg.host], "wrong\n");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /login attempt to .* failed/);
    const good = run(["login", "-u", "berth", "--password-stdin", reg.host], "s3cret\n");
    assert.equal(good.status, 0, good.stderr);
    assert.equal(good.stdout, "Login Succeeded\n");
    const cfg = JSON.parse(readFileSync(join(config, "config.json"), "utf8")) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, "base64").toString(), "berth:s3cret", "stored as docker stores it");
    assert.equal(run(["push", ref]).status, 0);
    ok(["rmi", ref]);
    const pulled = run(["pull", ref]);
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.match(run(["logout", reg.host]).stdout, /Removing login credentials/);
    ok(["rmi", ref]);
    assert.notEqual(run(["pull", ref]).status, 0, "after logout the pull is refused again");
  } finally {
    await reg.stop();
    rmSync(config, { recursive: true, force: true });
  }
});

test("--platform: pull and create pick that platform from a manifest list; a platform it lacks fails clearly", async () => {
  const reg = await startRegistry();
  const dir = mkdtempSync(join(tmpdir(), "berth-cli-platform-"));
  try {
    // Two small images, amd64 and arm64, behind one manifest list, pushed with the registry API.
    const content = await createContentStore(join(dir, "content"));
    const imgs = [await buildImage(content, { arch: "amd64", seed: "amd" }), await buildImage(content, { arch: "arm64", seed: "arm" })];
    const base = `http://${reg.host}/v2/multi`;
    const putBlob = async (bytes: Buffer, digest: string): Promise<void> => {
      const up = await fetch(`${base}/blobs/uploads/`, { method: "POST" });
      const loc = new URL(up.headers.get("location")!, base);
      loc.searchParams.set("digest", digest);
      assert.equal((await fetch(loc, { method: "PUT", body: new Uint8Array(bytes) })).status, 201);
    };
    const putManifest = async (ref: string, bytes: Buffer, mediaType: string): Promise<void> => {
      assert.equal((await fetch(`${base}/manifests/${ref}`, { method: "PUT", body: new Uint8Array(bytes), headers: { "Content-Type": mediaType } })).status, 201);
    };
    for (const img of imgs) {
      for (const desc of [img.config, ...img.layers]) await putBlob(await content.readBlob(desc.digest), desc.digest);
      await putManifest(img.manifest.digest, img.manifestBytes, img.manifest.mediaType);
    }
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [
      { ...imgs[0]!.manifest, platform: { os: "linux", architecture: "amd64" } },
      { ...imgs[1]!.manifest, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ] }));
    await putManifest("1", list, MediaType.DockerManifestList);
    const ref = `${reg.host}/multi:1`;
    const arch = (): string => ok(["image", "inspect", "-f", "{{.Architecture}}", ref]).trim();
    const pullArgs = (...a: string[]): Promise<CmdResult> => new Promise((res) => {
      const c = spawn(berthBin, ["-H", d.host, ...a], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "", err = "";
      c.stdout.on("data", (x: Buffer) => { out += x; });
      c.stderr.on("data", (x: Buffer) => { err += x; });
      c.on("close", (code) => res({ status: code ?? -1, stdout: out, stderr: err }));
    });
    const arm = await pullArgs("pull", "-q", "--platform", "linux/arm64", ref);
    assert.equal(arm.status, 0, arm.stderr);
    assert.equal(arch(), "arm64");
    assert.equal((await pullArgs("pull", "-q", ref)).status, 0);
    assert.equal(arch(), "amd64", "without --platform, the host's");
    // The local image is amd64: create --platform linux/arm64 pulls the arm64 one (docker's way).
    const created = await pullArgs("create", "--platform", "linux/arm64", "--name", "cli-arm", ref);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stderr, /Unable to find image/);
    assert.equal(ok(["inspect", "-f", "{{.Image}}", "cli-arm"]).trim(), imgs[1]!.config.digest);
    ok(["rm", "cli-arm"]);
    const none = await pullArgs("pull", "--platform", "linux/s390x", ref);
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no matching manifest for linux\/s390x/);
    const bad = await pullArgs("pull", "--platform", "linux", ref);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /invalid platform "linux"/);
    assert.match(berth(["run", "--pull", "sometimes", "busybox", "true"]).stderr, /invalid pull option: 'sometimes'/);
    // build --platform, and FROM --platform= (with a global ARG) which overrides it.
    const ctx = join(dir, "ctx");
    mkdirSync(ctx);
    writeFileSync(join(ctx, "Dockerfile"), `FROM ${ref}\nLABEL built=yes\n`);
    const b1 = await pullArgs("build", "-q", "--platform", "linux/arm64", "-t", "cli-plat:arm", ctx);
    assert.equal(b1.status, 0, b1.stderr);
    assert.equal(ok(["image", "inspect", "-f", "{{.Config.Labels.seed}}", "cli-plat:arm"]).trim(), "arm");
    writeFileSync(join(ctx, "Dockerfile"), `ARG P=linux/amd64\nFROM --platform=$P ${ref}\nLABEL built=yes\n`);
    const b2 = await pullArgs("build", "-q", "--platform", "linux/arm64", "-t", "cli-plat:amd", ctx);
    assert.equal(b2.status, 0, b2.stderr);
    assert.equal(ok(["image", "inspect", "-f", "{{.Config.Labels.seed}}", "cli-plat:amd"]).trim(), "amd");
    ok(["rmi", ref, "cli-plat:arm", "cli-plat:amd"]);
  } finally {
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("volumes: create, use, ls, inspect, rm", () => {
  assert.equal(ok(["volume", "create", "cli-vol"]), "cli-vol\n");
  ok(["run", "--rm", "-v", "cli-vol:/v", "busybox", "sh", "-c", "echo saved > /v/f"]);
  assert.equal(ok(["run", "--rm", "-v", "cli-vol:/v", "busybox", "cat", "/v/f"]), "saved\n");
  assert.match(ok(["volume", "ls"]), /^local\s+cli-vol$/m);
  assert.equal(ok(["volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "cli-vol"]), "cli-vol local\n");
  // Filters, by berthd: name, label (ANDed), dangling (in use by no container).
  ok(["volume", "create", "--label", "tier=db", "cli-vol2"]);
  ok(["run", "-d", "--name", "cli-vol-user", "-v", "cli-vol:/v", "busybox", "sleep", "100"]);
  assert.equal(ok(["volume", "ls", "-q", "--filter", "label=tier=db"]), "cli-vol2\n");
  assert.equal(ok(["volume", "ls", "-q", "--filter", "label=tier", "--filter", "label=other"]), "");
  assert.equal(ok(["volume", "ls", "-q", "--filter", "name=cli-vol2"]), "cli-vol2\n");
  assert.match(ok(["volume", "ls", "-q", "--filter", "dangling=true"]), /^cli-vol2$/m);
  assert.doesNotMatch(ok(["volume", "ls", "-q", "--filter", "dangling=true"]), /^cli-vol$/m);
  ok(["rm", "-f", "cli-vol-user"]);
  ok(["volume", "rm", "cli-vol2"]);
  // --mount: a named volume, a tmpfs with its size, a read-only bind; a bind source that is not there is refused.
  assert.equal(ok(["run", "--rm", "--mount", "source=cli-vol,target=/data", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m",
    "--mount", "type=bind,src=/etc,dst=/hostetc,readonly", "busybox", "sh", "-c", "cat /data/f; df -k /t | tail -1 | awk '{print $2}'; touch /hostetc/x 2>/dev/null || echo ro"]), "saved\n1024\nro\n");
  const noSrc = berth(["run", "--rm", "--mount", "type=bind,src=/nonexistent-berth-src,dst=/d", "busybox", "true"]);
  assert.equal(noSrc.status, 125);
  assert.match(noSrc.stderr, /bind source path does not exist: \/nonexistent-berth-src/);
  assert.equal(ok(["volume", "rm", "cli-vol"]), "cli-vol\n");
});

test("prune and system df: stopped containers and unused images go, only when confirmed", () => {
  ok(["run", "--name", "cli-stopped", "busybox", "true"]);
  ok(["run", "-d", "--name", "cli-running", "busybox", "sleep", "100"]);
  ok(["tag", "busybox", "cli-unused:1"]);
  ok(["run", "--name", "cli-chg2", "busybox", "touch", "/x"]);
  ok(["commit", "cli-chg2", "cli-commit-only:1"]);
  const df = ok(["system", "df"]);
  assert.match(df.split("\n")[0]!, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
  assert.match(df, /^Containers\s+3\s+1\s/m);
  const no = berth(["container", "prune"], "n\n");
  assert.equal(no.status, 0);
  assert.match(no.stderr, /Are you sure you want to continue\? \[y\/N\]/);
  assert.equal(ok(["ps", "-aq"]).trim().split("\n").length, 3, "nothing removed without a yes");
  const yes = ok(["container", "prune", "-f"]);
  assert.match(yes, /Deleted Containers:/);
  assert.deepEqual(ok(["ps", "-a", "--format", "{{.Names}}"]).trim().split("\n"), ["cli-running"]);
  const img = ok(["image", "prune", "-a", "-f"]);
  assert.match(img, /untagged: cli-commit-only:1/);
  assert.match(img, /Total reclaimed space: \d/);
  const left = ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
  assert.doesNotMatch(left, /cli-commit-only/);
  assert.match(left, /^busybox:latest$/m, "an image a container uses stays");
  ok(["rm", "-f", "cli-running"]);
  // system prune: containers, networks, dangling images and build cache in one command.
  ok(["run", "--name", "cli-stopped2", "busybox", "true"]);
  ok(["network", "create", "cli-unused-net"]);
  const sys = ok(["system", "prune", "-f"]);
  assert.match(sys, /Deleted Containers:\n[0-9a-f]{64}/);
  assert.match(sys, /Deleted Networks:\ncli-unused-net/);
  assert.match(sys, /Total reclaimed space: /);
  assert.equal(ok(["ps", "-aq"]), "");
  assert.doesNotMatch(ok(["network", "ls", "--format", "{{.Name}}"]), /cli-unused-net/);
  // Prune filters narrow what goes (they were dropped, so a filtered prune removed everything).
  ok(["run", "--name", "cli-keep", "-l", "keep=yes", "busybox", "true"]);
  ok(["run", "--name", "cli-go", "busybox", "true"]);
  assert.match(ok(["container", "prune", "-f", "--filter", "label!=keep=yes"]), /Deleted Containers:\n[0-9a-f]{64}\n/);
  assert.equal(ok(["ps", "-a", "--format", "{{.Names}}"]), "cli-keep\n");
  assert.doesNotMatch(ok(["container", "prune", "-f", "--filter", "until=1h"]), /Deleted/, "made just now: not older than an hour");
  const bogus = berth(["container", "prune", "-f", "--filter", "colour=red"]);
  assert.equal(bogus.status, 1);
  assert.equal(bogus.stderr, "Error response from daemon: invalid filter 'colour'\n");
  assert.equal(ok(["ps", "-a", "--format", "{{.Names}}"]), "cli-keep\n");
  ok(["rm", "cli-keep"]);
  // volume prune: asks first; named volumes only with -a; label filters; the space it freed.
  ok(["volume", "create", "--label", "t=1", "cli-pv1"]);
  ok(["volume", "create", "cli-pv2"]);
  ok(["run", "--rm", "-v", "cli-pv2:/d", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /d/f"]);
  const asked = berth(["volume", "prune", "-a"], "n\n");
  assert.match(asked.stderr, /all local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\]/);
  assert.doesNotMatch(ok(["volume", "prune", "-f"]), /cli-pv/, "named volumes stay without -a");
  assert.match(ok(["volume", "prune", "-a", "-f", "--filter", "label=t=1"]), /^Deleted Volumes:\ncli-pv1\n/);
  const all = ok(["volume", "prune", "-a", "-f"]);
  assert.match(all, /^cli-pv2$/m);
  assert.match(all, /Total reclaimed space: (\d{3}(\.\d+)?kB|[\d.]+MB)\n$/, "at least the 100 kB written");
});

test("sizes: ps -s, inspect -s and system df count what a container wrote and what a volume holds, as the docker CLI shows them", async () => {
  ok(["volume", "create", "cli-sized"]);
  ok(["run", "-d", "--name", "cli-sized", "-v", "cli-sized:/data", "busybox", "sh", "-c", "dd if=/dev/zero of=/big bs=1k count=300 && dd if=/dev/zero of=/data/f bs=1k count=50 && sleep 100"]);
  try {
    await until("the writes", () => ok(["exec", "cli-sized", "ls", "/data"]).includes("f"));
    const [rw, rootfs] = ok(["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "cli-sized"]).trim().split(" ").map(Number);
    assert.equal(rw, 307_200);
    assert.ok(rootfs! > rw!, `SizeRootFs ${rootfs} counts the image too`);
    assert.equal(ok(["inspect", "-f", "{{.SizeRw}}", "cli-sized"]).trim(), "<no value>", "sizes only when asked (-s)");
    const ps = ok(["ps", "-s", "--filter", "name=cli-sized"]);
    assert.match(ps.split("\n")[0]!, /\sNAMES\s+SIZE$/);
    assert.match(ps, /cli-sized\s+307kB \(virtual [\d.]+MB\)$/m);
    assert.equal(ok(["ps", "-s", "--filter", "name=cli-sized", "--format", "{{.Size}}"]), d.docker(["ps", "-s", "--filter", "name=cli-sized", "--format", "{{.Size}}"]).stdout);
    const rows = (out: string): string[] => out.trim().split("\n").map((l) => l.trim().split(/\s{2,}/).join("|"));
    const df = rows(ok(["system", "df"]));
    assert.deepEqual(df, rows(d.docker(["system", "df"]).stdout), "berth and the docker CLI print the same table");
    assert.match(df.find((l) => l.startsWith("Local Volumes"))!, /^Local Volumes\|\d+\|\d+\|[\d.]+kB\|/);
    assert.match(df.find((l) => l.startsWith("Containers"))!, /^Containers\|\d+\|\d+\|[\d.]+kB\|/);
    // -v: the same four tables as the docker CLI's; the rows agree but for the clock columns.
    const verbose = rows(ok(["system", "df", "-v"])), dockerVerbose = rows(d.docker(["system", "df", "-v"]).stdout);
    const heads = (xs: string[]): string[] => xs.filter((l) => /usage:|^(REPOSITORY|CONTAINER ID|VOLUME NAME|CACHE ID)\|/.test(l)).map((l) => l.replace(/usage: .*/, "usage:"));
    assert.deepEqual(heads(verbose), heads(dockerVerbose));
    assert.ok(verbose.includes("cli-sized|1|51.2kB"), verbose.join("\n"));
    const row = (xs: string[]): string[] => { const r = xs.find((l) => l.endsWith("|cli-sized"))!.split("|"); return [...r.slice(0, 5), r[7]!]; };
    assert.deepEqual(row(verbose), row(dockerVerbose));
  } finally {
    ok(["rm", "-f", "cli-sized"]);
    ok(["volume", "rm", "cli-sized"]);
  }
});

test("health checks: probes make a container starting, unhealthy, then healthy; a probe past its timeout fails; the image's HEALTHCHECK applies unless --no-healthcheck", async () => {
  const status = (n: string): string => ok(["ps", "--filter", `name=${n}`, "--format", "{{.Status}}"]).trim();
  const health = (n: string): { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] } => JSON.parse(ok(["inspect", "-f", "{{json .State.Health}}", n]));
  ok(["run", "-d", "--name", "cli-hc", "--health-cmd", "test -f /ok", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "100"]);
  try {
    assert.match(status("cli-hc"), /^Up .*\(health: starting\)$/);
    await until("unhealthy after 2 failed probes", () => / \(unhealthy\)$/.test(status("cli-hc")));
    ok(["exec", "cli-hc", "touch", "/ok"]);
    await until("healthy", () => / \(healthy\)$/.test(status("cli-hc")));
    const h = health("cli-hc");
    assert.equal(h.Status, "healthy");
    assert.equal(h.FailingStreak, 0);
    assert.ok(h.Log.length >= 3 && h.Log.length <= 5, `${h.Log.length} results kept`);
    assert.ok(h.Log.some((x) => x.ExitCode === 1));
    assert.equal(h.Log.at(-1)!.ExitCode, 0);
    assert.match(d.docker(["ps", "--filter", "name=cli-hc", "--format", "{{.Status}}"]).stdout, / \(healthy\)\n$/);
    const ev = ok(["events", "--since", "120s", "--until", "0s", "--filter", "container=cli-hc", "--format", "{{.Action}}"]);
    assert.match(ev, /^health_status: unhealthy$/m);
    assert.match(ev, /^health_status: healthy$/m);
    const running = (JSON.parse(ok(["inspect", "-f", "{{json .ExecIDs}}", "cli-hc"])) as string[] | null) ?? [];
    assert.ok(running.length <= 1, `probes are not kept as the container's execs (one may be running): ${running.length} listed`);
  } finally {
    ok(["rm", "-f", "cli-hc"]);
  }
  ok(["run", "-d", "--name", "cli-hc-slow", "--health-cmd", "sleep 5", "--health-timeout", "150ms", "--health-interval", "200ms", "--health-retries", "1", "busybox", "sleep", "100"]);
  try {
    await until("unhealthy by timeout", () => / \(unhealthy\)$/.test(status("cli-hc-slow")));
    const r = health("cli-hc-slow").Log[0]!;
    assert.deepEqual([r.ExitCode, r.Output], [-1, "Health check exceeded timeout (150ms)"]);
  } finally {
    ok(["rm", "-f", "cli-hc-slow"]);
  }
  const ctx = mkdtempSync(join(tmpdir(), "berth-cli-hc-"));
  try {
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD [\"true\"]\n");
    ok(["build", "-q", "-t", "cli-hc-img", ctx]);
    ok(["run", "-d", "--name", "cli-hc-img", "cli-hc-img", "sleep", "100"]);
    ok(["run", "-d", "--name", "cli-hc-none", "--no-healthcheck", "cli-hc-img", "sleep", "100"]);
    await until("the image's check passes", () => / \(healthy\)$/.test(status("cli-hc-img")));
    assert.doesNotMatch(status("cli-hc-none"), /health/);
    assert.equal(ok(["inspect", "-f", "{{json .State.Health}}", "cli-hc-none"]).trim(), "null");
  } finally {
    berth(["rm", "-f", "cli-hc-img", "cli-hc-none"]);
    berth(["rmi", "cli-hc-img"]);
    rmSync(ctx, { recursive: true, force: true });
  }
});

test("-w: a missing working directory is made inside the root (not through a symlink to the host); a relative one is refused", () => {
  assert.equal(ok(["run", "--rm", "-w", "/made/here", "busybox", "sh", "-c", "pwd; stat -c '%U %a' ."]), "/made/here\nroot 755\n");
  const rel = berth(["run", "--rm", "-w", "rel", "busybox", "pwd"]);
  assert.equal(rel.status, 125);
  assert.equal(rel.stderr, "Error response from daemon: the working directory 'rel' is invalid, it needs to be an absolute path\n");
  // An image whose /esc is a symlink to a host path: -w /esc/sub lands under the container's root.
  const host = mkdtempSync(join(tmpdir(), "berth-cli-wd-host-"));
  const ctx = mkdtempSync(join(tmpdir(), "berth-cli-wd-"));
  try {
    writeFileSync(join(ctx, "Dockerfile"), `FROM busybox\nRUN ln -s ${host} /esc\n`);
    ok(["build", "-q", "--network", "none", "-t", "cli-wd-img", ctx]);
    assert.equal(ok(["run", "--rm", "-w", "/esc/sub", "cli-wd-img", "pwd"]), `${host}/sub\n`, "the link resolved inside the container");
    assert.deepEqual(readdirSync(host), [], "nothing made on the host");
  } finally {
    berth(["rmi", "cli-wd-img"]);
    rmSync(host, { recursive: true, force: true });
    rmSync(ctx, { recursive: true, force: true });
  }
});

test("signals berth gets while attached without a TTY go to the container (docker's --sig-proxy)", async () => {
  const child = spawn(berthBin, ["-H", d.host, "run", "--rm", "--name", "cli-sig", "busybox", "sh", "-c", "trap 'echo got INT; exit 3' INT; sleep 100 & wait"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (x: Buffer) => { out += x.toString(); });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  try {
    await until("the container runs", () => ok(["ps", "--filter", "name=cli-sig", "--format", "{{.State}}"]).trim() === "running");
    child.kill("SIGINT");
    assert.equal(await exited, 3, "the container's exit code, not berth's death by SIGINT");
    assert.equal(out, "got INT\n");
    await until("--rm removed it", () => ok(["ps", "-aq", "--filter", "name=cli-sig"]) === "");
  } finally {
    child.kill("SIGKILL");
    berth(["rm", "-f", "cli-sig"]);
  }
});

test("events: a run's lifecycle, filtered and formatted", () => {
  const since = String(Math.floor(Date.now() / 1000) - 1);
  assert.equal(berth(["run", "--rm", "--name", "cli-evt", "busybox", "sh", "-c", "exit 2"]).status, 2);
  const until = String(Math.floor(Date.now() / 1000) + 1);
  const all = ok(["events", "--since", since, "--until", until, "--filter", "container=cli-evt"]);
  assert.match(all, /^\d{4}-\d\d-\d\dT[\d:.]+Z container create [0-9a-f]{64} \(.*name=cli-evt.*\)$/m);
  const dies = ok(["events", "--since", since, "--until", until, "--filter", "event=die", "--filter", "container=cli-evt", "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}"]);
  assert.equal(dies, "die 2\n");
});

test("unknown commands and missing arguments: one line, non-zero", () => {
  const a = berth(["frobnicate"]);
  assert.equal(a.status, 1);
  assert.match(a.stderr, /'frobnicate' is not a berth command/);
  const b = berth(["logs"]);
  assert.equal(b.status, 125);
  assert.match(b.stderr, /"berth logs" requires exactly 1 argument/);
  const c = berth(["-H", "tcp://1.2.3.4:2375", "ps"]);
  assert.notEqual(c.status, 0);
  // `image inspect` and `container inspect` look at one kind only, with docker's message.
  assert.match(berth(["image", "inspect", "cli-nosuch"]).stderr, /^Error: No such image: cli-nosuch\n$/);
  assert.match(berth(["container", "inspect", "cli-nosuch"]).stderr, /^Error: No such container: cli-nosuch\n$/);
  assert.equal(berth(["container", "inspect", "busybox"]).status, 1, "an image is not a container");
  // Containers that are not there: docker's one line and status 1 (wait answered 200 with no body).
  for (const cmd of [["wait"], ["logs"], ["stop"], ["top"], ["port"], ["pause"], ["rename"]]) {
    const r = berth([...cmd, "cli-nosuch", ...(cmd[0] === "rename" ? ["x"] : [])]);
    assert.equal(r.status, 1, `${cmd[0]}: ${r.stderr}`);
    assert.equal(r.stderr, "Error response from daemon: No such container: cli-nosuch\n", cmd[0]);
  }
});
